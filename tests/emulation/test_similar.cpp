// test_similar.cpp: kernels/similar.cu's launchers on the emulator against host
// references: normalize_rows and rescore_candidates give normalize_row's and
// cosine_score's bits; to_bf16 rounds to nearest even (an independent reference);
// filter_candidates appends what the fused filter's specification says; prune_candidates
// keeps exactly {fast >= max(old threshold, k-th best - window)} of the first min(count,
// cap) slots, with the k-th best taken from a sorted copy (ties, negatives, -0 < +0), or
// changes nothing when count <= trigger or <= k; gather_candidates concatenates. Blocks,
// warps and lanes also run last to first, where the order decides which thread writes
// first: the prune's in-place compaction, written back to front, would expose a missing
// barrier that the front-to-back order hides (writes trail reads there).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "emulation/core.hpp"
#include "kernels/similar.hpp"
#include "kernels/similar_element.hpp"

namespace {

using cohort::cuda::CandidateBuffers;

constexpr std::size_t kGuard = 64;  // slots past every buffer that must stay untouched
constexpr float kPoison = -7777.0f;
constexpr std::int64_t kPoisonIndex = -99;
constexpr unsigned kPoisonCount = 0xdeadbeefu;

std::uint32_t bits(float value) {
  std::uint32_t u;
  std::memcpy(&u, &value, sizeof u);
  return u;
}

float from_bits(std::uint32_t u) {
  float value;
  std::memcpy(&value, &u, sizeof value);
  return value;
}

// Runs body in the emulator's default order, then last to first.
template <typename Body>
void in_both_orders(Body body) {
  struct Restore {
    ~Restore() { cohort::emulation::options() = {}; }
  } restore;
  for (const bool reverse : {false, true}) {
    SCOPED_TRACE(reverse ? "blocks, warps and lanes last to first" : "default order");
    cohort::emulation::options().reverse_order = reverse;
    body();
  }
}

// Per-query candidate slots (plus kGuard poisoned ones past each array).
struct Candidates {
  std::size_t queries, cap;
  std::vector<float> fast, exact, threshold;
  std::vector<std::int64_t> index;
  std::vector<unsigned> count;
  std::vector<int> overflow;

  Candidates(std::size_t queries_, std::size_t cap_)
      : queries(queries_),
        cap(cap_),
        fast(queries_ * cap_ + kGuard, kPoison),
        exact(queries_ * cap_ + kGuard, kPoison),
        threshold(queries_ + kGuard, kPoison),
        index(queries_ * cap_ + kGuard, kPoisonIndex),
        count(queries_ + kGuard, kPoisonCount),
        overflow(1 + kGuard, 0) {}
  CandidateBuffers view() {
    return {fast.data(), index.data(), exact.data(), count.data(), threshold.data(), overflow.data(), cap};
  }
  // One slot as comparable bits (NaN payloads included).
  std::tuple<std::uint32_t, std::int64_t, std::uint32_t> slot(std::size_t at) const {
    return {bits(fast[at]), index[at], bits(exact[at])};
  }
  bool guards_intact() const {
    const std::size_t slots = queries * cap;
    for (std::size_t i = 0; i < kGuard; ++i)
      if (fast[slots + i] != kPoison || exact[slots + i] != kPoison || index[slots + i] != kPoisonIndex ||
          threshold[queries + i] != kPoison || count[queries + i] != kPoisonCount || overflow[1 + i] != 0)
        return false;
    return true;
  }
};

std::vector<float> random_rows(std::size_t rows, std::size_t d, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(rows * d);
  for (auto& v : x) v = uniform(generator);
  return x;
}

TEST(SimilarEmulation, NormalizeRowsGivesNormalizeRowsBits) {
  for (const auto& [rows, d] : std::vector<std::pair<std::size_t, std::size_t>>{{1, 1}, {257, 3}, {300, 33}}) {
    const auto seed = static_cast<unsigned>(rows * 31 + d);
    SCOPED_TRACE("rows " + std::to_string(rows) + ", d " + std::to_string(d) + ", seed " + std::to_string(seed));
    std::vector<float> x = random_rows(rows, d, seed);
    if (rows > 2) {
      std::fill_n(x.begin() + static_cast<std::ptrdiff_t>(d), d, 0.0f);       // a zero row stays zero
      std::fill_n(x.begin() + static_cast<std::ptrdiff_t>(2 * d), d, 3e38f);  // squares overflow float
    }
    std::vector<float> want = x;
    for (std::size_t r = 0; r < rows; ++r) cohort::normalize_row(want.data() + r * d, d, want.data() + r * d);
    x.resize(x.size() + kGuard, kPoison);
    cohort::cuda::normalize_rows(x.data(), rows, d, nullptr);
    EXPECT_EQ(std::memcmp(x.data(), want.data(), want.size() * sizeof(float)), 0);
    EXPECT_TRUE(std::all_of(x.end() - kGuard, x.end(), [](float v) { return v == kPoison; }));
  }
}

// The bfloat16 nearest to x (ties to even), by comparing the two candidates' distances in
// double; past the largest finite value the next candidate is 2^128, which rounds to inf.
std::uint16_t nearest_bf16(float x) {
  const auto value = [](std::uint32_t b) {  // bf16 bits as a number (0x7f80 = 2^128)
    const int e = static_cast<int>((b >> 7) & 0xffu);
    const double magnitude = e == 0 ? std::ldexp(b & 0x7fu, -133) : std::ldexp(128 + (b & 0x7fu), e - 134);
    return (b & 0x8000u) ? -magnitude : magnitude;
  };
  if (std::isinf(x)) return static_cast<std::uint16_t>(bits(x) >> 16);
  const std::uint32_t lower = bits(x) >> 16, upper = lower + 1;  // upper: larger magnitude
  const double below = std::fabs(x - value(lower)), above = std::fabs(value(upper) - x);
  if (below != above) return static_cast<std::uint16_t>(below < above ? lower : upper);
  return static_cast<std::uint16_t>(lower % 2 == 0 ? lower : upper);
}

TEST(SimilarEmulation, ToBf16RoundsToNearestEven) {
  std::vector<float> in;
  for (const std::uint32_t low : {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu})
    for (const std::uint32_t high : {0x3f80u, 0x3f81u, 0xbf80u, 0xbf81u, 0x0000u, 0x0001u, 0x8000u, 0x7f7fu, 0xff7fu})
      in.push_back(from_bits(high << 16 | low));  // ties, near-ties, denormals, the largest finite values
  for (const float special : {INFINITY, -INFINITY, 3.4028235e38f, 1e-45f}) in.push_back(special);
  std::mt19937 generator(5);
  while (in.size() < 700) {
    const float value = from_bits(static_cast<std::uint32_t>(generator()));
    if (!std::isnan(value)) in.push_back(value);
  }
  const std::size_t finite = in.size();
  for (const std::uint32_t nan : {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu})
    in.push_back(from_bits(nan));  // 0x7f800001 truncated would be infinity
  std::vector<std::uint16_t> out(in.size() + kGuard, 0xabcd);
  cohort::cuda::to_bf16(in.data(), in.size(), out.data(), nullptr);
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (i < finite)
      EXPECT_EQ(out[i], nearest_bf16(in[i])) << "input bits " << std::hex << bits(in[i]);
    else
      EXPECT_GT(out[i] & 0x7fffu, 0x7f80u) << "NaN input bits " << std::hex << bits(in[i]) << " lost";
  }
  EXPECT_TRUE(std::all_of(out.end() - kGuard, out.end(), [](std::uint16_t v) { return v == 0xabcd; }));
}

TEST(SimilarEmulation, ResetCandidatesClearsEveryQuery) {
  for (const std::size_t queries : {std::size_t{0}, std::size_t{1}, std::size_t{300}}) {
    Candidates c(queries, 2);
    c.overflow[0] = 1;
    cohort::cuda::reset_candidates(c.view(), queries, nullptr);
    for (std::size_t q = 0; q < queries; ++q) {
      EXPECT_EQ(bits(c.threshold[q]), bits(-3.0f)) << "query " << q;
      EXPECT_EQ(c.count[q], 0u) << "query " << q;
    }
    EXPECT_EQ(c.overflow[0], 0);
    EXPECT_TRUE(c.guards_intact());
  }
}

// filter_candidates on a random score tile with ties: each query's appended slots hold
// exactly its rows with score >= threshold, not excluded and allowed, once each, after
// its earlier appends; counts go on past cap and then set the overflow flag.
void check_filter(std::size_t queries, std::size_t m, std::size_t cap, bool masks, unsigned seed) {
  SCOPED_TRACE("queries " + std::to_string(queries) + ", m " + std::to_string(m) + ", cap " + std::to_string(cap) +
               ", seed " + std::to_string(seed));
  std::mt19937 generator(seed);
  std::vector<float> scores(queries * m);
  for (auto& s : scores) s = static_cast<float>(static_cast<int>(generator() % 129) - 64) / 64.0f;  // ties
  const std::int64_t first_row = 4099;
  std::vector<std::int64_t> excluded(queries);
  std::vector<std::uint8_t> allowed(static_cast<std::size_t>(first_row) + m);
  for (std::size_t q = 0; q < queries; ++q)
    excluded[q] = q % 2 ? first_row + static_cast<std::int64_t>(generator() % m) : -1;
  for (auto& a : allowed) a = generator() % 4 != 0;
  Candidates c(queries, cap);
  const float thresholds[4] = {-3.0f, 0.5f, 2.0f, scores[0]};
  for (std::size_t q = 0; q < queries; ++q) {
    c.threshold[q] = thresholds[q % 4];
    c.count[q] = static_cast<unsigned>(q % 3);  // earlier tiles' appends
  }
  const Candidates before = c;
  cohort::cuda::filter_candidates(scores.data(), queries, m, first_row, masks ? excluded.data() : nullptr,
                                  masks ? allowed.data() : nullptr, c.view(), nullptr);
  bool over = false;
  for (std::size_t q = 0; q < queries; ++q) {
    SCOPED_TRACE("query " + std::to_string(q));
    std::vector<char> wanted(m);
    std::size_t passing = 0;
    for (std::size_t j = 0; j < m; ++j) {
      const std::int64_t row = first_row + static_cast<std::int64_t>(j);
      wanted[j] = scores[q * m + j] >= c.threshold[q] &&
                  (!masks || (row != excluded[q] && allowed[static_cast<std::size_t>(row)]));
      passing += static_cast<std::size_t>(wanted[j]);
    }
    ASSERT_EQ(c.count[q], before.count[q] + passing);
    over |= c.count[q] > cap;
    EXPECT_EQ(bits(c.threshold[q]), bits(before.threshold[q]));
    const std::size_t end = std::min<std::size_t>(c.count[q], cap);
    std::vector<char> seen(m, 0);
    for (std::size_t s = 0; s < cap; ++s) {
      const std::size_t at = q * cap + s;
      if (s < before.count[q] || s >= end) {
        ASSERT_EQ(c.slot(at), before.slot(at)) << "slot " << s << " written";
        continue;
      }
      const std::int64_t j = c.index[at] - first_row;
      ASSERT_TRUE(j >= 0 && j < static_cast<std::int64_t>(m)) << "slot " << s << ": index " << c.index[at];
      const auto row = static_cast<std::size_t>(j);
      EXPECT_TRUE(wanted[row] && !seen[row]++) << "row " << c.index[at] << " appended wrongly or twice";
      EXPECT_EQ(bits(c.fast[at]), bits(scores[q * m + row]));
      EXPECT_TRUE(std::isnan(c.exact[at]));
    }
  }
  EXPECT_EQ(c.overflow[0], over ? 1 : 0);
  EXPECT_TRUE(c.guards_intact());
}

TEST(SimilarEmulation, FilterCandidatesAppendsThePassingRows) {
  in_both_orders([] {
    check_filter(1, 1, 4, true, 1);
    check_filter(5, 255, 300, true, 2);
    check_filter(4, 257, 300, false, 3);
    check_filter(3, 257, 20, true, 4);  // overflows
    // More than 64 blocks of columns: blocks stride over the tile.
    check_filter(2, 64 * 256 + 300, 64 * 256 + 300, true, 5);
  });
}

// One query's slots before a prune: the fast scores (count may exceed their number when
// the buffer overflowed, then n = cap = values.size()) and the old threshold.
struct PruneQuery {
  std::vector<float> fast;
  unsigned count;
  float threshold = -3.0f;
};

// The k-th best fast score in the kernel's total order: larger first, +0 before -0.
float kth_best(std::vector<float> fast, std::size_t k) {
  std::sort(fast.begin(), fast.end(),
            [](float a, float b) { return a > b || (a == b && !std::signbit(a) && std::signbit(b)); });
  return fast[k - 1];
}

void check_prune(const std::vector<PruneQuery>& queries, std::size_t k, float window, std::size_t trigger) {
  SCOPED_TRACE("k " + std::to_string(k) + ", window " + std::to_string(window) + ", trigger " +
               std::to_string(trigger));
  std::size_t cap = 0;
  for (const auto& p : queries) cap = std::max(cap, p.fast.size());
  Candidates c(queries.size(), cap);
  for (std::size_t q = 0; q < queries.size(); ++q) {
    c.count[q] = queries[q].count;
    c.threshold[q] = queries[q].threshold;
    for (std::size_t s = 0; s < queries[q].fast.size(); ++s) {
      const std::size_t at = q * cap + s;
      c.fast[at] = queries[q].fast[s];
      c.index[at] = static_cast<std::int64_t>(at) * 3 + 1;
      c.exact[at] = s % 3 ? static_cast<float>(s) / 1024.0f : from_bits(0x7fc00000u + static_cast<std::uint32_t>(s));
    }
  }
  const Candidates before = c;
  cohort::cuda::prune_candidates(c.view(), queries.size(), k, window, trigger, nullptr);
  for (std::size_t q = 0; q < queries.size(); ++q) {
    const PruneQuery& p = queries[q];
    const std::size_t n = std::min<std::size_t>(p.count, cap);
    SCOPED_TRACE("query " + std::to_string(q) + ", n " + std::to_string(n));
    const std::size_t base = q * cap;
    if (n <= k || n <= trigger) {
      EXPECT_EQ(c.count[q], before.count[q]);
      EXPECT_EQ(bits(c.threshold[q]), bits(before.threshold[q]));
      for (std::size_t s = 0; s < cap; ++s) ASSERT_EQ(c.slot(base + s), before.slot(base + s)) << "slot " << s;
      continue;
    }
    const std::vector<float> present(p.fast.begin(), p.fast.begin() + static_cast<std::ptrdiff_t>(n));
    const float threshold = std::fmax(p.threshold, kth_best(present, k) - window);
    std::vector<std::tuple<std::uint32_t, std::int64_t, std::uint32_t>> want, got;
    for (std::size_t s = 0; s < n; ++s)
      if (before.fast[base + s] >= threshold) want.push_back(before.slot(base + s));
    EXPECT_EQ(bits(c.threshold[q]), bits(threshold)) << c.threshold[q] << " vs " << threshold;
    ASSERT_EQ(c.count[q], want.size());
    for (std::size_t s = 0; s < want.size(); ++s) got.push_back(c.slot(base + s));
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    EXPECT_TRUE(got == want) << "the kept slots differ from the reference";
    for (std::size_t s = n; s < cap; ++s) ASSERT_EQ(c.slot(base + s), before.slot(base + s)) << "slot " << s;
  }
  EXPECT_TRUE(c.guards_intact());
}

std::vector<float> quantized(std::size_t n, int levels, float low, unsigned seed) {
  std::mt19937 generator(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = low + static_cast<float>(generator() % static_cast<unsigned>(levels)) / 256.0f;
  return v;
}

std::vector<PruneQuery> prune_queries(std::size_t k, std::size_t trigger) {
  const std::size_t t = std::max(k, trigger);
  std::vector<PruneQuery> queries;
  auto add = [&](std::vector<float> fast, float threshold = -3.0f) {
    const auto count = static_cast<unsigned>(fast.size());
    queries.push_back({std::move(fast), count, threshold});
  };
  add(quantized(t + 1, 512, -1.0f, 1));    // just above k or trigger
  add(quantized(t, 512, -1.0f, 2));        // at it: untouched
  add(quantized(t + 40, 3, 0.0f, 3));      // three values: ties at the k-th
  add(quantized(t + 300, 200, -1.0f, 4));  // all negative, compacted over several passes
  add(quantized(1000, 512, -1.0f, 5));     // four compaction passes
  // Signed zeros at the k-th place, interleaved: k - 1 of +0 above -0 (the k-th best is
  // -0), then k of +0 above -0 (it is +0).
  for (const std::size_t plus : {k - 1, k}) {
    std::vector<float> zeros(plus, 0.0f);
    zeros.resize(t + 9, -0.0f);
    zeros.back() = -0.25f;
    std::shuffle(zeros.begin(), zeros.end(), std::mt19937(static_cast<unsigned>(plus)));
    add(zeros);
  }
  add(quantized(t + 50, 400, -0.5f, 6), 0.5f);  // the old threshold is higher
  // Overflowed (count past cap, so n = cap): the widest query, its values fill every slot.
  PruneQuery overflowed{quantized(1100, 300, -0.5f, 7), 1100 + 77, -3.0f};
  queries.push_back(overflowed);
  return queries;
}

TEST(SimilarEmulation, PruneCandidatesKeepsTheWindowBelowTheKthBest) {
  in_both_orders([] {
    for (const auto& [k, window, trigger] : std::vector<std::tuple<std::size_t, float, std::size_t>>{
             {1, 0.0f, 0}, {5, 0.0f, 0}, {37, 0.01f, 0}, {3, 1.0f / 512, 300}, {300, 0.0f, 0}})
      check_prune(prune_queries(k, trigger), k, window, trigger);
    check_prune(prune_queries(5, 0), 5, 0.0f, 100000);  // every query at or below the trigger
  });
}

TEST(SimilarEmulation, RescoreCandidatesScoresTheResidentChunk) {
  const std::size_t queries = 3, cap = 300, d = 33, rows = 40;
  const std::int64_t first_row = 1000;
  std::vector<float> q_hat = random_rows(queries, d, 11), chunk = random_rows(rows, d, 12);
  for (std::size_t i = 0; i < queries; ++i) cohort::normalize_row(q_hat.data() + i * d, d, q_hat.data() + i * d);
  for (std::size_t j = 0; j < rows; ++j) cohort::normalize_row(chunk.data() + j * d, d, chunk.data() + j * d);
  Candidates c(queries, cap);
  std::mt19937 generator(13);
  for (std::size_t at = 0; at < queries * cap; ++at) {
    c.index[at] = first_row - 10 + static_cast<std::int64_t>(generator() % (rows + 20));  // some outside
    c.exact[at] = generator() % 2 ? NAN : 0.125f;
  }
  const unsigned counts[queries] = {cap, 17, cap + 5};  // the last overflowed: n = cap
  std::copy(counts, counts + queries, c.count.begin());
  const Candidates before = c;
  in_both_orders([&] {
    c = before;
    cohort::cuda::rescore_candidates(c.view(), queries, q_hat.data(), chunk.data(), first_row, rows, d, nullptr);
    for (std::size_t q = 0; q < queries; ++q)
      for (std::size_t s = 0; s < cap; ++s) {
        const std::size_t at = q * cap + s;
        const std::int64_t local = before.index[at] - first_row;
        float want = before.exact[at];
        if (s < std::min<std::size_t>(counts[q], cap) && local >= 0 && local < static_cast<std::int64_t>(rows) &&
            std::isnan(want))
          want = cohort::cosine_score(q_hat.data() + q * d, chunk.data() + static_cast<std::size_t>(local) * d, d);
        ASSERT_EQ(c.slot(at), std::make_tuple(bits(before.fast[at]), before.index[at], bits(want)))
            << "query " << q << ", slot " << s;
      }
    EXPECT_TRUE(c.guards_intact());
  });
}

TEST(SimilarEmulation, GatherCandidatesConcatenatesTheQueries) {
  const std::size_t cap = 300;
  const std::vector<unsigned> counts = {0, cap, 1, 257};
  Candidates c(counts.size(), cap);
  for (std::size_t at = 0; at < counts.size() * cap; ++at) {
    c.fast[at] = static_cast<float>(at) / 7.0f;
    c.index[at] = static_cast<std::int64_t>(at) * 5;
    c.exact[at] = static_cast<float>(at) / 3.0f;
  }
  std::copy(counts.begin(), counts.end(), c.count.begin());
  std::vector<std::uint64_t> offsets(counts.size());
  std::uint64_t total = 0;
  for (std::size_t q = 0; q < counts.size(); ++q) offsets[q] = std::exchange(total, total + counts[q]);
  std::vector<float> fast(total + kGuard, kPoison), exact(total + kGuard, kPoison);
  std::vector<std::int64_t> index(total + kGuard, kPoisonIndex);
  cohort::cuda::gather_candidates(c.view(), counts.size(), offsets.data(), fast.data(), index.data(), exact.data(),
                                  nullptr);
  std::size_t out = 0;
  for (std::size_t q = 0; q < counts.size(); ++q)
    for (std::size_t s = 0; s < counts[q]; ++s, ++out) {
      const std::size_t at = q * cap + s;
      ASSERT_EQ(std::make_tuple(bits(fast[out]), index[out], bits(exact[out])), c.slot(at)) << "output " << out;
    }
  for (std::size_t i = total; i < total + kGuard; ++i)
    ASSERT_TRUE(fast[i] == kPoison && exact[i] == kPoison && index[i] == kPoisonIndex) << "written past the end";
}

}  // namespace
