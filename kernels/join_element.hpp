/*
 * join_element.hpp: the per-point work of the point-in-polygon join, written once for
 * both backends (host/cpu/join_cpu.cpp and kernels/join.cu call these functions).
 *
 *   join_ray_crosses(e, px, py)  the boundary rule of join.hpp for one canonical edge
 *                                e = {lo.x, lo.y, hi.x, hi.y} (lo.y < hi.y)
 *   join_cell(grid, px, py)      the cell of a point, or -1 outside the grid; the same
 *                                monotone expression the grid builder uses to clip edges
 *   join_point(grid, px, py, first, emit)
 *                                calls emit(feature) for each feature containing the point,
 *                                in increasing feature order; returns how many. It is
 *                                join_occupied_rank (the cell's record), then join_entries
 *                                over the record; the CPU backend takes these steps
 *                                separately to prefetch between them
 * Exactness: compile without FMA contraction (host -ffp-contract=off, nvcc --fmad=false)
 * so both backends round every operation identically.
 */
#pragma once

#include <cstdint>
#include <cstring>

#include "cohort/config.hpp"
#include "cohort/join.hpp"

namespace cohort {

/// Raw pointers into a JoinGrid's arrays (host or device memory).
struct JoinGridView {
  double x0, y0, inv_w, inv_h;
  std::int32_t cols, rows;
  const JoinCellWord* occupied;
  const std::uint32_t* cell_offsets;
  const double* records;
};

inline JoinGridView host_view(const JoinGrid& g) {
  return JoinGridView{g.x0, g.y0, g.inv_w, g.inv_h, g.cols, g.rows, g.occupied.data(), g.cell_offsets.data(),
                      g.records.data()};
}

constexpr std::uint32_t kJoinParityBit = 0x80000000u;  ///< base parity
constexpr std::uint32_t kJoinLeftBit = 0x40000000u;    ///< entry counts non-crossing spanning edges
constexpr std::uint32_t kJoinCountMask = 0x3fffffffu;  ///< explicit edge count

/// One explicit edge e = {lo.x, lo.y, hi.x, hi.y} (lo.y < hi.y) toggles an entry's parity
/// when the ray from (px, py) towards +x crosses it (the boundary rule of join.hpp) or,
/// for a left-mode entry, when it spans py without crossing (spanning edges come in even
/// numbers, so both counts have the same parity).
COHORT_HD inline bool join_edge_toggles(const double* e, double px, double py, bool left_mode) {
  const double lx = e[0], ly = e[1], hx = e[2], hy = e[3];
  // Branch-free (& not &&): whether an edge spans py is a coin flip per edge, and a
  // mispredicted branch costs more than the two products.
  const double left = (hx - lx) * (py - ly);
  const double right = (px - lx) * (hy - ly);
  return (ly <= py) & (py < hy) & ((left - right > 0.0) != left_mode);
}

/// True when the ray from (px, py) towards +x crosses the canonical edge e.
COHORT_HD inline bool join_ray_crosses(const double* e, double px, double py) {
  return join_edge_toggles(e, px, py, false);
}

/// Fractional cell coordinate along one axis (monotone non-decreasing in v).
COHORT_HD inline double join_axis(double v, double origin, double inv) { return (v - origin) * inv; }

COHORT_HD inline std::int64_t join_cell(const JoinGridView& g, double px, double py) {
  const double fx = join_axis(px, g.x0, g.inv_w);
  const double fy = join_axis(py, g.y0, g.inv_h);
  if (!(fx >= 0.0 && fx < static_cast<double>(g.cols) && fy >= 0.0 && fy < static_cast<double>(g.rows))) return -1;
  const std::int64_t c = static_cast<std::int64_t>(fx);
  const std::int64_t r = static_cast<std::int64_t>(fy);
  return r * g.cols + c;
}

COHORT_HD inline std::uint32_t join_popcount(std::uint32_t v) {
#ifdef __CUDA_ARCH__
  return static_cast<std::uint32_t>(__popc(v));
#else  // the portable build has no popcnt instruction, and __builtin_popcount is a call
  v = v - ((v >> 1) & 0x55555555u);
  v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
  return (((v + (v >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24;
#endif
}

/// The rank of cell 32 * word + bit among the occupied cells (its record's index in
/// cell_offsets), given its occupancy word; valid when the cell is occupied.
COHORT_HD inline std::uint64_t join_rank(const JoinCellWord& w, std::uint32_t bit) {
  return std::uint64_t(w.rank) + join_popcount(w.bits & ((1u << bit) - 1u));
}

/// The rank of the point's cell when it holds entries, else -1 (outside the grid, or empty).
COHORT_HD inline std::int64_t join_occupied_rank(const JoinGridView& g, double px, double py) {
  const std::int64_t cell = join_cell(g, px, py);
  if (cell < 0) return -1;
  const JoinCellWord w = g.occupied[cell >> 5];
  const std::uint32_t bit = static_cast<std::uint32_t>(cell & 31);
  return ((w.bits >> bit) & 1u) ? static_cast<std::int64_t>(join_rank(w, bit)) : -1;
}

/// An entry header's bits (stored in a double, see JoinGrid).
COHORT_HD inline std::uint64_t join_header(double h) {
#ifdef __CUDA_ARCH__
  return static_cast<std::uint64_t>(__double_as_longlong(h));
#else
  std::uint64_t bits;
  std::memcpy(&bits, &h, sizeof bits);
  return bits;
#endif
}

/// Tests the point against the record records[begin, end) of its cell: calls
/// emit(feature) for each feature containing it, in entry (= feature) order; returns how
/// many.
template <typename Emit>
COHORT_HD inline std::uint32_t join_entries(const JoinGridView& g, std::uint64_t begin, std::uint64_t end, double px,
                                            double py, bool first, Emit&& emit) {
  std::uint32_t found = 0;
  for (std::uint64_t k = begin; k < end;) {
    const std::uint64_t header = join_header(g.records[k]);
    const std::uint32_t count_parity = static_cast<std::uint32_t>(header >> 32);
    const std::uint32_t count = count_parity & kJoinCountMask;
    const bool left_mode = (count_parity & kJoinLeftBit) != 0;
    bool inside = (count_parity & kJoinParityBit) != 0;
    const double* e = g.records + k + 1;
    for (std::uint32_t j = 0; j < count; ++j, e += 4) inside ^= join_edge_toggles(e, px, py, left_mode);
    k += 1 + 4 * std::uint64_t(count);
    if (inside) {
      emit(static_cast<std::uint32_t>(header));
      ++found;
      if (first) break;
    }
  }
  return found;
}

/// The whole per-point test: join_occupied_rank, then join_entries over the cell's record.
template <typename Emit>
COHORT_HD inline std::uint32_t join_point(const JoinGridView& g, double px, double py, bool first, Emit&& emit) {
  const std::int64_t rank = join_occupied_rank(g, px, py);
  if (rank < 0) return 0;
  return join_entries(g, g.cell_offsets[rank], g.cell_offsets[rank + 1], px, py, first, emit);
}

}  // namespace cohort
