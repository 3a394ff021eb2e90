/*
 * join.hpp: the point-in-polygon join (`cohort join`).
 *
 * For every point, the features (polygons or multipolygons) that contain it, as
 * (point index, feature index) pairs sorted by point, then feature.
 *
 * Boundary rule (both backends, bit for bit): a point p = (px, py) is inside feature f
 * when the horizontal ray from p towards +x crosses an odd number of edges of f's rings
 * (holes and MultiPolygon parts included: even-odd over all of f's edges). An edge
 * (a, b) is first put in canonical order, lo = the endpoint with the smaller y,
 * hi = the other, so an edge shared by two polygons is evaluated identically by both
 * whatever the direction each walks it. It counts as a crossing when
 *
 *     lo.y <= py < hi.y                                    (half-open in y)
 *     and (hi.x - lo.x) * (py - lo.y) - (px - lo.x) * (hi.y - lo.y) > 0
 *                                                          (p strictly left of lo->hi)
 *
 * evaluated in IEEE double without FMA contraction. Consequences:
 *   - horizontal edges (lo.y == hi.y) never count;
 *   - a point exactly on an edge shared by two polygons that lie on either side of it
 *     belongs to exactly one of them (the shared edge's test is the same for both, so
 *     the two parities differ by the union's parity, which is 1);
 *   - for a single polygon, points on its left and bottom edges are inside and points
 *     on its right and top edges are outside (like pixel-centre rasterization rules);
 *     a vertex belongs to the polygon whose half-open y range contains it.
 * Points in holes are outside. A point inside overlapping features is reported once for
 * each of them; with `first` only the smallest feature index is kept (join_files, and so
 * `cohort join --first`, orders the features by id first: the smallest id is kept).
 *
 *            +--------+--------+   point on the shared edge x = 1 (0 < y < 1):
 *            |   A    |   B    |   B owns it (A's test sees it on A's right edge)
 *            +--------+--------+
 *
 * Algorithm: a uniform grid over the polygons' extent (build_join_grid). Each cell holds,
 * per feature touching it, either "fully inside" or a base parity plus the edges that
 * must be tested explicitly. The base parity counts the feature's edges that span the
 * whole cell row and pass right of the cell; every other edge that could cross a ray
 * starting in the cell is listed explicitly (edges are clipped to rows and columns with
 * a conservative tolerance and monotone cell arithmetic), so the result equals the
 * brute-force test over all edges for every point, including points on cell borders.
 * Cells in the left half of a feature's box use the mirror image (edges on their left
 * that span py without crossing: the same parity, since spanning edges come in pairs).
 * Points outside the grid cost O(1).
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cohort/backend.hpp"
#include "cohort/geometry.hpp"

namespace cohort {

/// 32 consecutive cells (by cell index): bit k set when cell 32*i + k holds entries, and
/// how many occupied cells precede cell 32*i (its rank among them). Aligned to 8 bytes
/// so the device reads a word in one load.
struct alignas(8) JoinCellWord {
  std::uint32_t bits;
  std::uint32_t rank;
};

/// The grid, built once on the host and shared by both backends.
///
/// An occupied cell's record is its entries, in feature order, each a header followed by
/// its explicit edges, so a point's whole test reads one contiguous run of memory:
///   header  (as the bits of one double) feature | count_parity << 32: base parity in bit
///           31 of count_parity, bit 30 set when the entry counts spanning edges that do
///           not cross the ray (same parity as the crossings), the number of explicit
///           edges in the low 30 bits;
///   edges   count times lo.x, lo.y, hi.x, hi.y.
struct JoinGrid {
  double x0 = 0, y0 = 0;        ///< lower-left corner
  double inv_w = 1, inv_h = 1;  ///< cells per unit of x and y
  std::int32_t cols = 0, rows = 0;
  double tolerance = 0;                    ///< clipping slack used at build time
  std::vector<JoinCellWord> occupied;       ///< (cols*rows + 31) / 32: small, cache-friendly first test
  std::vector<std::uint32_t> cell_offsets;  ///< per occupied cell (by rank) + 1, into records (at most 2^32 - 1)
  std::vector<double> records;              ///< the occupied cells' records, by rank
  std::size_t entry_count = 0;              ///< (cell, feature) entries in all records
  std::size_t edge_count = 0;               ///< explicit edge references in all records
  std::size_t features = 0;
};

/// Builds the grid. cells > 0 asks for about that many cells; 0 picks the resolution from
/// the edge count. @pre polygons valid (as produced by read_polygons / PolygonSet).
JoinGrid build_join_grid(const PolygonSet& polygons, std::int64_t cells = 0);

/// Join output: pairs sorted by point, then feature.
struct JoinPairs {
  std::vector<std::uint64_t> point;
  std::vector<std::uint32_t> feature;
  std::size_t size() const { return point.size(); }
};

struct JoinOptions {
  Device device = Device::Auto;
  bool first = false;           ///< keep only the smallest feature index per point
  std::size_t gpu_memory = 0;   ///< device bytes for point batches; 0 = half the free memory
};

/// A grid made ready on one backend (uploaded once for CUDA); join() may be called for
/// many chunks of points.
class Joiner {
 public:
  Joiner(const JoinGrid& grid, const JoinOptions& options);
  ~Joiner();
  Joiner(const Joiner&) = delete;
  Joiner& operator=(const Joiner&) = delete;
  /// Joins n points; point indices in the result are 0..n-1.
  /// @pre every coordinate finite (checked: InvalidInput names the first bad index).
  JoinPairs join(const double* x, const double* y, std::size_t n);
  Device device() const { return device_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Device device_;
};

/// One-shot in-memory join.
JoinPairs join_points(const JoinGrid& grid, const double* x, const double* y, std::size_t n,
                      const JoinOptions& options = {});

/// The file-to-file join behind `cohort join`.
struct JoinFileOptions {
  std::string polygons, polygon_id_column, wkt_column;
  std::string points, point_id_column, x_column, y_column;
  /// .csv (point_id,polygon_id) or .npy (int64 pairs: the point's and the polygon's 0-based
  /// records in their files, skipped ones counted). One pair per containing feature, as
  /// GeoPandas' sjoin gives: features that share an id and both contain a point give it
  /// twice.
  std::string out;
  std::string counts;  ///< optional polygon_id,count CSV (every id, zeros included): pairs per id
  /// Keep one polygon per point: the smallest id (integer ids by value before other ids,
  /// which compare by their bytes; of equal ids the first in the file).
  bool first = false;
  bool skip_invalid = false;
  std::int64_t grid_cells = 0;
  /// 2^20: bigger chunks only add memory to touch (page faults) and gain nothing;
  /// 2^22 ran 1.8x slower end to end from CSV on 10^7 points.
  std::size_t chunk_points = std::size_t(1) << 20;
  std::size_t gpu_memory = 0;
  Device device = Device::Auto;
  bool progress = true;
};

struct JoinSummary {
  std::uint64_t points = 0;            ///< valid points joined
  std::uint64_t matched = 0;           ///< points in at least one polygon
  std::uint64_t unmatched = 0;
  std::uint64_t invalid_points = 0;    ///< skipped (skip_invalid)
  std::uint64_t pairs = 0;
  std::uint64_t features = 0;
  std::uint64_t invalid_polygons = 0;  ///< skipped (skip_invalid)
  double seconds = 0;
  Device device = Device::Cpu;
};

/// Reads, joins in chunks and writes atomically; nothing is written when it throws.
/// Host memory is bounded by the chunk size for CSV output; .npy output keeps all pairs
/// in memory until the end (its header needs the count). Point ids: the id column's
/// bytes (CSV), else the 0-based record number.
JoinSummary join_files(const JoinFileOptions& options);

}  // namespace cohort
