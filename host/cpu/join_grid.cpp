/*
 * join_grid.cpp: build_join_grid, the uniform grid both join backends query.
 *
 * Per feature f (in parallel), over f's bounding range of cells:
 *   1. canonical non-horizontal edges (lo.y < hi.y); horizontal edges never count.
 *   2. each edge covers rows row(lo.y)..row(hi.y) (row() is the monotone expression points
 *      use, so every point whose row is r sees only edges listed for r). In row r the edge
 *      is clipped to the band [y0_r - tol, y1_r + tol]; its x range there, widened by
 *      tol, gives columns ca..cb: cells the edge may pass through -> explicit.
 *   3. cells left of ca (inside f's column range): a point there has the edge strictly on
 *      its right. If the edge spans the whole band it always crosses the ray -> toggle the
 *      cell's base parity; if it ends inside the band the crossing depends on py ->
 *      explicit. Cells right of cb never cross it. Cells in the left half of f's range
 *      use the mirror image (count spanning edges that do not cross, same parity), so an
 *      edge is listed only between where it passes and the nearer side of f's box.
 * Cells outside f's range see every edge on one side, where crossings come in pairs
 * (closed rings), so f is outside there and is not stored. tol (1e-9 of a cell plus 1e-12
 * of the largest coordinate) is far above the rounding error of the crossing test, so a
 * decision taken here for a whole cell is the one the test would take for each point.
 * The per-feature lists are then merged by cell in feature order (stable), giving each
 * cell's entries sorted by feature, into one record per occupied cell (each entry's
 * header, then its edges: one contiguous read per point), indexed by the cell's rank
 * among the occupied cells (JoinCellWord), so the per-cell offsets cost memory only for
 * occupied cells.
 */
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include "cohort/error.hpp"
#include "cohort/join.hpp"
#include "host/cpu/join_grid.hpp"
#include "kernels/join_element.hpp"

namespace cohort {
namespace {

struct Edge {
  double lx, ly, hx, hy;
};

// One feature's cells, in increasing cell order.
struct FeatureCells {
  std::vector<std::uint64_t> cell;
  std::vector<std::uint32_t> count_parity;
  std::vector<std::uint64_t> edge_offsets{0};  // into edges, per cell
  std::vector<Edge> edges;
};

struct Axis {
  double origin, inv, size;  // size = one cell
  std::int64_t n;
  std::int64_t index(double v) const {  // clamped; same expression as join_cell
    const double f = std::floor(join_axis(v, origin, inv));
    if (!(f >= 0.0)) return 0;
    if (f >= static_cast<double>(n)) return n - 1;
    return static_cast<std::int64_t>(f);
  }
};

std::vector<Edge> feature_edges(const PolygonSet& p, std::size_t f) {
  std::vector<Edge> edges;
  for (auto poly = p.feature_polygon_offsets[f]; poly < p.feature_polygon_offsets[f + 1]; ++poly)
    for (auto ring = p.polygon_ring_offsets[poly]; ring < p.polygon_ring_offsets[poly + 1]; ++ring) {
      const auto b = p.ring_offsets[ring], e = p.ring_offsets[ring + 1];
      for (auto i = b; i < e; ++i) {
        const auto j = i + 1 < e ? i + 1 : b;
        double ax = p.x[i], ay = p.y[i], bx = p.x[j], by = p.y[j];
        if (ay == by) continue;
        if (ay > by) {
          std::swap(ax, bx);
          std::swap(ay, by);
        }
        edges.push_back({ax, ay, bx, by});
      }
    }
  return edges;
}

FeatureCells build_feature(const std::vector<Edge>& edges, const Axis& ax, const Axis& ay, double tol) {
  FeatureCells out;
  if (edges.empty()) return out;
  struct Span {
    std::int64_t row, ca, cb;
    bool full;
    std::uint32_t edge;
  };
  std::vector<Span> spans;
  std::int64_t r_lo = std::numeric_limits<std::int64_t>::max(), r_hi = -1;
  std::int64_t c_lo = std::numeric_limits<std::int64_t>::max(), c_hi = -1;
  for (std::size_t k = 0; k < edges.size(); ++k) {
    const Edge& e = edges[k];
    const std::int64_t ra = ay.index(e.ly), rb = ay.index(e.hy);
    const double ex_lo = std::min(e.lx, e.hx), ex_hi = std::max(e.lx, e.hx);
    for (std::int64_t r = ra; r <= rb; ++r) {
      const double band_lo = ay.origin + static_cast<double>(r) * ay.size - tol;
      const double band_hi = ay.origin + static_cast<double>(r + 1) * ay.size + tol;
      const double ya = std::min(std::max(e.ly, band_lo), e.hy);
      const double yb = std::max(std::min(e.hy, band_hi), ya);
      const double slope = (e.hx - e.lx) / (e.hy - e.ly);
      const double xa = e.lx + (ya - e.ly) * slope, xb = e.lx + (yb - e.ly) * slope;
      const double lo = std::max(std::min(xa, xb), ex_lo), hi = std::min(std::max(xa, xb), ex_hi);
      const std::int64_t ca = ax.index(std::min(lo, hi) - tol), cb = ax.index(std::max(lo, hi) + tol);
      spans.push_back({r, ca, cb, e.ly < band_lo && e.hy > band_hi, static_cast<std::uint32_t>(k)});
      r_lo = std::min(r_lo, r);
      r_hi = std::max(r_hi, r);
      c_lo = std::min(c_lo, ca);
      c_hi = std::max(c_hi, cb);
    }
  }
  const std::int64_t rows = r_hi - r_lo + 1, cols = c_hi - c_lo + 1;
  const std::size_t local = static_cast<std::size_t>(rows * cols);
  std::vector<std::uint8_t> parity(local, 0);
  std::vector<std::uint32_t> count(local + 1, 0);
  // Cells after the middle column count crossings right of the point; cells up to it
  // count spanning edges that do not cross (kJoinLeftBit), i.e. edges on their left: for
  // every py the spanning edges come in an even number, so both parities agree, and an
  // edge is listed only in cells between it and the nearer side of the feature's box.
  const std::int64_t mid = c_lo + (cols - 1) / 2;
  auto toggle = [&](std::size_t row, std::int64_t a, std::int64_t b) {  // XOR difference on [a, b]
    if (a > b) return;
    parity[row + static_cast<std::size_t>(a - c_lo)] ^= 1;
    if (b + 1 <= c_hi) parity[row + static_cast<std::size_t>(b + 1 - c_lo)] ^= 1;
  };
  auto for_explicit = [&](const Span& s, auto&& visit) {
    for (std::int64_t c = s.ca, end = std::min(mid, s.full ? s.cb : c_hi); c <= end; ++c) visit(c);  // left mode
    for (std::int64_t c = std::max(mid + 1, s.full ? s.ca : c_lo); c <= s.cb; ++c) visit(c);       // right mode
  };
  for (const Span& s : spans) {
    const std::size_t row = static_cast<std::size_t>((s.row - r_lo) * cols);
    if (s.full) {
      toggle(row, s.cb + 1, mid);                      // left of these cells: spans, never crosses
      toggle(row, mid + 1, std::min(s.ca - 1, c_hi));  // right of these cells: always crosses
    }
    for_explicit(s, [&](std::int64_t c) { ++count[row + static_cast<std::size_t>(c - c_lo)]; });
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 1; c < cols; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * cols + c);
      parity[i] ^= parity[i - 1];
    }
  // Exclusive scan of counts -> fill positions.
  std::vector<std::uint64_t> start(local + 1, 0);
  for (std::size_t i = 0; i < local; ++i) start[i + 1] = start[i] + count[i];
  std::vector<std::uint32_t> slot(start[local]);
  {
    std::vector<std::uint64_t> pos(start.begin(), start.end() - 1);
    for (const Span& s : spans) {
      const std::size_t row = static_cast<std::size_t>((s.row - r_lo) * cols);
      for_explicit(s, [&](std::int64_t c) { slot[pos[row + static_cast<std::size_t>(c - c_lo)]++] = s.edge; });
    }
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * cols + c);
      if (count[i] == 0 && !parity[i]) continue;
      COHORT_EXPECTS(count[i] < kJoinLeftBit, "join grid: too many edges in one cell; use more cells");
      out.cell.push_back(static_cast<std::uint64_t>((r + r_lo) * ax.n + (c + c_lo)));
      out.count_parity.push_back(count[i] | (parity[i] ? kJoinParityBit : 0u) | (c + c_lo <= mid ? kJoinLeftBit : 0u));
      for (std::uint64_t k = start[i]; k < start[i + 1]; ++k) out.edges.push_back(edges[slot[k]]);
      out.edge_offsets.push_back(out.edges.size());
    }
  return out;
}

// Builds into grid; false, with grid.cols and grid.rows set, when the records would
// take more than max_words doubles.
bool build_grid(const PolygonSet& polygons, std::int64_t cells, std::uint64_t max_words, JoinGrid& grid) {
  const std::size_t nf = polygons.features();
  grid.features = nf;
  double min_x = std::numeric_limits<double>::infinity(), min_y = min_x;
  double max_x = -min_x, max_y = -min_x;
  for (std::size_t i = 0; i < polygons.vertices(); ++i) {
    min_x = std::min(min_x, polygons.x[i]);
    max_x = std::max(max_x, polygons.x[i]);
    min_y = std::min(min_y, polygons.y[i]);
    max_y = std::max(max_y, polygons.y[i]);
  }
  std::vector<std::vector<Edge>> edges(nf);
  std::uint64_t edge_count = 0;
  for (std::size_t f = 0; f < nf; ++f) {
    edges[f] = feature_edges(polygons, f);
    edge_count += edges[f].size();
  }
  if (edge_count == 0) {  // nothing can contain a point: a 1x1 empty grid
    grid.cols = grid.rows = 1;
    grid.occupied.assign(1, JoinCellWord{0, 0});
    grid.cell_offsets.assign(1, 0);
    return true;
  }
  const double max_abs = std::max({std::fabs(min_x), std::fabs(max_x), std::fabs(min_y), std::fabs(max_y)});
  double span = std::max(max_x - min_x, max_y - min_y);
  if (!(span > 0)) span = std::max(max_abs, 1.0);
  const double pad = span * 1e-6 + max_abs * 1e-9;
  grid.x0 = min_x - pad;
  grid.y0 = min_y - pad;
  const double wx = (max_x + pad) - grid.x0, wy = (max_y + pad) - grid.y0;
  COHORT_EXPECTS(std::isfinite(wx) && std::isfinite(wy) && wx > 0 && wy > 0,
                 "join: polygon coordinates span too large a range for double precision");
  COHORT_EXPECTS(nf < (std::size_t(1) << 32), "join: at most 2^32 - 1 polygons");
  // Resolution: at least 4 cells per edge, and cells small enough that the median
  // feature's bounding box covers about 16 of them, so most points see an empty or a
  // fully-inside cell; at least 2^21 cells, because finer cells put fewer points in
  // boundary cells (random overlapping polygons: 10-13% more points/s than with 4 cells
  // per edge, see bench/RESULTS.md) for 16 MiB of offsets, unless the cells the
  // features cover would then hold more entries than the memory budget below allows
  // (few edges, large overlapping boxes); at most 2^22 (32 MiB).
  std::vector<double> box_areas;
  double width_vertices = 0;  // sum over features of bbox width * vertices
  for (std::size_t f = 0; f < nf; ++f) {
    const auto v0 = polygons.ring_offsets[polygons.polygon_ring_offsets[polygons.feature_polygon_offsets[f]]];
    const auto v1 = polygons.ring_offsets[polygons.polygon_ring_offsets[polygons.feature_polygon_offsets[f + 1]]];
    if (v0 == v1) continue;
    const auto [x_lo, x_hi] = std::minmax_element(polygons.x.begin() + static_cast<std::ptrdiff_t>(v0),
                                                  polygons.x.begin() + static_cast<std::ptrdiff_t>(v1));
    const auto [y_lo, y_hi] = std::minmax_element(polygons.y.begin() + static_cast<std::ptrdiff_t>(v0),
                                                  polygons.y.begin() + static_cast<std::ptrdiff_t>(v1));
    box_areas.push_back((*x_hi - *x_lo) * (*y_hi - *y_lo));
    width_vertices += (*x_hi - *x_lo) * static_cast<double>(v1 - v0);
  }
  std::nth_element(box_areas.begin(), box_areas.begin() + static_cast<std::ptrdiff_t>(box_areas.size() / 2),
                   box_areas.end());
  const double median_area = box_areas.empty() ? 0.0 : box_areas[box_areas.size() / 2];
  const double extent_area = ((max_x + pad) - (min_x - pad)) * ((max_y + pad) - (min_y - pad));
  const double fit = median_area > 0 ? 16.0 * extent_area / median_area : double(1 << 22);
  // Entries, references: about 64 per edge, and cover (features over a cell, on average)
  // per cell for the fully covered cells.
  const double budget = 64.0 * static_cast<double>(edge_count) + double(1 << 20);
  const double cover = std::accumulate(box_areas.begin(), box_areas.end(), 0.0) / extent_area;
  const double minimum = std::clamp(budget / std::max(cover, 1.0), 1024.0, double(1 << 21));
  double target = cells > 0 ? static_cast<double>(cells)
                            : std::min(std::max({4.0 * static_cast<double>(edge_count), fit, minimum}),
                                       double(1 << 22));
  target = std::min(target, double(1 << 28));
  const double aspect = wx / wy;
  std::int64_t cols = std::llround(std::sqrt(target * aspect));
  cols = std::min<std::int64_t>(std::max<std::int64_t>(cols, 1), 1 << 20);
  std::int64_t rows = std::llround(target / static_cast<double>(cols));
  rows = std::min<std::int64_t>(std::max<std::int64_t>(rows, 1), 1 << 20);
  while (cols * rows > (std::int64_t(1) << 28)) (cols > rows ? cols : rows) /= 2;
  // Memory bound: an edge ending inside a row is listed in the cells left of it within
  // its feature's box, about vertices * box width in cells per feature. Coarsen the
  // automatic grid when that would exceed ~64 references per edge (one huge detailed
  // polygon among small ones); an explicit cell count is obeyed.
  if (cells <= 0) {
    const double refs = width_vertices * static_cast<double>(cols) / wx;
    if (refs > budget) {
      const double k = refs / budget;
      cols = std::max<std::int64_t>(1, static_cast<std::int64_t>(static_cast<double>(cols) / k));
      rows = std::max<std::int64_t>(1, static_cast<std::int64_t>(static_cast<double>(rows) / k));
    }
  }
  grid.cols = static_cast<std::int32_t>(cols);
  grid.rows = static_cast<std::int32_t>(rows);
  grid.inv_w = static_cast<double>(cols) / wx;
  grid.inv_h = static_cast<double>(rows) / wy;
  const Axis ax{grid.x0, grid.inv_w, wx / static_cast<double>(cols), cols};
  const Axis ay{grid.y0, grid.inv_h, wy / static_cast<double>(rows), rows};
  grid.tolerance = 1e-9 * std::max(ax.size, ay.size) + 1e-12 * (max_abs + pad);

  std::vector<FeatureCells> per_feature(nf);
#pragma omp parallel for schedule(dynamic, 1)
  for (std::size_t f = 0; f < nf; ++f) per_feature[f] = build_feature(edges[f], ax, ay, grid.tolerance);
  std::uint64_t words = 0;
  for (const auto& fc : per_feature) words += fc.cell.size() + 4 * std::uint64_t(fc.edges.size());
  if (words > max_words) return false;

  // Merge: counting sort of (cell, feature) entries by cell, features in order. Each
  // occupied cell's record takes 1 + 4 * count doubles per entry.
  const std::size_t ncells = static_cast<std::size_t>(cols * rows);
  std::vector<std::uint64_t> position(ncells, 0);  // record length, then fill position
  for (const auto& fc : per_feature) {
    for (std::size_t i = 0; i < fc.cell.size(); ++i)
      position[fc.cell[i]] += 1 + 4 * std::uint64_t(fc.count_parity[i] & kJoinCountMask);
    grid.entry_count += fc.cell.size();
    grid.edge_count += fc.edges.size();
  }
  grid.occupied.assign((ncells + 31) / 32, JoinCellWord{0, 0});
  grid.cell_offsets.assign(1, 0);
  std::uint32_t rank = 0;
  for (std::size_t c = 0; c < ncells; ++c) {
    if ((c & 31) == 0) grid.occupied[c >> 5].rank = rank;
    if (position[c] == 0) continue;
    grid.occupied[c >> 5].bits |= 1u << (c & 31);
    ++rank;
    const std::uint64_t begin = grid.cell_offsets.back();
    grid.cell_offsets.push_back(static_cast<std::uint32_t>(begin + position[c]));  // <= words <= max_words
    position[c] = begin;
  }
  // Where each feature's entries go (in feature order within a cell), then the copies.
  std::vector<std::vector<std::uint64_t>> destination(nf);
  for (std::size_t f = 0; f < nf; ++f) {
    const auto& fc = per_feature[f];
    destination[f].resize(fc.cell.size());
    for (std::size_t i = 0; i < fc.cell.size(); ++i) {
      destination[f][i] = position[fc.cell[i]];
      position[fc.cell[i]] += 1 + 4 * std::uint64_t(fc.count_parity[i] & kJoinCountMask);
    }
  }
  grid.records.resize(grid.cell_offsets.back());
#pragma omp parallel for schedule(dynamic, 1)
  for (std::size_t f = 0; f < nf; ++f) {
    const auto& fc = per_feature[f];
    for (std::size_t i = 0; i < fc.cell.size(); ++i) {
      double* out = grid.records.data() + destination[f][i];
      const std::uint64_t header = f | std::uint64_t(fc.count_parity[i]) << 32;
      std::memcpy(out++, &header, sizeof header);
      for (auto j = fc.edge_offsets[i]; j < fc.edge_offsets[i + 1]; ++j, out += 4) {
        const Edge& e = fc.edges[j];
        out[0] = e.lx;
        out[1] = e.ly;
        out[2] = e.hx;
        out[3] = e.hy;
      }
    }
  }
  return true;
}

}  // namespace

JoinGrid build_join_grid_capped(const PolygonSet& polygons, std::int64_t cells, std::uint64_t max_words) {
  std::int64_t request = cells;
  for (;;) {
    JoinGrid grid;
    if (build_grid(polygons, request, max_words, grid)) return grid;
    const std::int64_t built = std::int64_t(grid.cols) * grid.rows;
    COHORT_EXPECTS(cells <= 0, "join grid: " + std::to_string(built) + " cells would hold more than " +
                                   std::to_string(max_words) + " record words (8 bytes each); use fewer grid cells");
    COHORT_EXPECTS(built > 1, "join grid: the polygons' edges need more than " + std::to_string(max_words) +
                                  " record words (8 bytes each) even in one cell");
    request = std::max<std::int64_t>(1, built / 4);  // coarser cells: fewer entries and edge references
  }
}

JoinGrid build_join_grid(const PolygonSet& polygons, std::int64_t cells) {
  return build_join_grid_capped(polygons, cells, std::numeric_limits<std::uint32_t>::max());
}

}  // namespace cohort