/*
 * join_cpu.cpp: the CPU backend of the join. OpenMP over blocks of points; each block
 * collects its pairs (join_point's steps, the code the CUDA kernel runs, taken by groups
 * of points with prefetches between them: GroupedJoin), then the block sizes
 * are scanned and the blocks copied into place, so the output is sorted by point and,
 * within a point, by feature (cells keep their entries in feature order).
 */
#include "host/cpu/join_cpu.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "cohort/error.hpp"
#include "kernels/join_element.hpp"

namespace cohort::cpu {
namespace {

// Points go through join_point's steps a group at a time, prefetching each step's data
// for the whole group before the next step reads it: a point's grid lookups are a chain
// of dependent cache misses (the cell's record offsets, then the record), and a group
// keeps kGroup chains in flight instead of one. Only points in occupied cells join a
// group (most points of a store layout are in empty cells and stop at the bitmap). The
// same functions in the same order per point as join_point, so the same pairs, in point
// order.
constexpr std::size_t kGroup = 32;
constexpr std::uintptr_t kPrefetchLines = 4;
constexpr std::size_t kDeepPrefetchBytes = std::size_t(2) << 20;  // records beyond this: prefetch deep

// max(v, 0) then min(., hi), written so the compiler emits maxsd/minsd, not branches.
inline double clamp(double v, double hi) {
#if defined(__SSE2__)
  return _mm_cvtsd_f64(_mm_min_sd(_mm_max_sd(_mm_set_sd(v), _mm_setzero_pd()), _mm_set_sd(hi)));
#else
  const double lo = v > 0.0 ? v : 0.0;
  return lo < hi ? lo : hi;
#endif
}

class GroupedJoin {
 public:
  GroupedJoin(const JoinGridView& g, bool deep, const double* x, const double* y, bool first,
              std::vector<std::uint64_t>& points, std::vector<std::uint32_t>& features)
      : g_(g),
        cols_(static_cast<double>(g.cols)),
        rows_(static_cast<double>(g.rows)),
        deep_(deep),
        x_(x),
        y_(y),
        first_(first),
        points_(points),
        features_(features) {}

  // join_occupied_rank's test without branches: whether a point is outside, in an empty
  // cell or in an occupied one is a coin flip per point, and a mispredicted branch costs
  // more than computing all three. The point is written to the group in any case and
  // kept only when its cell is occupied (the cell and bit are join_cell's and the
  // bitmap's); its rank is computed when the group is full.
  void add(std::size_t i) {
    const double fx = join_axis(x_[i], g_.x0, g_.inv_w), fy = join_axis(y_[i], g_.y0, g_.inv_h);
    nonfinite_ += (fx + fy) * 0.0;  // 0 unless some fx or fy was NaN or infinite
    const bool in = (fx >= 0.0) & (fx < cols_) & (fy >= 0.0) & (fy < rows_);
    // Clamping changes no inside point's cell and keeps the others' lookups in bounds.
    const double cx = clamp(fx, cols_ - 1), cy = clamp(fy, rows_ - 1);
    const std::int64_t cell = static_cast<std::int64_t>(cy) * g_.cols + static_cast<std::int64_t>(cx);
    const JoinCellWord w = g_.occupied[cell >> 5];
    const std::uint32_t bit = static_cast<std::uint32_t>(cell & 31);
    const std::size_t hit = in & ((w.bits >> bit) & 1u);
    point_[size_] = i, word_[size_] = w, bit_[size_] = bit;
    size_ += hit;
    if (size_ == kGroup) flush();
  }

  /// False when some point added may have a NaN or infinite coordinate (or one so large
  /// that its cell coordinate overflowed); such points are outside, never in a group.
  bool all_finite() const { return nonfinite_ == 0.0; }

  void flush() {
    for (std::size_t j = 0; j < size_; ++j) {
      rank_[j] = join_rank(word_[j], bit_[j]);
      __builtin_prefetch(g_.cell_offsets + rank_[j]);
    }
    // The record's first line, or its first few when the records outgrow the cache (the
    // rest would cost more instructions than the misses they save).
    for (std::size_t j = 0; j < size_; ++j) {
      begin_[j] = g_.cell_offsets[rank_[j]], end_[j] = g_.cell_offsets[rank_[j] + 1];
      const auto first_line = reinterpret_cast<std::uintptr_t>(g_.records + begin_[j]) & ~std::uintptr_t(63);
      const auto last = reinterpret_cast<std::uintptr_t>(g_.records + end_[j]) - 1;
      if (deep_) {  // a fixed count, capped at the last line: no branch on the record's length
        for (std::uintptr_t l = 0; l < kPrefetchLines; ++l)
          __builtin_prefetch(reinterpret_cast<const void*>(std::min(first_line + 64 * l, last)));
      } else {
        __builtin_prefetch(reinterpret_cast<const void*>(first_line));
      }
    }
    for (std::size_t j = 0; j < size_; ++j) {
      const std::size_t i = point_[j];
      join_entries(g_, begin_[j], end_[j], x_[i], y_[i], first_, [&](std::uint32_t f) {
        points_.push_back(i);
        features_.push_back(f);
      });
    }
    size_ = 0;
  }

 private:
  const JoinGridView& g_;
  double cols_, rows_;
  bool deep_;
  const double *x_, *y_;
  bool first_;
  std::vector<std::uint64_t>& points_;
  std::vector<std::uint32_t>& features_;
  double nonfinite_ = 0.0;
  std::size_t size_ = 0;
  std::size_t point_[kGroup];
  JoinCellWord word_[kGroup];
  std::uint32_t bit_[kGroup];
  std::uint64_t rank_[kGroup], begin_[kGroup], end_[kGroup];
};

}  // namespace

std::size_t first_nonfinite_point(const double* x, const double* y, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i)
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) return i;
  return end;
}

void fail_nonfinite_point(std::size_t i) {
  COHORT_FAIL("join: point " + std::to_string(i) + " has a NaN or infinite coordinate");
}

JoinPairs join_cpu(const JoinGrid& grid, const double* x, const double* y, std::size_t n, bool first) {
  JoinPairs out;
  if (n == 0) return out;
  const JoinGridView view = host_view(grid);
  const bool deep = grid.records.size() * sizeof(double) > kDeepPrefetchBytes;
  constexpr std::size_t kBlock = std::size_t(1) << 15;
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<std::vector<std::uint64_t>> block_point(blocks);
  std::vector<std::vector<std::uint32_t>> block_feature(blocks);
  std::size_t bad = n;  // the first point with a NaN or infinite coordinate
#pragma omp parallel for schedule(dynamic, 1) reduction(min : bad)
  for (std::size_t b = 0; b < blocks; ++b) {
    auto& points = block_point[b];
    auto& features = block_feature[b];
    const std::size_t end = std::min(n, (b + 1) * kBlock);
    GroupedJoin group(view, deep, x, y, first, points, features);
    for (std::size_t i = b * kBlock; i < end; ++i) group.add(i);
    group.flush();
    if (!group.all_finite()) {
      const std::size_t i = first_nonfinite_point(x, y, b * kBlock, end);
      if (i < end) bad = std::min(bad, i);
    }
  }
  if (bad < n) fail_nonfinite_point(bad);
  std::vector<std::size_t> offset(blocks + 1, 0);
  for (std::size_t b = 0; b < blocks; ++b) offset[b + 1] = offset[b] + block_point[b].size();
  out.point.resize(offset[blocks]);
  out.feature.resize(offset[blocks]);
#pragma omp parallel for schedule(static)
  for (std::size_t b = 0; b < blocks; ++b) {
    std::copy(block_point[b].begin(), block_point[b].end(), out.point.begin() + static_cast<std::ptrdiff_t>(offset[b]));
    std::copy(block_feature[b].begin(), block_feature[b].end(),
              out.feature.begin() + static_cast<std::ptrdiff_t>(offset[b]));
  }
  return out;
}

}  // namespace cohort::cpu
