// test_similar_fused.cpp: kernels/similar_fused.cu's fused_scores_and_filter on the
// emulator against its specification: it appends exactly the rows filter_candidates
// would (fast score >= threshold, not excluded, allowed), each once, with exact = NaN;
// counts go on past cap and then set the overflow flag; fast scores are within
// candidate_window / 2 of the exact dot; the 16-byte load path changes no bit; nothing
// outside the buffers' slots is written.
#include <gtest/gtest.h>
#include <mma.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "emulation/core.hpp"
#include "kernels/similar.hpp"
#include "kernels/similar_element.hpp"

namespace {

using cohort::candidate_window;
using cohort::cuda::CandidateBuffers;
using cohort::cuda::FusedScores;

constexpr std::size_t kGuard = 64;  // elements past every buffer that must stay untouched
constexpr float kUnwrittenFast = -7777.0f, kUnwrittenExact = 12345.0f;
constexpr std::int64_t kUnwrittenIndex = -99;
constexpr unsigned kUnwrittenCount = 0xdeadbeefu;

const char* name(FusedScores kind) {
  return kind == FusedScores::Fp32 ? "FP32" : kind == FusedScores::Tf32 ? "TF32" : "BF16";
}

// Counts failures and keeps the first few descriptions, so a broken kernel fails each
// check once rather than once per element.
class Failures {
 public:
  void add(const std::string& what) {
    if (++count_ <= 5) text_ += "\n  " + what;
  }
  std::size_t count() const { return count_; }
  const std::string& text() const { return text_; }

 private:
  std::size_t count_ = 0;
  std::string text_;
};

struct Problem {
  FusedScores kind;
  std::size_t queries, rows, d;
  std::vector<float> q, r;  // normalized rows
  std::vector<__nv_bfloat16> q16, r16;
  std::size_t element_bytes() const { return kind == FusedScores::Bf16 ? 2 : 4; }
};

Problem make_problem(FusedScores kind, std::size_t queries, std::size_t rows, std::size_t d, unsigned seed) {
  Problem p{kind, queries, rows, d, std::vector<float>(queries * d), std::vector<float>(rows * d), {}, {}};
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (auto& v : p.q) v = uniform(generator);
  for (auto& v : p.r) v = uniform(generator);
  for (std::size_t j = 0; j < rows; ++j)  // equal scores within and across tiles
    if (j % 9 == 4 || j % 128 == 77)
      std::copy_n(p.r.data() + (j / 3) * d, d, p.r.data() + j * d);
  if (queries > 2 && rows > 3)
    std::copy_n(p.r.data() + 3 * d, d, p.q.data() + 2 * d);  // a query equal to a row
  for (std::size_t i = 0; i < queries; ++i) cohort::normalize_row(p.q.data() + i * d, d, p.q.data() + i * d);
  for (std::size_t j = 0; j < rows; ++j) cohort::normalize_row(p.r.data() + j * d, d, p.r.data() + j * d);
  for (float v : p.q) p.q16.emplace_back(v);
  for (float v : p.r) p.r16.emplace_back(v);
  return p;
}

// A copy of values at `offset` elements past a 64-byte boundary.
template <typename T>
const void* place(const std::vector<T>& values, std::vector<unsigned char>& storage, std::size_t offset) {
  storage.assign(values.size() * sizeof(T) + 256, 0xcd);
  const auto base = (reinterpret_cast<std::uintptr_t>(storage.data()) + 63) & ~std::uintptr_t{63};
  T* at = reinterpret_cast<T*>(base) + offset;
  std::memcpy(at, values.data(), values.size() * sizeof(T));
  return at;
}

struct Filter {
  std::int64_t first_row = 0;
  std::vector<float> thresholds;
  std::vector<std::int64_t> excluded;  // empty: none
  std::vector<std::uint8_t> allowed;   // empty: all
  std::size_t cap = 0;
  std::vector<unsigned> counts;                  // before the call (earlier tiles' appends)
  std::size_t query_offset = 0, row_offset = 0;  // misalignment of the bases, in elements
};

struct Appended {
  std::vector<unsigned> counts;
  std::vector<float> fast, exact;
  std::vector<std::int64_t> index;
  int overflow = 0;
  bool vector_loads = false;
};

Appended run(const Problem& p, const Filter& f, Failures& failures) {
  std::vector<unsigned char> query_storage, row_storage;
  const bool bf16 = p.kind == FusedScores::Bf16;
  const void* queries = bf16 ? place(p.q16, query_storage, f.query_offset) : place(p.q, query_storage, f.query_offset);
  const void* rows = bf16 ? place(p.r16, row_storage, f.row_offset) : place(p.r, row_storage, f.row_offset);
  const std::size_t slots = p.queries * f.cap;
  Appended out;
  out.fast.assign(slots + kGuard, kUnwrittenFast);
  out.exact.assign(slots + kGuard, kUnwrittenExact);
  out.index.assign(slots + kGuard, kUnwrittenIndex);
  out.counts = f.counts;
  out.counts.resize(p.queries + kGuard, kUnwrittenCount);
  std::vector<float> thresholds = f.thresholds;
  thresholds.resize(p.queries + kGuard, NAN);
  std::vector<int> overflow(1 + kGuard, 0);
  const CandidateBuffers buffers{out.fast.data(),
                                 out.index.data(),
                                 out.exact.data(),
                                 out.counts.data(),
                                 thresholds.data(),
                                 overflow.data(),
                                 f.cap};
  cohort::emulation::stats() = {};
  cohort::cuda::fused_scores_and_filter(p.kind, queries, rows, p.queries, p.rows, p.d, f.first_row,
                                        f.excluded.empty() ? nullptr : f.excluded.data(),
                                        f.allowed.empty() ? nullptr : f.allowed.data(), buffers, nullptr);
  out.vector_loads = cohort::emulation::stats().make_uint4_calls > 0;
  EXPECT_EQ(cohort::emulation::stats().unrounded_tf32_inputs, 0) << "TF32 inputs not rounded by __float_to_tf32";
  out.overflow = overflow[0];
  for (std::size_t i = 0; i < kGuard; ++i)
    if (out.counts[p.queries + i] != kUnwrittenCount || out.fast[slots + i] != kUnwrittenFast ||
        out.index[slots + i] != kUnwrittenIndex || out.exact[slots + i] != kUnwrittenExact || overflow[1 + i] != 0)
      failures.add("written past the buffers at +" + std::to_string(i));
  for (std::size_t q = 0; q < p.queries; ++q)
    if (std::memcmp(&thresholds[q], &f.thresholds[q], sizeof(float)) != 0)
      failures.add("threshold " + std::to_string(q) + " changed");
  return out;
}

// Threshold -3: every pair passes. Checks the appends and the accuracy of the fast
// scores; returns them as a queries x rows matrix.
std::vector<float> check_all_pass(const Problem& p, Failures& failures) {
  Filter f;
  f.thresholds.assign(p.queries, -3.0f);
  f.cap = p.rows;
  f.counts.assign(p.queries, 0);
  const Appended out = run(p, f, failures);
  const bool vectors_possible = p.kind != FusedScores::Fp32 && p.d * p.element_bytes() % 16 == 0;
  if (out.vector_loads != vectors_possible)
    failures.add("aligned bases: 16-byte path taken = " + std::to_string(out.vector_loads));
  if (out.overflow != 0) failures.add("overflow flag set with cap = rows");
  const float rounding = p.kind == FusedScores::Fp32   ? 0.0f
                         : p.kind == FusedScores::Tf32 ? cohort::kTf32InputRounding
                                                       : cohort::kBf16InputRounding;
  const double bound = candidate_window(p.d, rounding) / 2;
  std::vector<float> fast(p.queries * p.rows, NAN);
  for (std::size_t q = 0; q < p.queries; ++q) {
    if (out.counts[q] != p.rows)
      failures.add("query " + std::to_string(q) + ": count " + std::to_string(out.counts[q]));
    std::vector<int> seen(p.rows, 0);
    for (std::size_t s = 0; s < std::min<std::size_t>(out.counts[q], p.rows); ++s) {
      const std::int64_t j = out.index[q * p.rows + s];
      if (j < 0 || j >= static_cast<std::int64_t>(p.rows) || seen[static_cast<std::size_t>(j)]++) {
        failures.add("query " + std::to_string(q) + ": bad or repeated row " + std::to_string(j));
        continue;
      }
      if (!std::isnan(out.exact[q * p.rows + s])) failures.add("exact score not NaN");
      fast[q * p.rows + static_cast<std::size_t>(j)] = out.fast[q * p.rows + s];
    }
    for (std::size_t j = 0; j < p.rows; ++j) {
      const double exact = cohort::dot_double(p.q.data() + q * p.d, p.r.data() + j * p.d, p.d);
      if (!(std::fabs(fast[q * p.rows + j] - exact) <= bound))
        failures.add("(" + std::to_string(q) + ", " + std::to_string(j) + "): fast " +
                     std::to_string(fast[q * p.rows + j]) + ", exact " + std::to_string(exact) + ", bound " +
                     std::to_string(bound));
    }
  }
  return fast;
}

// Every-pair runs with other base alignments give the same bits: one element off (the
// scalar path) and 16 bytes off (the 16-byte path where the rows allow it).
void check_alignment(const Problem& p, const std::vector<float>& fast, Failures& failures) {
  for (const std::size_t offset : {std::size_t{1}, 16 / p.element_bytes()}) {
    Filter f;
    f.thresholds.assign(p.queries, -3.0f);
    f.cap = p.rows;
    f.counts.assign(p.queries, 0);
    f.query_offset = f.row_offset = offset;
    const Appended out = run(p, f, failures);
    const bool vectors_possible =
        p.kind != FusedScores::Fp32 && p.d * p.element_bytes() % 16 == 0 && offset * p.element_bytes() % 16 == 0;
    if (out.vector_loads != vectors_possible)
      failures.add("offset " + std::to_string(offset) + ": 16-byte path mismatch");
    for (std::size_t q = 0; q < p.queries; ++q)
      for (std::size_t s = 0; s < std::min<std::size_t>(out.counts[q], p.rows); ++s) {
        const std::int64_t j = out.index[q * p.rows + s];
        if (j < 0 || j >= static_cast<std::int64_t>(p.rows) ||
            std::memcmp(&out.fast[q * p.rows + s], &fast[q * p.rows + static_cast<std::size_t>(j)], sizeof(float)) != 0)
          failures.add("offset " + std::to_string(offset) + ", query " + std::to_string(q) + ": row " +
                       std::to_string(j) + " differs from the aligned run");
      }
  }
}

// Thresholds at, just above and between scores (ties included), excluded rows, an
// allowed mask, earlier appends, and a cap that overflows.
void check_filter(const Problem& p, const std::vector<float>& fast, std::mt19937& generator, Failures& failures) {
  const std::size_t rows = p.rows;
  Filter f;
  f.first_row = 4099;
  f.thresholds.resize(p.queries);
  for (std::size_t q = 0; q < p.queries; ++q) {
    std::vector<float> sorted(fast.data() + q * rows, fast.data() + (q + 1) * rows);
    std::sort(sorted.rbegin(), sorted.rend());
    const std::size_t kth = std::min<std::size_t>(rows - 1, 1 + (q * 5) % 37);
    const float options[6] = {
        -3.0f,           2.0f, sorted[kth], fast[q * rows + (rows > 4 ? 4 : 0)], std::nextafter(sorted[kth], 3.0f),
        sorted[rows / 2]};
    f.thresholds[q] = options[q % 6];
  }
  f.excluded.resize(p.queries);
  for (std::size_t q = 0; q < p.queries; ++q)
    f.excluded[q] = q % 3 == 0   ? -1
                    : q % 3 == 1 ? f.first_row + static_cast<std::int64_t>((q * 7 + 4) % rows)
                                 : f.first_row + static_cast<std::int64_t>(rows) + 3;
  f.allowed.resize(static_cast<std::size_t>(f.first_row) + rows + 16);
  for (auto& a : f.allowed) a = generator() % 4 != 0;
  for (const std::size_t cap : {rows + 5, std::size_t{3}}) {
    f.cap = cap;
    f.counts.resize(p.queries);
    for (std::size_t q = 0; q < p.queries; ++q) f.counts[q] = static_cast<unsigned>(cap > 3 ? q % 3 : q % 2);
    f.row_offset = cap == 3 ? 1 : 0;  // the overflowing run also takes the scalar path
    const Appended out = run(p, f, failures);
    const std::string at = "cap " + std::to_string(cap) + ", query ";
    bool over = false;
    for (std::size_t q = 0; q < p.queries; ++q) {
      std::vector<char> wanted(rows);
      std::size_t count = 0;
      for (std::size_t j = 0; j < rows; ++j) {
        const std::int64_t row = f.first_row + static_cast<std::int64_t>(j);
        wanted[j] =
            fast[q * rows + j] >= f.thresholds[q] && row != f.excluded[q] && f.allowed[static_cast<std::size_t>(row)];
        count += static_cast<std::size_t>(wanted[j]);
      }
      if (out.counts[q] != f.counts[q] + count)
        failures.add(at + std::to_string(q) + ": count " + std::to_string(out.counts[q]) + ", want " +
                     std::to_string(f.counts[q] + count));
      over |= out.counts[q] > cap;
      std::vector<int> seen(rows, 0);
      const std::size_t end = std::min<std::size_t>(out.counts[q], cap);
      for (std::size_t s = 0; s < cap; ++s) {
        const std::size_t slot = q * cap + s;
        if (s < f.counts[q] || s >= end) {
          if (out.fast[slot] != kUnwrittenFast || out.index[slot] != kUnwrittenIndex ||
              out.exact[slot] != kUnwrittenExact)
            failures.add(at + std::to_string(q) + ": slot " + std::to_string(s) + " written");
          continue;
        }
        const std::int64_t j = out.index[slot] - f.first_row;
        if (j < 0 || j >= static_cast<std::int64_t>(rows)) {
          failures.add(at + std::to_string(q) + ": bad index " + std::to_string(out.index[slot]));
          continue;
        }
        const auto row = static_cast<std::size_t>(j);
        if (!wanted[row])
          failures.add(at + std::to_string(q) + ": row " + std::to_string(out.index[slot]) + " appended");
        if (seen[row]++) failures.add(at + std::to_string(q) + ": row " + std::to_string(out.index[slot]) + " twice");
        if (std::memcmp(&out.fast[slot], &fast[q * rows + row], sizeof(float)) != 0)
          failures.add("fast score differs between runs");
        if (!std::isnan(out.exact[slot])) failures.add("exact score not NaN");
      }
    }
    if ((out.overflow != 0) != over)
      failures.add("cap " + std::to_string(cap) + ": overflow flag " + std::to_string(out.overflow));
  }
}

void check_specification(FusedScores kind, std::size_t queries, std::size_t rows, std::size_t d) {
  const auto seed = static_cast<unsigned>(queries * 1000003 + rows * 1009 + d * 7 + static_cast<unsigned>(kind));
  SCOPED_TRACE(std::string(name(kind)) + ": queries " + std::to_string(queries) + ", rows " + std::to_string(rows) +
               ", d " + std::to_string(d) + ", seed " + std::to_string(seed));
  const Problem p = make_problem(kind, queries, rows, d, seed);
  std::mt19937 generator(seed + 1);
  Failures failures;
  const std::vector<float> fast = check_all_pass(p, failures);
  check_alignment(p, fast, failures);
  check_filter(p, fast, generator, failures);
  EXPECT_EQ(failures.count(), 0u) << failures.text();
}

class SimilarFusedEmulation : public ::testing::TestWithParam<std::tuple<FusedScores, std::size_t>> {};

TEST_P(SimilarFusedEmulation, MeetsTheSpecification) {
  const auto [kind, d] = GetParam();
  for (const auto& [queries, rows] :
       std::vector<std::pair<std::size_t, std::size_t>>{{1, 1}, {127, 129}, {128, 128}, {129, 127}, {129, 257}})
    check_specification(kind, queries, rows, d);
}

// The least accurate summation order, fragments in plain order, and blocks, warps and
// lanes run last to first: still the specification.
TEST_P(SimilarFusedEmulation, MeetsTheSpecificationInAnyOrder) {
  struct Restore {  // the defaults again, whatever happens
    ~Restore() {
      cohort::emulation::wmma_options() = {};
      cohort::emulation::options() = {};
    }
  } restore;
  const auto [kind, d] = GetParam();
  cohort::emulation::wmma_options().truncating_sums = true;
  cohort::emulation::wmma_options().layout_multiplier = 1;
  cohort::emulation::options().reverse_order = true;
  check_specification(kind, 129, 257, d);
}

INSTANTIATE_TEST_SUITE_P(Kinds, SimilarFusedEmulation,
                         ::testing::Combine(::testing::Values(FusedScores::Fp32, FusedScores::Tf32, FusedScores::Bf16),
                                            ::testing::Values(std::size_t{1}, std::size_t{31}, std::size_t{32},
                                                              std::size_t{33}, std::size_t{40}, std::size_t{130})),
                         [](const auto& test) {
                           return std::string(name(std::get<0>(test.param))) + "_d" +
                                  std::to_string(std::get<1>(test.param));
                         });

}  // namespace
