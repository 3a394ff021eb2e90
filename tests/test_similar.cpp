/*
 * test_similar.cpp: `cohort similar` (exact cosine top-k).
 *
 * Layers: (1) the shared per-element functions; (2) the CPU backend against two
 * references on random inputs over many (N, d, k, Q) shapes:
 *   exact reference  every row scored with the shared cosine_score, sorted by
 *                    (score desc, index asc): the backend must match it bit for bit
 *                    (this is the exactness contract, so no tolerance);
 *   double reference normalization and dots in double: scores within kScoreTol, and
 *                    ids equal wherever neighbouring reference scores differ by more
 *                    than kScoreTol.
 * (3) adversarial cases (duplicates, exact ties, k > N, d = 1, near-ties inside the GEMM
 * error window, zero vectors, exclude-self, filters), the streaming path against the
 * whole path, bad input, the embeddings reader, the CLI, and CUDA vs CPU (skipped
 * without a GPU).
 *
 * Tolerance: a float32 cosine differs from the double one by the float rounding of the
 * normalized elements and of the sum: about (d + 4) * 2^-24 in the worst case, so
 * kScoreTol(d) = 4 (d + 4) 2^-24.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cohort/atomic_file.hpp"
#include "cohort/backend.hpp"
#include "cohort/error.hpp"
#include "cohort/npy.hpp"
#include "cohort/similar.hpp"
#include "cohort/sparse.hpp"
#include "kernels/similar_element.hpp"
#include "tests/test_util.hpp"
#ifdef COHORT_WITH_CUDA
#include "host/cuda/runtime.hpp"
#include "kernels/similar.hpp"
#endif

namespace cohort {
namespace {

double score_tol(std::size_t d) { return 4.0 * static_cast<double>(d + 4) * std::ldexp(1.0, -24); }

std::vector<float> random_matrix(std::size_t rows, std::size_t d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> m(rows * d);
  for (auto& x : m) x = normal(rng);
  // A zero row is an error by default; a Gaussian row is never all zeros in practice,
  // but d = 1 could draw an exact 0.
  for (std::size_t r = 0; r < rows; ++r)
    if (std::all_of(m.begin() + r * d, m.begin() + (r + 1) * d, [](float v) { return v == 0.0f; })) m[r * d] = 1.0f;
  return m;
}

struct Expected {
  std::vector<std::int64_t> indices;
  std::vector<float> scores;
};

// Bitwise reference: the shared functions over every row.
Expected exact_reference(const std::vector<float>& corpus, std::size_t n, std::size_t d, const float* query,
                         std::size_t k, std::int64_t excluded, const std::vector<std::uint8_t>& allowed) {
  std::vector<float> qhat(d), chat(d);
  normalize_row(query, d, qhat.data());
  std::vector<std::pair<float, std::int64_t>> all;
  for (std::size_t j = 0; j < n; ++j) {
    if (static_cast<std::int64_t>(j) == excluded || (!allowed.empty() && !allowed[j])) continue;
    normalize_row(corpus.data() + j * d, d, chat.data());
    all.emplace_back(cosine_score(qhat.data(), chat.data(), d), static_cast<std::int64_t>(j));
  }
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return ranks_before(a.first, a.second, b.first, b.second); });
  Expected e;
  for (std::size_t r = 0; r < std::min(k, all.size()); ++r) {
    e.indices.push_back(all[r].second);
    e.scores.push_back(all[r].first);
  }
  return e;
}

// Double-precision brute force: (score, index) sorted best first.
std::vector<std::pair<double, std::int64_t>> double_reference(const std::vector<float>& corpus, std::size_t n,
                                                               std::size_t d, const float* query,
                                                               std::int64_t excluded) {
  auto norm = [d](const float* x) {
    double s = 0;
    for (std::size_t i = 0; i < d; ++i) s += static_cast<double>(x[i]) * x[i];
    return std::sqrt(s);
  };
  const double qn = norm(query);
  std::vector<std::pair<double, std::int64_t>> all;
  for (std::size_t j = 0; j < n; ++j) {
    if (static_cast<std::int64_t>(j) == excluded) continue;
    const float* c = corpus.data() + j * d;
    double dot = 0;
    for (std::size_t i = 0; i < d; ++i) dot += static_cast<double>(query[i]) * c[i];
    all.emplace_back(dot / (qn * norm(c)), static_cast<std::int64_t>(j));
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  return all;
}

std::string config(std::size_t n, std::size_t d, std::int64_t k, std::size_t q, std::uint64_t seed) {
  std::ostringstream s;
  s << "n=" << n << " d=" << d << " k=" << k << " q=" << q << " seed=" << seed;
  return s.str();
}

void expect_equal_topk(const TopK& a, const TopK& b, const std::string& what) {
  ASSERT_EQ(a.queries, b.queries) << what;
  ASSERT_EQ(a.k, b.k) << what;
  EXPECT_EQ(a.counts, b.counts) << what;
  EXPECT_EQ(a.indices, b.indices) << what;
  for (std::size_t i = 0; i < a.scores.size(); ++i) {
    if (std::isnan(a.scores[i]) && std::isnan(b.scores[i])) continue;
    ASSERT_EQ(a.scores[i], b.scores[i]) << what << " slot " << i;
  }
}

SimilarOptions cpu_options(std::int64_t k) {
  SimilarOptions o;
  o.device = Device::Cpu;
  o.k = k;
  return o;
}

// ---- (1) element functions ----

TEST(SimilarElement, NormalizeAndScore) {
  const float x[3] = {3.0f, 0.0f, 4.0f};
  float xh[3];
  normalize_row(x, 3, xh);
  EXPECT_EQ(xh[0], 0.6f);
  EXPECT_EQ(xh[1], 0.0f);
  EXPECT_EQ(xh[2], 0.8f);
  EXPECT_EQ(row_norm(x, 3), 5.0);
  EXPECT_FLOAT_EQ(cosine_score(xh, xh, 3), 1.0f);
  const float zero[3] = {0, 0, 0};
  float zh[3] = {7, 7, 7};
  normalize_row(zero, 3, zh);
  EXPECT_EQ(zh[0], 0.0f);
  EXPECT_EQ(cosine_score(zh, xh, 3), 0.0f);
  // Normalizing in place gives the same bits.
  float inplace[3] = {3.0f, 0.0f, 4.0f};
  normalize_row(inplace, 3, inplace);
  EXPECT_EQ(std::vector<float>(inplace, inplace + 3), std::vector<float>(xh, xh + 3));
}

TEST(SimilarElement, ClampAndOrder) {
  EXPECT_EQ(clamp_score(1.0000001f), 1.0f);
  EXPECT_EQ(clamp_score(-1.5f), -1.0f);
  EXPECT_EQ(clamp_score(0.25f), 0.25f);
  // A vector with itself can round above 1 before the clamp; never after.
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal;
  for (int t = 0; t < 200; ++t) {
    std::vector<float> v(37), vh(37);
    for (auto& x : v) x = normal(rng);
    normalize_row(v.data(), v.size(), vh.data());
    const float s = cosine_score(vh.data(), vh.data(), v.size());
    EXPECT_LE(s, 1.0f);
    EXPECT_GE(s, 1.0f - 1e-6f);
  }
  EXPECT_TRUE(ranks_before(0.5f, 9, 0.4f, 1));
  EXPECT_TRUE(ranks_before(0.5f, 1, 0.5f, 2));
  EXPECT_FALSE(ranks_before(0.5f, 2, 0.5f, 1));
  EXPECT_FALSE(ranks_before(0.5f, 1, 0.5f, 1));
  EXPECT_GT(candidate_window(64), 2.0f * 64 * std::ldexp(1.0f, -24));
}

// The tensor-core windows hold for rows rounded as the GPU rounds them (TF32 truncated or
// to nearest, BF16 to nearest) and FP32 sums rounded to nearest or toward zero, in two
// orders: random rows, a row with itself, and rows built so that every element loses
// almost the whole rounding bound in the same direction (the worst case).
float keep_mantissa_bits(float x, int kept, bool nearest) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, 4);
  const int dropped = 23 - kept;
  if (nearest) bits += ((std::uint32_t(1) << (dropped - 1)) - 1) + ((bits >> dropped) & 1u);
  bits &= ~((std::uint32_t(1) << dropped) - 1);
  std::memcpy(&x, &bits, 4);
  return x;
}

float float_toward_zero(double v) {
  float f = static_cast<float>(v);
  if (std::fabs(static_cast<double>(f)) > std::fabs(v)) f = std::nextafter(f, 0.0f);
  return f;
}

// Worst fast-score error over the sum orders and roundings; products are exact in FP32.
double worst_fast_error(const std::vector<float>& a, const std::vector<float>& b, int kept, bool nearest) {
  const std::size_t d = a.size();
  const float exact = cosine_score(a.data(), b.data(), d);
  double worst = 0.0;
  for (bool toward_zero : {false, true})
    for (bool reversed : {false, true}) {
      float sum = 0.0f;
      for (std::size_t t = 0; t < d; ++t) {
        const std::size_t i = reversed ? d - 1 - t : t;
        const double product = static_cast<double>(keep_mantissa_bits(a[i], kept, nearest)) *
                               static_cast<double>(keep_mantissa_bits(b[i], kept, nearest));
        sum = toward_zero ? float_toward_zero(static_cast<double>(sum) + product)
                          : static_cast<float>(static_cast<double>(sum) + product);
      }
      worst = std::max(worst, std::fabs(static_cast<double>(sum) - static_cast<double>(exact)));
    }
  return worst;
}

TEST(SimilarElement, TensorCoreWindowsBoundTheRoundedProducts) {
  struct Mode {
    const char* name;
    int kept;
    bool nearest;
    float rounding;
  };
  const Mode modes[] = {{"tf32 truncated", 10, false, kTf32InputRounding},
                        {"tf32 nearest", 10, true, kTf32InputRounding},
                        {"bf16 nearest", 7, true, kBf16InputRounding}};
  for (const Mode& mode : modes) {
    SCOPED_TRACE(mode.name);
    for (std::size_t d : {1, 3, 64, 255, 1024}) {
      const double eps = candidate_window(d, mode.rounding) / 2.0;
      const auto rows = random_matrix(40, d, 900 + d);
      std::vector<float> hat(rows.size());
      for (std::size_t r = 0; r < 40; ++r) normalize_row(rows.data() + r * d, d, hat.data() + r * d);
      for (std::size_t r = 0; r < 40; ++r)
        for (std::size_t s : {r, (r + 1) % 40}) {
          const std::vector<float> a(hat.begin() + r * d, hat.begin() + (r + 1) * d);
          const std::vector<float> b(hat.begin() + s * d, hat.begin() + (s + 1) * d);
          ASSERT_LE(worst_fast_error(a, b, mode.kept, mode.nearest), eps) << "d=" << d << " rows " << r << "," << s;
        }
    }
    // 250 equal elements x = (1 + e - 2^-23) 2^-4 (norm < 1), e the format's largest
    // relative rounding (2^-kept truncated, half that to nearest): each rounds down by
    // almost e, so the fast score of the row with itself is low by almost 2e. The
    // window must hold it, and the test must really reach it.
    const double e = std::ldexp(1.0, mode.nearest ? -mode.kept - 1 : -mode.kept);
    const float x = std::ldexp(static_cast<float>(1.0 + e - std::ldexp(1.0, -23)), -4);
    const std::vector<float> worst_row(250, x);
    const double error = worst_fast_error(worst_row, worst_row, mode.kept, mode.nearest);
    const double exact = cosine_score(worst_row.data(), worst_row.data(), 250);
    EXPECT_LE(error, candidate_window(250, mode.rounding) / 2.0);
    EXPECT_GE(error, 0.95 * 2.0 * e * exact / (1.0 + e));
  }
  // Narrower formats, wider windows; FP32 unchanged.
  EXPECT_EQ(candidate_window(64, 0.0f), candidate_window(64));
  EXPECT_LT(candidate_window(64), candidate_window(64, kTf32InputRounding));
  EXPECT_LT(candidate_window(64, kTf32InputRounding), candidate_window(64, kBf16InputRounding));
}

// ---- (2) CPU vs references over shapes ----

struct Shape {
  std::size_t n, d;
  std::int64_t k;
  std::size_t q;
};

TEST(SimilarCpu, MatchesReferencesOverShapes) {
  const std::vector<Shape> shapes = {
      {1, 1, 1, 1},     {5, 1, 3, 5},      {17, 1, 4, 6},    {3, 7, 10, 3},   {40, 3, 1, 9},    {64, 8, 5, 10},
      {100, 16, 100, 7}, {257, 33, 12, 20}, {500, 64, 50, 33}, {1000, 9, 1, 40}, {1200, 32, 200, 5}, {2100, 17, 7, 70},
      {20000, 8, 16384, 2},
  };
  std::uint64_t seed = 1000;
  for (const auto& s : shapes) {
    ++seed;
    const std::string what = config(s.n, s.d, s.k, s.q, seed);
    SCOPED_TRACE(what);
    const auto corpus = random_matrix(s.n, s.d, seed);
    const auto queries = random_matrix(s.q, s.d, seed + 7777);
    std::vector<std::int64_t> rows(s.q);
    std::mt19937_64 rng(seed);
    for (auto& r : rows) r = static_cast<std::int64_t>(rng() % s.n);
    auto options = cpu_options(s.k);
    const MatrixView cv{corpus.data(), s.n, s.d};
    const TopK by_vectors = similar_vectors(cv, MatrixView{queries.data(), s.q, s.d}, options);
    options.exclude_self = true;
    const TopK by_rows = similar_rows(cv, rows, options);
    const std::size_t width = std::min<std::size_t>(static_cast<std::size_t>(s.k), s.n);
    ASSERT_EQ(by_vectors.k, width);
    for (std::size_t qi = 0; qi < s.q; ++qi) {
      for (int mode = 0; mode < 2; ++mode) {
        const TopK& got = mode == 0 ? by_vectors : by_rows;
        const float* query = mode == 0 ? queries.data() + qi * s.d : corpus.data() + rows[qi] * s.d;
        const std::int64_t excluded = mode == 0 ? -1 : rows[qi];
        const Expected exact = exact_reference(corpus, s.n, s.d, query, width, excluded, {});
        ASSERT_EQ(got.counts[qi], static_cast<std::int64_t>(exact.indices.size())) << "query " << qi << " mode " << mode;
        for (std::size_t r = 0; r < exact.indices.size(); ++r) {
          ASSERT_EQ(got.index(qi, r), exact.indices[r]) << "query " << qi << " rank " << r << " mode " << mode;
          ASSERT_EQ(got.score(qi, r), exact.scores[r]) << "query " << qi << " rank " << r << " mode " << mode;
        }
        for (std::size_t r = exact.indices.size(); r < width; ++r) {
          EXPECT_EQ(got.index(qi, r), -1);
          EXPECT_TRUE(std::isnan(got.score(qi, r)));
        }
        const auto ref = double_reference(corpus, s.n, s.d, query, excluded);
        const double tol = score_tol(s.d);
        for (std::size_t r = 0; r < exact.indices.size(); ++r) {
          EXPECT_NEAR(got.score(qi, r), ref[r].first, tol) << "query " << qi << " rank " << r;
          const bool separated = (r == 0 || ref[r - 1].first - ref[r].first > tol) &&
                                 (r + 1 >= ref.size() || ref[r].first - ref[r + 1].first > tol);
          if (separated) {
            EXPECT_EQ(got.index(qi, r), ref[r].second) << "query " << qi << " rank " << r;
          }
        }
      }
    }
  }
}

TEST(SimilarCpu, StreamingPathEqualsWholePath) {
  const std::size_t n = 700, d = 24, q = 37;
  for (std::int64_t k : {1, 5, 64, 1000}) {
    const std::uint64_t seed = 42 + static_cast<std::uint64_t>(k);
    SCOPED_TRACE(config(n, d, k, q, seed));
    const auto corpus = random_matrix(n, d, seed);
    std::vector<std::int64_t> rows(q);
    for (std::size_t i = 0; i < q; ++i) rows[i] = static_cast<std::int64_t>((i * 97) % n);
    auto whole = cpu_options(k);
    whole.chunk_rows = n;
    whole.query_batch = q;
    whole.exclude_self = true;
    const TopK a = similar_rows(MatrixView{corpus.data(), n, d}, rows, whole);
    for (std::size_t chunk : {1u, 3u, 50u}) {
      for (std::size_t batch : {1u, 2u, 16u}) {
        auto streaming = whole;
        streaming.chunk_rows = chunk;
        streaming.query_batch = batch;
        const TopK b = similar_rows(MatrixView{corpus.data(), n, d}, rows, streaming);
        expect_equal_topk(a, b, "chunk " + std::to_string(chunk) + " batch " + std::to_string(batch));
      }
    }
  }
}

// ---- (3) adversarial cases ----

TEST(SimilarCpu, DuplicatesAndExactTiesGoToTheSmallerIndex) {
  // Rows 0..9 are distinct; rows 10..39 repeat them three times (row r = row r % 10).
  const std::size_t d = 6, base = 10, n = 40;
  auto corpus = random_matrix(base, d, 5);
  for (std::size_t r = base; r < n; ++r)
    corpus.insert(corpus.end(), corpus.begin() + (r % base) * d, corpus.begin() + (r % base + 1) * d);
  std::vector<std::int64_t> rows = {3, 13, 0};
  const TopK top = similar_rows(MatrixView{corpus.data(), n, d}, rows, cpu_options(8));
  for (std::size_t qi = 0; qi < rows.size(); ++qi) {
    // Its four copies score identically and come first, in index order.
    const std::int64_t r = rows[qi] % 10;
    for (std::size_t rank = 0; rank < 4; ++rank) EXPECT_EQ(top.index(qi, rank), r + 10 * static_cast<std::int64_t>(rank));
    for (std::size_t rank = 1; rank < 4; ++rank) EXPECT_EQ(top.score(qi, rank), top.score(qi, 0));
    // Then the next group: four equal scores, indices ascending.
    for (std::size_t rank = 5; rank < 8; ++rank) {
      EXPECT_EQ(top.score(qi, rank), top.score(qi, 4));
      EXPECT_EQ(top.index(qi, rank), top.index(qi, rank - 1) + 10);
    }
  }
  // Every output is ordered: scores descending, equal scores by index ascending.
  for (std::size_t qi = 0; qi < rows.size(); ++qi)
    for (std::size_t rank = 1; rank < top.k; ++rank)
      EXPECT_TRUE(ranks_before(top.score(qi, rank - 1), top.index(qi, rank - 1), top.score(qi, rank), top.index(qi, rank)));
}

TEST(SimilarCpu, ExcludeSelfDropsOnlyTheQueryRow) {
  const std::size_t d = 4, n = 6;
  std::vector<float> corpus = {1, 0, 0, 0,  0, 1, 0, 0,  1, 0, 0, 0,  1, 1, 0, 0,  0, 0, 1, 0,  1, 0, 0, 0};
  auto options = cpu_options(3);
  options.exclude_self = true;
  const TopK top = similar_rows(MatrixView{corpus.data(), n, d}, {2}, options);
  ASSERT_EQ(top.counts[0], 3);
  EXPECT_EQ(top.index(0, 0), 0);  // duplicate of the query stays
  EXPECT_EQ(top.index(0, 1), 5);  // second duplicate
  EXPECT_EQ(top.index(0, 2), 3);
  EXPECT_EQ(top.score(0, 0), 1.0f);
  EXPECT_EQ(top.score(0, 1), 1.0f);
  // k >= N with exclude-self: all other rows, sorted, one slot empty.
  options.k = 100;
  const TopK all = similar_rows(MatrixView{corpus.data(), n, d}, {2}, options);
  EXPECT_EQ(all.k, n);
  EXPECT_EQ(all.counts[0], 5);
  EXPECT_EQ(all.indices, (std::vector<std::int64_t>{0, 5, 3, 1, 4, -1}));
  EXPECT_TRUE(std::isnan(all.scores[5]));
}

TEST(SimilarCpu, NearTiesInsideTheGemmErrorWindowStayExact) {
  // Rows differ from the query by perturbations near float resolution, so GEMM rounding
  // reorders them; the result must still equal the exact reference bit for bit.
  const std::size_t d = 48, n = 3000;
  std::mt19937_64 rng(99);
  std::normal_distribution<float> normal;
  std::vector<float> base(d);
  for (auto& x : base) x = normal(rng);
  std::vector<float> corpus;
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t i = 0; i < d; ++i)
      corpus.push_back(base[i] * (1.0f + static_cast<float>(static_cast<int>(rng() % 9) - 4) * 3e-7f));
  for (std::int64_t k : {1, 10, 300}) {
    SCOPED_TRACE("k=" + std::to_string(k));
    auto options = cpu_options(k);
    options.chunk_rows = 128;
    const TopK top = similar_vectors(MatrixView{corpus.data(), n, d}, MatrixView{base.data(), 1, d}, options);
    const Expected e = exact_reference(corpus, n, d, base.data(), static_cast<std::size_t>(k), -1, {});
    EXPECT_EQ(std::vector<std::int64_t>(top.indices.begin(), top.indices.end()), e.indices);
    EXPECT_EQ(std::vector<float>(top.scores.begin(), top.scores.end()), e.scores);
  }
}

TEST(SimilarCpu, CandidateFilterAndZeroVectors) {
  const std::size_t n = 300, d = 5;
  auto corpus = random_matrix(n, d, 321);
  std::fill(corpus.begin() + 7 * d, corpus.begin() + 8 * d, 0.0f);  // row 7 is all zeros
  auto options = cpu_options(20);
  EXPECT_THROW(similar_rows(MatrixView{corpus.data(), n, d}, {1}, options), InvalidInput);
  options.allow_zero = true;
  options.allowed.assign(n, 0);
  for (std::size_t j = 0; j < n; j += 3) options.allowed[j] = 1;
  std::vector<std::int64_t> rows = {1, 7, 299};
  const TopK top = similar_rows(MatrixView{corpus.data(), n, d}, rows, options);
  for (std::size_t qi = 0; qi < rows.size(); ++qi) {
    const Expected e = exact_reference(corpus, n, d, corpus.data() + rows[qi] * d, 20, -1, options.allowed);
    EXPECT_EQ(std::vector<std::int64_t>(top.indices.begin() + qi * 20, top.indices.begin() + qi * 20 + 20), e.indices);
  }
  // The zero query scores 0 with everything, so ties: the smallest allowed rows.
  for (std::size_t r = 0; r < 20; ++r) {
    EXPECT_EQ(top.index(1, r), static_cast<std::int64_t>(3 * r));
    EXPECT_EQ(top.score(1, r), 0.0f);
  }
}

TEST(SimilarCpu, PowerOfTwoScalingChangesNothing) {
  // Scaling a row by 2^e is exact, so its normalized row and every score stay bit-identical:
  // huge and tiny magnitudes neither overflow nor lose precision in the double norm.
  const std::size_t n = 400, d = 13;
  const auto corpus = random_matrix(n, d, 808);
  auto scaled = corpus;
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t i = 0; i < d; ++i) scaled[r * d + i] = std::ldexp(corpus[r * d + i], r % 2 ? 60 : -60);
  std::vector<std::int64_t> rows = {0, 1, 77, 399};
  auto options = cpu_options(25);
  options.exclude_self = true;
  expect_equal_topk(similar_rows(MatrixView{corpus.data(), n, d}, rows, options),
                    similar_rows(MatrixView{scaled.data(), n, d}, rows, options), "scaled by 2^+-60");
}

TEST(SimilarCpu, EmptyInputsGiveEmptyOutputs) {
  const auto corpus = random_matrix(10, 3, 1);
  const TopK none = similar_rows(MatrixView{corpus.data(), 10, 3}, {}, cpu_options(4));
  EXPECT_EQ(none.queries, 0u);
  EXPECT_TRUE(none.indices.empty());
  const TopK empty_corpus = similar_vectors(MatrixView{nullptr, 0, 3}, MatrixView{corpus.data(), 2, 3}, cpu_options(4));
  EXPECT_EQ(empty_corpus.k, 0u);
  EXPECT_EQ(empty_corpus.counts, (std::vector<std::int64_t>{0, 0}));
}

// ---- bad input ----

TEST(SimilarBadInput, ValuesShapesAndArguments) {
  const std::size_t n = 20, d = 4;
  auto corpus = random_matrix(n, d, 3);
  const std::vector<std::string> ids = [] {
    std::vector<std::string> v;
    for (int i = 0; i < 20; ++i) v.push_back("user" + std::to_string(i));
    return v;
  }();
  auto options = cpu_options(3);
  options.corpus_ids = &ids;
  options.corpus_name = "emb.npy";
  auto message = [&](auto&& call) -> std::string {
    try {
      call();
    } catch (const InvalidInput& e) {
      return e.what();
    }
    return "no exception";
  };
  corpus[13 * d + 2] = std::nanf("");
  std::string what = message([&] { similar_rows(MatrixView{corpus.data(), n, d}, {0}, options); });
  EXPECT_NE(what.find("emb.npy"), std::string::npos) << what;
  EXPECT_NE(what.find("row 13"), std::string::npos) << what;
  EXPECT_NE(what.find("user13"), std::string::npos) << what;
  corpus[13 * d + 2] = 1.0f;
  corpus[4 * d] = INFINITY;
  what = message([&] { similar_rows(MatrixView{corpus.data(), n, d}, {0}, options); });
  EXPECT_NE(what.find("row 4"), std::string::npos) << what;
  corpus[4 * d] = 1.0f;
  std::fill(corpus.begin() + 9 * d, corpus.begin() + 10 * d, 0.0f);
  what = message([&] { similar_rows(MatrixView{corpus.data(), n, d}, {0}, options); });
  EXPECT_NE(what.find("row 9"), std::string::npos) << what;
  EXPECT_NE(what.find("zero"), std::string::npos) << what;
  corpus[9 * d] = 1.0f;
  EXPECT_NO_THROW(similar_rows(MatrixView{corpus.data(), n, d}, {0}, options));

  const auto queries = random_matrix(2, d + 1, 4);
  what = message([&] { similar_vectors(MatrixView{corpus.data(), n, d}, MatrixView{queries.data(), 2, d + 1}, options); });
  EXPECT_NE(what.find("dimensions"), std::string::npos) << what;
  std::vector<float> bad_query(d, 0.0f);
  bad_query[1] = std::nanf("");
  what = message([&] { similar_vectors(MatrixView{corpus.data(), n, d}, MatrixView{bad_query.data(), 1, d}, options); });
  EXPECT_NE(what.find("row 0"), std::string::npos) << what;
  EXPECT_THROW(similar_rows(MatrixView{corpus.data(), n, d}, {20}, options), InvalidInput);
  EXPECT_THROW(similar_rows(MatrixView{corpus.data(), n, d}, {-1}, options), InvalidInput);
  auto zero_k = options;
  zero_k.k = 0;
  EXPECT_THROW(similar_rows(MatrixView{corpus.data(), n, d}, {0}, zero_k), InvalidInput);
  auto self = options;
  self.exclude_self = true;
  EXPECT_THROW(similar_vectors(MatrixView{corpus.data(), n, d}, MatrixView{corpus.data(), 1, d}, self), InvalidInput);
  auto filter = options;
  filter.allowed.assign(n - 1, 1);
  EXPECT_THROW(similar_rows(MatrixView{corpus.data(), n, d}, {0}, filter), InvalidInput);
}

// ---- the embeddings reader ----

TEST(SimilarEmbeddings, NpyFloat16CsvAndIdProblems) {
  testing::TempDir dir;
  // float16 .npy written by hand: 1.0, 2.0, -0.5, 0.25 as halves.
  const std::uint16_t halves[4] = {0x3C00, 0x4000, 0xB800, 0x3400};
  std::string bytes = make_npy_header(DType::F16, {2, 2});
  bytes.append(reinterpret_cast<const char*>(halves), sizeof halves);
  testing::write_file(dir.file("h.npy"), bytes);
  testing::write_file(dir.file("ids.txt"), "a\nb\n");
  const Embeddings e = read_embeddings(dir.file("h.npy"), dir.file("ids.txt"));
  EXPECT_EQ(e.rows, 2u);
  EXPECT_EQ(e.dim, 2u);
  EXPECT_EQ(e.data, (std::vector<float>{1.0f, 2.0f, -0.5f, 0.25f}));
  EXPECT_EQ(e.ids, (std::vector<std::string>{"a", "b"}));
  const Embeddings numbered = read_embeddings(dir.file("h.npy"));
  EXPECT_EQ(numbered.ids, (std::vector<std::string>{"0", "1"}));

  testing::write_file(dir.file("short.txt"), "a\n");
  EXPECT_THROW(read_embeddings(dir.file("h.npy"), dir.file("short.txt")), InvalidInput);
  testing::write_file(dir.file("dup.txt"), "a\na\n");
  try {
    read_embeddings(dir.file("h.npy"), dir.file("dup.txt"));
    FAIL() << "duplicate ids accepted";
  } catch (const InvalidInput& err) {
    EXPECT_NE(std::string(err.what()).find("dup.txt:2"), std::string::npos) << err.what();
  }
  const float nan_data[4] = {1, 2, std::nanf(""), 4};
  write_npy(dir.file("nan.npy"), nan_data, {2, 2});
  EXPECT_THROW(read_embeddings(dir.file("nan.npy")), InvalidInput);
  write_npy(dir.file("flat.npy"), nan_data, {4});
  EXPECT_THROW(read_embeddings(dir.file("flat.npy")), InvalidInput);

  testing::write_file(dir.file("e.csv"), "id,x,y\nu1,1,2\nu2,3,4\n");
  const Embeddings csv = read_embeddings(dir.file("e.csv"));
  EXPECT_EQ(csv.ids, (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(csv.data, (std::vector<float>{1, 2, 3, 4}));
  testing::write_file(dir.file("bad.csv"), "id,x,y\nu1,1,2\nu2,nan,4\n");
  try {
    read_embeddings(dir.file("bad.csv"));
    FAIL() << "NaN accepted";
  } catch (const InvalidInput& err) {
    EXPECT_NE(std::string(err.what()).find("bad.csv:3"), std::string::npos) << err.what();
  }
}


// ---- the CLI ----

struct CliFixture {
  testing::TempDir dir;
  std::size_t n = 60, d = 8;
  std::vector<float> corpus = random_matrix(60, 8, 2024);
  std::vector<std::string> ids;
  CliFixture() {
    for (std::size_t i = 0; i < n; ++i) ids.push_back("user" + std::to_string(i * 7 % 61));
    write_npy(dir.file("e.npy"), corpus.data(), {n, d});
    write_lines(dir.file("ids.txt"), ids);
  }
  std::string base(const std::string& device = "cpu") const {
    return "similar --device " + device + " -q --embeddings " + dir.file("e.npy") + " --ids " + dir.file("ids.txt");
  }
  // CSV rows after the header, split into fields.
  std::vector<std::vector<std::string>> read_csv(const std::string& path) const {
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(testing::read_file(path));
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "query_id,rank,id,score");
    while (std::getline(in, line)) {
      std::vector<std::string> fields;
      std::stringstream ls(line);
      std::string f;
      while (std::getline(ls, f, ',')) fields.push_back(f);
      rows.push_back(fields);
    }
    return rows;
  }
};

TEST(SimilarCli, QueryIdsRoundTripMatchesTheApi) {
  CliFixture f;
  const auto result = testing::run_cli(f.base() + " --query user7,user14 --k 5 --exclude-self --out " + f.dir.file("o.csv"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto rows = f.read_csv(f.dir.file("o.csv"));
  ASSERT_EQ(rows.size(), 10u);
  auto options = cpu_options(5);
  options.exclude_self = true;
  const TopK top = similar_rows(MatrixView{f.corpus.data(), f.n, f.d}, {1, 2}, options);  // user7 = row 1, user14 = row 2
  for (std::size_t q = 0; q < 2; ++q)
    for (std::size_t r = 0; r < 5; ++r) {
      const auto& row = rows[q * 5 + r];
      ASSERT_EQ(row.size(), 4u);
      EXPECT_EQ(row[0], q == 0 ? "user7" : "user14");
      EXPECT_EQ(row[1], std::to_string(r + 1));
      EXPECT_EQ(row[2], f.ids[static_cast<std::size_t>(top.index(q, r))]);
      EXPECT_EQ(std::stof(row[3]), top.score(q, r));  // %.9g round-trips a float
      EXPECT_NE(row[2], row[0]);
    }
}

TEST(SimilarCli, AllToNpyQueryFilesAndFilters) {
  CliFixture f;
  auto result = testing::run_cli(f.base() + " --all --k 100 --out " + f.dir.file("all.npy"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto idx = read_npy<std::int64_t>(f.dir.file("all.ids.npy"));
  const auto sc = read_npy<float>(f.dir.file("all.scores.npy"));
  ASSERT_EQ(idx.shape, (std::vector<std::size_t>{f.n, f.n}));  // k > N: all rows
  std::vector<std::int64_t> every(f.n);
  std::iota(every.begin(), every.end(), 0);
  const TopK top = similar_rows(MatrixView{f.corpus.data(), f.n, f.d}, every, cpu_options(100));
  EXPECT_EQ(idx.data, top.indices);
  EXPECT_EQ(sc.data, top.scores);

  // Query vectors from .npy: row i of the file is query "i".
  write_npy(f.dir.file("q.npy"), f.corpus.data() + 3 * f.d, {2, f.d});
  result = testing::run_cli(f.base() + " --queries " + f.dir.file("q.npy") + " --k 2 --out " + f.dir.file("v.csv"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto rows = f.read_csv(f.dir.file("v.csv"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0][0], "0");
  EXPECT_EQ(rows[0][2], f.ids[3]);
  EXPECT_EQ(rows[2][0], "1");
  EXPECT_EQ(rows[2][2], f.ids[4]);
  // ... and from CSV (header; an id, then the values): the same neighbours, named by its ids.
  {
    std::string csv = "id";
    for (std::size_t j = 0; j < f.d; ++j) csv += ",v" + std::to_string(j);
    for (std::size_t q = 0; q < 2; ++q) {
      csv += "\nquery" + std::to_string(q);
      for (std::size_t j = 0; j < f.d; ++j) {
        char value[32];
        std::snprintf(value, sizeof value, ",%.9g", static_cast<double>(f.corpus[(3 + q) * f.d + j]));
        csv += value;
      }
    }
    testing::write_file(f.dir.file("q.csv"), csv + "\n");
  }
  result = testing::run_cli(f.base() + " --queries " + f.dir.file("q.csv") + " --k 2 --out " + f.dir.file("vc.csv"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto csv_rows = f.read_csv(f.dir.file("vc.csv"));
  ASSERT_EQ(csv_rows.size(), 4u);
  for (std::size_t r = 0; r < 4; ++r) {
    EXPECT_EQ(csv_rows[r][0], "query" + std::to_string(r / 2));
    EXPECT_EQ(csv_rows[r][2], rows[r][2]);
  }

  // Ids file of queries, with an only-ids filter and an exclude-ids list.
  write_lines(f.dir.file("qids.txt"), {f.ids[5], f.ids[9]});
  write_lines(f.dir.file("only.txt"), {f.ids[1], f.ids[2], f.ids[5], f.ids[9], "nobody"});
  write_lines(f.dir.file("not.txt"), {f.ids[5]});
  result = testing::run_cli(f.base() + " --queries " + f.dir.file("qids.txt") + " --k 10 --only-ids " +
                            f.dir.file("only.txt") + " --exclude-ids " + f.dir.file("not.txt") + " --out " +
                            f.dir.file("f.csv"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("warning"), std::string::npos) << result.output;  // "nobody" is unknown
  rows = f.read_csv(f.dir.file("f.csv"));
  ASSERT_EQ(rows.size(), 6u);  // three allowed rows per query
  for (const auto& row : rows) EXPECT_TRUE(row[2] == f.ids[1] || row[2] == f.ids[2] || row[2] == f.ids[9]) << row[2];
}

TEST(SimilarCli, ChampionsOfAnItem) {
  CliFixture f;
  // users = the embeddings' ids in another order; items a, b, c.
  std::vector<std::string> users = {f.ids[10], f.ids[11], f.ids[12], f.ids[13]};
  ensure_directory(f.dir.file("m"));
  write_lines(f.dir.file("m/users.txt"), users);
  write_lines(f.dir.file("m/items.txt"), {"a", "b", "c"});
  Csr m;
  m.rows = 4;
  m.cols = 3;
  // column b: user0 2, user1 5, user2 5, user3 1 -> champions user1, user2 (tie: smaller row), user0
  m.indptr = {0, 1, 3, 4, 6};
  m.indices = {1, 0, 1, 1, 1, 2};
  m.values = {2, 1, 5, 5, 1, 9};
  write_mtx(f.dir.file("m/buy.mtx"), m, true);
  auto result = testing::run_cli(f.base() + " --champions-of b --matrix " + f.dir.file("m") +
                                 " --champions 2 --k 3 --exclude-self --out " + f.dir.file("c.csv"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto rows = f.read_csv(f.dir.file("c.csv"));
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0][0], users[1]);
  EXPECT_EQ(rows[3][0], users[2]);
  auto options = cpu_options(3);
  options.exclude_self = true;
  const TopK top = similar_rows(MatrixView{f.corpus.data(), f.n, f.d}, {11, 12}, options);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(rows[i][2], f.ids[static_cast<std::size_t>(top.index(i / 3, i % 3))]);
  // The default matrix is the first per-event one (a.sum.mtx sorts first but is derived);
  // --champions-event picks another: here user3 leads item b.
  Csr other = m;
  other.values = {2, 1, 5, 5, 50, 9};
  write_mtx(f.dir.file("m/a.sum.mtx"), other, true);
  write_mtx(f.dir.file("m/zz.mtx"), other, true);
  result = testing::run_cli(f.base() + " --champions-of b --matrix " + f.dir.file("m") + " --k 1 --out " +
                            f.dir.file("c1.csv"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(f.read_csv(f.dir.file("c1.csv")).at(0).at(0), users[1]);
  result = testing::run_cli(f.base() + " --champions-of b --matrix " + f.dir.file("m") +
                            " --champions-event zz --k 1 --out " + f.dir.file("c2.csv"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(f.read_csv(f.dir.file("c2.csv")).at(0).at(0), users[3]);
  result = testing::run_cli(f.base() + " --champions-of zzz --matrix " + f.dir.file("m") + " --out " + f.dir.file("x.csv"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("zzz"), std::string::npos) << result.output;
}

TEST(SimilarCli, PrecisionFlagChangesNoResult) {
  CliFixture f;
  const std::string args = " --all --k 5 --out ";
  for (const char* precision : {"fp32", "tf32", "bf16"}) {
    const auto result =
        testing::run_cli(f.base() + " --precision " + precision + args + f.dir.file(std::string(precision) + ".csv"));
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }
  EXPECT_EQ(testing::read_file(f.dir.file("fp32.csv")), testing::read_file(f.dir.file("bf16.csv")));
  EXPECT_EQ(testing::read_file(f.dir.file("fp32.csv")), testing::read_file(f.dir.file("tf32.csv")));
  // The unfused score path (CUDA only; accepted and without effect on the CPU).
  const auto unfused = testing::run_cli(f.base() + " --precision bf16 --cublas-scores" + args + f.dir.file("cublas.csv"));
  ASSERT_EQ(unfused.exit_code, 0) << unfused.output;
  EXPECT_EQ(testing::read_file(f.dir.file("fp32.csv")), testing::read_file(f.dir.file("cublas.csv")));
  const auto bad = testing::run_cli(f.base() + " --precision fp16" + args + f.dir.file("x.csv"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--precision"), std::string::npos) << bad.output;
  EXPECT_FALSE(std::filesystem::exists(f.dir.file("x.csv")));
}

TEST(SimilarCli, BadInputIsOneErrorLine) {
  CliFixture f;
  auto expect_error = [&](const std::string& args, const std::string& needle) {
    const auto result = testing::run_cli(args);
    EXPECT_EQ(result.exit_code, 1) << args << "\n" << result.output;
    EXPECT_EQ(result.output.rfind("error: ", 0), 0u) << result.output;
    EXPECT_NE(result.output.find(needle), std::string::npos) << result.output;
  };
  expect_error(f.base() + " --query nobody --out " + f.dir.file("o.csv"), "nobody");
  expect_error(f.base() + " --query user7 --k 0 --out " + f.dir.file("o.csv"), "k must be");
  expect_error(f.base() + " --k 3 --out " + f.dir.file("o.csv"), "exactly one");
  write_lines(f.dir.file("short.txt"), {"a", "b"});
  expect_error("similar -q --embeddings " + f.dir.file("e.npy") + " --ids " + f.dir.file("short.txt") +
                   " --all --out " + f.dir.file("o.csv"),
               "2 ids");
  write_npy(f.dir.file("q.npy"), f.corpus.data(), {2, 4});
  expect_error(f.base() + " --queries " + f.dir.file("q.npy") + " --out " + f.dir.file("o.csv"), "dimensions");
  expect_error(f.base() + " --queries " + f.dir.file("q.npy") + " --exclude-self --out " + f.dir.file("o.csv"),
               "exclude");
  auto bad = f.corpus;
  bad[5 * f.d + 1] = std::nanf("");
  write_npy(f.dir.file("bad.npy"), bad.data(), {f.n, f.d});
  expect_error("similar -q --embeddings " + f.dir.file("bad.npy") + " --all --out " + f.dir.file("o.csv"), "row 5");
  EXPECT_FALSE(std::filesystem::exists(f.dir.file("o.csv")));  // nothing half-written
}


// ---- CUDA vs CPU: identical indices and scores, bit for bit ----

class SimilarCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_devices().empty()) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
  }
  static void compare(MatrixView corpus, const std::vector<std::int64_t>& rows, SimilarOptions options,
                      const std::string& what) {
    options.device = Device::Cpu;
    const TopK cpu = similar_rows(corpus, rows, options);
    options.device = Device::Cuda;
    const TopK gpu = similar_rows(corpus, rows, options);
    expect_equal_topk(cpu, gpu, what);
  }
};

TEST_F(SimilarCuda, MatchesCpuOverShapes) {
  const std::vector<Shape> shapes = {{1, 1, 1, 1},      {17, 1, 4, 17},     {100, 3, 100, 20}, {1000, 16, 1, 300},
                                     {3000, 64, 10, 500}, {5000, 33, 300, 64}, {20000, 128, 16384, 3},
                                     // partial 32-dimension steps, partial 128 x 128 tiles
                                     {4000, 40, 5, 130}, {2500, 256, 10, 129}};
  std::uint64_t seed = 500;
  for (const auto& sh : shapes) {
    ++seed;
    const std::string what = config(sh.n, sh.d, sh.k, sh.q, seed);
    SCOPED_TRACE(what);
    const auto corpus = random_matrix(sh.n, sh.d, seed);
    std::vector<std::int64_t> rows(sh.q);
    for (std::size_t i = 0; i < sh.q; ++i) rows[i] = static_cast<std::int64_t>((i * 7919) % sh.n);
    auto options = cpu_options(sh.k);
    options.exclude_self = seed % 2 == 0;
    // The tensor-core modes return the same ids and scores as the CPU's FP32 ones, from
    // the fused kernels and from cuBLAS tiles alike.
    for (GemmPrecision precision : {GemmPrecision::Fp32, GemmPrecision::Tf32, GemmPrecision::Bf16})
      for (bool cublas : {false, true}) {
        options.precision = precision;
        options.cublas_scores = cublas;
        compare(MatrixView{corpus.data(), sh.n, sh.d}, rows, options,
                what + " precision " + std::to_string(static_cast<int>(precision)) + (cublas ? " cublas" : " fused"));
      }
  }
}

TEST_F(SimilarCuda, StreamingChunksBudgetsFiltersAndTies) {
  const std::size_t n = 6000, d = 20;
  auto corpus = random_matrix(n, d, 77);
  // Rows 2000..3999 all copy row 5: more exact ties than the first candidate buffers hold.
  for (std::size_t r = 2000; r < 4000; ++r) std::copy(corpus.begin() + 5 * d, corpus.begin() + 6 * d, corpus.begin() + r * d);
  std::vector<std::int64_t> rows;
  for (std::int64_t r : {5, 2500, 17, 4999, 0, 3999}) rows.push_back(r);
  const MatrixView view{corpus.data(), n, d};
  for (std::int64_t k : {1, 7, 2500}) {
    auto options = cpu_options(k);
    compare(view, rows, options, "whole k=" + std::to_string(k));
    options.chunk_rows = 333;  // streamed chunks, ragged last chunk
    options.query_batch = 4;
    compare(view, rows, options, "chunks k=" + std::to_string(k));
    options.chunk_rows = 0;
    options.gpu_memory = std::size_t(512) << 10;  // 512 KiB: two streamed corpus chunks, 1-3 queries a batch
    options.exclude_self = true;
    options.allowed.assign(n, 1);
    for (std::size_t j = 0; j < n; j += 5) options.allowed[j] = 0;
    compare(view, rows, options, "budget+filter k=" + std::to_string(k));
    options.precision = GemmPrecision::Bf16;  // the widest window: most candidates, most retries
    compare(view, rows, options, "budget+filter bf16 k=" + std::to_string(k));
    options.cublas_scores = true;
    compare(view, rows, options, "budget+filter bf16 cublas k=" + std::to_string(k));
  }
}

#ifdef COHORT_WITH_CUDA
// The fused kernel alone, against the exact scores: with thresholds set per query (all
// rows, none, or about a tenth), it must append every row whose exact score clears the
// threshold by the error bound and none that misses it by the bound, never the excluded
// or a disallowed row, each once; and it must flag an overflow rather than write past cap.
TEST_F(SimilarCuda, FusedFilterAppendsExactlyTheRowsAtTheirThreshold) {
  const std::size_t q = 300, m = 1000;  // partial 128 x 128 tiles on both sides
  const std::int64_t first_row = 5000;
  for (const std::size_t d : {1u, 33u, 40u, 64u, 130u}) {
    for (const auto kind : {cuda::FusedScores::Fp32, cuda::FusedScores::Tf32, cuda::FusedScores::Bf16}) {
      const std::string what = "d " + std::to_string(d) + " kind " + std::to_string(static_cast<int>(kind));
      SCOPED_TRACE(what);
      auto queries = random_matrix(q, d, 900 + d), rows = random_matrix(m, d, 901 + d);
      for (std::size_t r = 0; r < 50; ++r)  // duplicates: exact ties at a threshold
        std::copy(rows.begin() + 7 * d, rows.begin() + 8 * d, rows.begin() + (100 + r) * d);
      for (std::size_t i = 0; i < q; ++i) normalize_row(queries.data() + i * d, d, queries.data() + i * d);
      for (std::size_t j = 0; j < m; ++j) normalize_row(rows.data() + j * d, d, rows.data() + j * d);
      std::vector<double> exact(q * m);
      for (std::size_t i = 0; i < q; ++i)
        for (std::size_t j = 0; j < m; ++j) exact[i * m + j] = dot_double(queries.data() + i * d, rows.data() + j * d, d);
      std::vector<float> threshold(q);
      std::vector<std::int64_t> excluded(q);
      std::vector<std::uint8_t> allowed(static_cast<std::size_t>(first_row) + m, 1);
      for (std::size_t j = 0; j < m; j += 7) allowed[static_cast<std::size_t>(first_row) + j] = 0;
      for (std::size_t i = 0; i < q; ++i) {
        std::vector<double> sorted(exact.begin() + static_cast<std::ptrdiff_t>(i * m),
                                   exact.begin() + static_cast<std::ptrdiff_t>((i + 1) * m));
        std::sort(sorted.rbegin(), sorted.rend());
        threshold[i] = i % 3 == 0 ? -3.0f : i % 3 == 1 ? static_cast<float>(sorted[m / 10]) : 2.0f;
        excluded[i] = i % 2 ? first_row + static_cast<std::int64_t>(i % m) : -1;
      }
      const float rounding = kind == cuda::FusedScores::Bf16   ? kBf16InputRounding
                             : kind == cuda::FusedScores::Tf32 ? kTf32InputRounding
                                                               : 0.0f;
      const double eps = candidate_window(d, rounding) / 2;  // |fast - exact| bound

      cuda::Stream stream;
      const cudaStream_t s = stream.get();
      cuda::DeviceBuffer<float> d_queries(q * d, s), d_rows(m * d, s), fast(q * m, s), exact_slot(q * m, s),
          d_threshold(q, s);
      cuda::DeviceBuffer<std::uint16_t> d_queries16(q * d, s), d_rows16(m * d, s);
      cuda::DeviceBuffer<std::int64_t> index(q * m, s), d_excluded(q, s);
      cuda::DeviceBuffer<unsigned> count(q, s);
      cuda::DeviceBuffer<int> overflow(1, s);
      cuda::DeviceBuffer<std::uint8_t> d_allowed(allowed.size(), s);
      d_queries.copy_from_host(queries.data(), q * d, s);
      d_rows.copy_from_host(rows.data(), m * d, s);
      d_excluded.copy_from_host(excluded.data(), q, s);
      d_allowed.copy_from_host(allowed.data(), allowed.size(), s);
      cuda::to_bf16(d_queries.data(), q * d, d_queries16.data(), s);
      cuda::to_bf16(d_rows.data(), m * d, d_rows16.data(), s);
      const bool bf16 = kind == cuda::FusedScores::Bf16;
      const void* qs = bf16 ? static_cast<const void*>(d_queries16.data()) : d_queries.data();
      const void* rs = bf16 ? static_cast<const void*>(d_rows16.data()) : d_rows.data();
      for (const std::size_t cap : {m, std::size_t(10)}) {
        const cuda::CandidateBuffers buffers{fast.data(),  index.data(),       exact_slot.data(), count.data(),
                                             d_threshold.data(), overflow.data(), cap};
        cuda::reset_candidates(buffers, q, s);
        d_threshold.copy_from_host(threshold.data(), q, s);
        cuda::fused_scores_and_filter(kind, qs, rs, q, m, d, first_row, d_excluded.data(), d_allowed.data(), buffers,
                                      s);
        std::vector<unsigned> h_count(q);
        std::vector<std::int64_t> h_index(q * cap);
        std::vector<float> h_fast(q * cap), h_exact(q * cap);
        int h_overflow = 0;
        count.copy_to_host(h_count.data(), q, s);
        index.copy_to_host(h_index.data(), q * cap, s);
        fast.copy_to_host(h_fast.data(), q * cap, s);
        exact_slot.copy_to_host(h_exact.data(), q * cap, s);
        overflow.copy_to_host(&h_overflow, 1, s);
        stream.synchronize();
        bool any_over = false;
        for (std::size_t i = 0; i < q; ++i) {
          std::vector<int> seen(m, 0);
          any_over |= h_count[i] > cap;
          for (std::size_t slot = 0; slot < std::min<std::size_t>(h_count[i], cap); ++slot) {
            const std::int64_t row = h_index[i * cap + slot];
            ASSERT_GE(row, first_row) << "query " << i;
            ASSERT_LT(row, first_row + static_cast<std::int64_t>(m)) << "query " << i;
            const std::size_t j = static_cast<std::size_t>(row - first_row);
            EXPECT_EQ(++seen[j], 1) << "query " << i << " row " << row << " appended twice";
            EXPECT_NE(row, excluded[i]) << "query " << i;
            EXPECT_TRUE(allowed[static_cast<std::size_t>(row)]) << "query " << i << " row " << row;
            EXPECT_NEAR(h_fast[i * cap + slot], exact[i * m + j], eps) << "query " << i << " row " << row;
            EXPECT_GE(h_fast[i * cap + slot], threshold[i]) << "query " << i << " row " << row;
            EXPECT_TRUE(std::isnan(h_exact[i * cap + slot]));
          }
          if (cap < m) continue;  // the overflow pass checks the flag below
          for (std::size_t j = 0; j < m; ++j) {
            const auto row = first_row + static_cast<std::int64_t>(j);
            if (row == excluded[i] || !allowed[static_cast<std::size_t>(row)]) continue;
            if (exact[i * m + j] >= threshold[i] + eps) {
              EXPECT_EQ(seen[j], 1) << "query " << i << " missed row " << row;
            }
            if (exact[i * m + j] < threshold[i] - eps) {
              EXPECT_EQ(seen[j], 0) << "query " << i << " kept row " << row;
            }
          }
        }
        EXPECT_EQ(h_overflow != 0, any_over) << "cap " << cap;
        if (cap < m) {
          EXPECT_TRUE(any_over);  // the -3 thresholds append every allowed row
        }
      }
    }
  }
}
#endif

TEST_F(SimilarCuda, CliGivesTheSameFileAsCpu) {
  CliFixture f;
  const std::string args = " --all --k 7 --exclude-self --out ";
  auto result = testing::run_cli(f.base("cpu") + args + f.dir.file("cpu.csv"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  result = testing::run_cli(f.base("cuda") + args + f.dir.file("gpu.csv"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(testing::read_file(f.dir.file("cpu.csv")), testing::read_file(f.dir.file("gpu.csv")));
}

}  // namespace
}  // namespace cohort
