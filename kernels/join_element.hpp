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
 *                                join_occupied_cell then join_entries, which the CPU
 *                                backend calls separately to prefetch between them
 * Exactness: compile without FMA contraction (host -ffp-contract=off, nvcc --fmad=false)
 * so both backends round every operation identically.
 */
#pragma once

#include <cstdint>

#include "cohort/config.hpp"
#include "cohort/join.hpp"

namespace cohort {

/// Raw pointers into a JoinGrid's arrays (host or device memory).
struct JoinGridView {
  double x0, y0, inv_w, inv_h;
  std::int32_t cols, rows;
  const std::uint64_t* cell_offsets;
  const std::uint32_t* occupied;
  const JoinCellEntry* entries;
  const double* edges;
};

inline JoinGridView host_view(const JoinGrid& g) {
  return JoinGridView{g.x0, g.y0, g.inv_w, g.inv_h, g.cols, g.rows, g.cell_offsets.data(), g.occupied.data(), g.entries.data(),
                      g.edges.data()};
}

constexpr std::uint32_t kJoinParityBit = 0x80000000u;  ///< base parity
constexpr std::uint32_t kJoinLeftBit = 0x40000000u;    ///< entry counts non-crossing spanning edges
constexpr std::uint32_t kJoinCountMask = 0x3fffffffu;  ///< explicit edge count

/// True when the ray from (px, py) towards +x crosses the canonical edge e.
COHORT_HD inline bool join_ray_crosses(const double* e, double px, double py) {
  const double lx = e[0], ly = e[1], hx = e[2], hy = e[3];
  // Branch-free (& not &&): whether an edge spans py is a coin flip per edge, and a
  // mispredicted branch costs more than the two products.
  const double left = (hx - lx) * (py - ly);
  const double right = (px - lx) * (hy - ly);
  return (ly <= py) & (py < hy) & (left - right > 0.0);
}

/// The edge spans py but does not cross the ray: the complement the left-mode entries
/// count (spanning edges come in even numbers, so its parity equals the crossings').
COHORT_HD inline bool join_ray_spans_not_crosses(const double* e, double px, double py) {
  return (e[1] <= py) & (py < e[3]) & !join_ray_crosses(e, px, py);
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

/// The point's cell when it holds any entries, else -1 (outside the grid, or empty).
COHORT_HD inline std::int64_t join_occupied_cell(const JoinGridView& g, double px, double py) {
  const std::int64_t cell = join_cell(g, px, py);
  return cell >= 0 && ((g.occupied[cell >> 5] >> (cell & 31)) & 1u) ? cell : -1;
}

/// Tests the point against its cell's entries [begin, end): calls emit(feature) for each
/// feature containing it, in entry (= feature) order; returns how many.
template <typename Emit>
COHORT_HD inline std::uint32_t join_entries(const JoinGridView& g, std::uint64_t begin, std::uint64_t end, double px,
                                            double py, bool first, Emit&& emit) {
  std::uint32_t found = 0;
  for (std::uint64_t k = begin; k < end; ++k) {
    const JoinCellEntry entry = g.entries[k];
    bool inside = (entry.count_parity & kJoinParityBit) != 0;
    const std::uint32_t count = entry.count_parity & kJoinCountMask;
    const double* e = g.edges + 4 * entry.edge_begin;
    if (entry.count_parity & kJoinLeftBit) {
      for (std::uint32_t j = 0; j < count; ++j, e += 4) inside ^= join_ray_spans_not_crosses(e, px, py);
    } else {
      for (std::uint32_t j = 0; j < count; ++j, e += 4) inside ^= join_ray_crosses(e, px, py);
    }
    if (inside) {
      emit(entry.feature);
      ++found;
      if (first) break;
    }
  }
  return found;
}

/// The whole per-point test: join_occupied_cell, then join_entries over the cell.
template <typename Emit>
COHORT_HD inline std::uint32_t join_point(const JoinGridView& g, double px, double py, bool first, Emit&& emit) {
  const std::int64_t cell = join_occupied_cell(g, px, py);
  if (cell < 0) return 0;
  return join_entries(g, g.cell_offsets[cell], g.cell_offsets[cell + 1], px, py, first, emit);
}

}  // namespace cohort
