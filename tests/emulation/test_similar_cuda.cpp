// test_similar_cuda.cpp: host/cuda/similar_cuda.cpp (the GPU top-k's host orchestration:
// batch, chunk and tile planning, the opening tile, prune triggers, the overflow retry
// with doubled slots, the gather and the host finish) on the emulator, against the CPU
// backend: the same indices, bit-identical scores and the same counts, for every
// precision, fused or cuBLAS scores (cublas_v2.h's host GEMMs), exclude_self, an allowed
// mask, forced streaming, a tiny memory budget and exact ties past the first buffers.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cohort/error.hpp"
#include "cohort/progress.hpp"
#include "host/cpu/similar_cpu.hpp"
#include "host/cuda/similar_cuda.hpp"

namespace {

using cohort::GemmPrecision;
using cohort::TopK;
using cohort::detail::SimilarProblem;

struct Data {
  std::vector<float> corpus, queries;
  std::vector<std::int64_t> rows;  // query rows, for exclude_self
  std::vector<std::uint8_t> allowed;
};

// Random rows; queries both as corpus rows (every third row repeated, so exclusion
// matters) and as vectors; an allowed mask keeping about 70% of rows.
Data make_data(std::size_t n, std::size_t d, std::size_t q, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Data data;
  data.corpus.resize(n * d);
  for (float& v : data.corpus) v = normal(rng);
  data.queries.resize(q * d);
  for (float& v : data.queries) v = normal(rng);
  std::uniform_int_distribution<std::int64_t> row(0, static_cast<std::int64_t>(n) - 1);
  for (std::size_t i = 0; i < q; ++i) data.rows.push_back(i % 3 == 0 ? row(rng) : static_cast<std::int64_t>(i % n));
  std::bernoulli_distribution keep(0.7);
  for (std::size_t i = 0; i < n; ++i) data.allowed.push_back(keep(rng) ? 1 : 0);
  return data;
}

struct Config {
  bool by_row = false, exclude_self = false, mask = false;
  std::size_t k = 1, chunk_rows = 0, query_batch = 0, gpu_memory = 0;
};

SimilarProblem make_problem(const Data& data, std::size_t n, std::size_t d, const Config& setup) {
  SimilarProblem p;
  p.corpus = {data.corpus.data(), n, d};
  p.query_count = data.rows.size();
  if (setup.by_row || setup.exclude_self)
    p.query_rows = data.rows.data();
  else
    p.queries = {data.queries.data(), data.rows.size(), d};
  if (setup.exclude_self) p.excluded = data.rows.data();
  if (setup.mask) p.allowed = data.allowed.data();
  p.k = std::min(setup.k, n);
  p.chunk_rows = setup.chunk_rows;
  p.query_batch = setup.query_batch;
  p.gpu_memory = setup.gpu_memory;
  return p;
}

std::uint32_t bits(float value) {
  std::uint32_t u;
  std::memcpy(&u, &value, sizeof u);
  return u;
}

const char* name(GemmPrecision precision) {
  return precision == GemmPrecision::Fp32 ? "fp32" : precision == GemmPrecision::Tf32 ? "tf32" : "bf16";
}

// The CUDA backend's result must be the CPU backend's, bit for bit.
void expect_same(const SimilarProblem& p, const std::string& label) {
  SCOPED_TRACE(label + " precision " + name(p.precision) + (p.cublas_scores ? " cublas" : " fused"));
  const TopK expected = cohort::detail::similar_cpu(p);
  const TopK got = cohort::cuda::similar_cuda(p);
  ASSERT_EQ(got.queries, expected.queries);
  ASSERT_EQ(got.k, expected.k);
  ASSERT_EQ(got.counts, expected.counts);
  ASSERT_EQ(got.indices.size(), expected.indices.size());
  ASSERT_EQ(got.scores.size(), expected.scores.size());
  for (std::size_t i = 0; i < got.indices.size(); ++i) {
    ASSERT_EQ(got.indices[i], expected.indices[i]) << "query " << i / p.k << " rank " << i % p.k;
    ASSERT_EQ(bits(got.scores[i]), bits(expected.scores[i]))
        << "query " << i / p.k << " rank " << i % p.k << ": " << got.scores[i] << " vs " << expected.scores[i];
  }
}

// Every precision, fused and cuBLAS scores.
void expect_same_everywhere(SimilarProblem p, const std::string& label) {
  for (const GemmPrecision precision : {GemmPrecision::Fp32, GemmPrecision::Tf32, GemmPrecision::Bf16})
    for (const bool cublas : {false, true}) {
      p.precision = precision;
      p.cublas_scores = cublas;
      expect_same(p, label);
    }
}

struct Shape {
  std::size_t n, d, k, q;
};

std::string describe(const Shape& s, std::uint32_t seed) {
  return "n " + std::to_string(s.n) + " d " + std::to_string(s.d) + " k " + std::to_string(s.k) + " q " +
         std::to_string(s.q) + " seed " + std::to_string(seed);
}

// Runs similar_cuda with verbose logging and returns what it logged.
std::string logged_run(const SimilarProblem& p, TopK& out) {
  cohort::set_verbosity(cohort::Verbosity::Verbose);
  testing::internal::CaptureStderr();
  try {
    out = cohort::cuda::similar_cuda(p);
  } catch (...) {
    testing::internal::GetCapturedStderr();
    cohort::set_verbosity(cohort::Verbosity::Normal);
    throw;
  }
  const std::string log = testing::internal::GetCapturedStderr();
  cohort::set_verbosity(cohort::Verbosity::Normal);
  return log;
}

// Each shape with and without exclude_self, in every precision and score path.
void expect_same_shapes(const std::vector<Shape>& shapes, std::uint32_t seed) {
  for (const Shape& s : shapes) {
    ++seed;
    const Data data = make_data(s.n, s.d, s.q, seed);
    for (const bool exclude : {false, true}) {
      Config setup;
      setup.k = s.k;
      setup.exclude_self = exclude;
      expect_same_everywhere(make_problem(data, s.n, s.d, setup),
                             describe(s, seed) + (exclude ? " exclude_self" : ""));
    }
  }
}

TEST(EmulatedSimilarCuda, SmallShapesEveryPrecisionBothScorePaths) {
  expect_same_shapes({{1, 1, 1, 1}, {17, 1, 4, 17}, {100, 3, 100, 20}, {1000, 16, 1, 300}}, 101);
}

TEST(EmulatedSimilarCuda, LargeShapesEveryPrecisionBothScorePaths) {
  expect_same_shapes({{3000, 64, 10, 500}, {5000, 33, 300, 64}, {2500, 40, 7, 129}}, 111);
}

TEST(EmulatedSimilarCuda, AllowedMask) {
  const Shape s{2500, 40, 7, 129};
  const std::uint32_t seed = 201;
  const Data data = make_data(s.n, s.d, s.q, seed);
  for (const bool exclude : {false, true}) {
    Config setup;
    setup.k = s.k;
    setup.mask = true;
    setup.exclude_self = exclude;
    expect_same_everywhere(make_problem(data, s.n, s.d, setup),
                           describe(s, seed) + " allowed mask" + (exclude ? " exclude_self" : ""));
  }
}

// chunk_rows = 333 and query_batch = 4: every batch streams the corpus chunk by chunk.
TEST(EmulatedSimilarCuda, ForcedStreaming) {
  for (const Shape& s : {Shape{1000, 16, 5, 10}, Shape{2000, 24, 150, 9}}) {
    const std::uint32_t seed = 301 + static_cast<std::uint32_t>(s.k);
    const Data data = make_data(s.n, s.d, s.q, seed);
    Config setup;
    setup.k = s.k;
    setup.chunk_rows = 333;
    setup.query_batch = 4;
    setup.mask = s.k == 5;
    setup.exclude_self = true;
    expect_same_everywhere(make_problem(data, s.n, s.d, setup), describe(s, seed) + " chunk_rows 333 query_batch 4");
  }
}

// 512 KiB: the corpus no longer fits in half the budget and a batch holds a few queries.
TEST(EmulatedSimilarCuda, SmallMemoryBudget) {
  const Shape s{3000, 64, 10, 40};
  const std::uint32_t seed = 401;
  const Data data = make_data(s.n, s.d, s.q, seed);
  Config setup;
  setup.k = s.k;
  setup.gpu_memory = 512 << 10;
  setup.exclude_self = true;
  expect_same_everywhere(make_problem(data, s.n, s.d, setup), describe(s, seed) + " gpu_memory 512 KiB");
}

TEST(EmulatedSimilarCuda, TooSmallBudgetThrows) {
  const Data data = make_data(100, 8, 2, 501);
  Config setup;
  setup.gpu_memory = 1 << 10;
  EXPECT_THROW(cohort::cuda::similar_cuda(make_problem(data, 100, 8, setup)), cohort::Error);
}

// Rows 2000..3999 are copies of row 5: 2001 exact ties, more than the first candidate
// buffers hold with 512-row chunks (cap = 512 + 2k + 1024), so the batch is redone with
// doubled slots, for k below the ties; k = 2500 goes past them.
TEST(EmulatedSimilarCuda, ExactTiesOverflowAndRetry) {
  const std::size_t n = 6000, d = 20;
  const std::uint32_t seed = 601;
  Data data = make_data(n, d, 4, seed);
  for (std::size_t r = 2000; r < 4000; ++r) std::copy_n(data.corpus.begin() + 5 * d, d, data.corpus.begin() + r * d);
  data.rows = {5, 2500, 17, 3999};
  for (const std::size_t k : {1, 7, 2500}) {
    Config setup;
    setup.k = k;
    setup.by_row = true;
    setup.chunk_rows = 512;
    SimilarProblem p = make_problem(data, n, d, setup);
    for (const GemmPrecision precision : {GemmPrecision::Fp32, GemmPrecision::Tf32, GemmPrecision::Bf16})
      for (const bool cublas : {false, true}) {
        p.precision = precision;
        p.cublas_scores = cublas;
        const std::string label = "ties k " + std::to_string(k) + " seed " + std::to_string(seed) + " " +
                                  name(precision) + (cublas ? " cublas" : " fused");
        SCOPED_TRACE(label);
        TopK got;
        const std::string log = logged_run(p, got);
        if (k < 2001) {
          EXPECT_NE(log.find("retrying with"), std::string::npos) << "no retry: " << log;
        }
        const TopK expected = cohort::detail::similar_cpu(p);
        ASSERT_EQ(got.counts, expected.counts);
        ASSERT_EQ(got.indices, expected.indices);
        for (std::size_t i = 0; i < got.scores.size(); ++i) ASSERT_EQ(bits(got.scores[i]), bits(expected.scores[i])) << i;
        // Query row 5 ties with itself and its 2000 copies: the top min(k, 2001) are those rows.
        EXPECT_EQ(got.index(0, 0), 5);
        if (k >= 7) {
          EXPECT_EQ(got.index(0, 6), 2005);
        }
      }
  }
}

// The same ties under a budget that holds the first candidate buffers but not twice as
// many: 70000 bytes give 437-row chunks (cap 1463 < 2001 ties) and one query per batch
// (34960 + 23512 bytes); doubled slots would need 81880. The retry must refuse, naming ties.
TEST(EmulatedSimilarCuda, TiesPastTheBudgetThrow) {
  const std::size_t n = 6000, d = 20;
  const std::uint32_t seed = 701;
  Data data = make_data(n, d, 1, seed);
  for (std::size_t r = 2000; r < 4000; ++r) std::copy_n(data.corpus.begin() + 5 * d, d, data.corpus.begin() + r * d);
  data.rows = {5};
  Config setup;
  setup.k = 1;
  setup.by_row = true;
  setup.gpu_memory = 70000;
  const SimilarProblem p = make_problem(data, n, d, setup);
  try {
    cohort::cuda::similar_cuda(p);
    ADD_FAILURE() << "no error, seed " << seed;
  } catch (const cohort::Error& error) {
    EXPECT_NE(std::string(error.what()).find("tie"), std::string::npos) << error.what();
  }
}

}  // namespace
