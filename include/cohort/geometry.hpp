/*
 * geometry.hpp: polygon sets as structure-of-arrays plus offsets, and their readers.
 *
 *   x, y                     vertex coordinates (double), rings stored open: a closing
 *                            vertex equal to the first one is dropped on input
 *   ring_offsets             rings + 1 entries: ring r is vertices [ring_offsets[r], ring_offsets[r+1])
 *   polygon_ring_offsets     polygons + 1: polygon p is rings [..[p], ..[p+1]); its first ring
 *                            is the shell, the others holes
 *   feature_polygon_offsets  features + 1: feature f is polygons [..[f], ..[f+1]) (a Polygon
 *                            has one, a MultiPolygon several)
 *   ids                      one id per feature, the input bytes passed through unchanged
 *                            (any encoding from CSV; GeoJSON, being JSON, must be UTF-8:
 *                            a file with other bytes is rejected as invalid JSON); ids
 *                            need not be unique
 *
 * A feature is the unit of the join: a point is inside feature f when the even-odd rule
 * over all edges of all rings of f says so (see join.hpp for the exact boundary rule).
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cohort {

struct PolygonSet {
  std::vector<double> x, y;
  std::vector<std::uint64_t> ring_offsets{0};
  std::vector<std::uint64_t> polygon_ring_offsets{0};
  std::vector<std::uint64_t> feature_polygon_offsets{0};
  std::vector<std::string> ids;

  std::size_t features() const { return ids.size(); }
  std::size_t polygons() const { return polygon_ring_offsets.size() - 1; }
  std::size_t rings() const { return ring_offsets.size() - 1; }
  std::size_t vertices() const { return x.size(); }

  /// Appends one ring (open or closed) to the polygon being built.
  void add_ring(const std::vector<double>& ring_x, const std::vector<double>& ring_y);
  /// Closes the polygon made of the rings added since the last end_polygon().
  void end_polygon();
  /// Closes the feature made of the polygons since the last end_feature().
  void end_feature(std::string id);
  /// Appends every feature of another set.
  void append(const PolygonSet& other);
};

/// Why a ring or a coordinate list is unusable ("" when it is fine): fewer than 3
/// distinct vertices, or a NaN/infinite coordinate.
std::string ring_problem(const std::vector<double>& ring_x, const std::vector<double>& ring_y);

struct PolygonReadOptions {
  /// Column (CSV) or property (GeoJSON) holding the id. Empty: CSV uses "id", else the
  /// first column ending in "_id", else the first column; GeoJSON uses the property
  /// "id", else the first property ending in "_id", else the feature's "id" member,
  /// else the feature index.
  std::string id_column;
  /// CSV column with the WKT (empty: "wkt", else "geometry", else "geom").
  std::string wkt_column;
  /// Skip (and count) invalid records instead of throwing InvalidInput.
  bool skip_invalid = false;
};

struct PolygonReadResult {
  PolygonSet polygons;
  /// Per feature of polygons: its 0-based record in the file (CSV row or GeoJSON feature,
  /// skipped ones counted), what a .npy join output names it by.
  std::vector<std::uint64_t> record;
  std::uint64_t records = 0;  ///< features seen in the file
  std::uint64_t skipped = 0;  ///< invalid records skipped (skip_invalid only)
  std::string first_problem;  ///< the first skipped record's message
};

/// Reads .csv (WKT column) or .geojson/.json (FeatureCollection, Feature or bare
/// geometry) by extension. Polygon and MultiPolygon with holes. Errors name the file and
/// the CSV line or the GeoJSON feature index.
PolygonReadResult read_polygons(const std::string& path, const PolygonReadOptions& options = {});

/// Parses one WKT POLYGON or MULTIPOLYGON into set (as one feature with the given id);
/// throws InvalidInput(problem) without file context on malformed text.
void parse_wkt_feature(const std::string& wkt, std::string id, PolygonSet& set);

/// A block of points read from a file; ids are kept as bytes (CSV) or absent (.npy or
/// no id column: the id is the 0-based row among all records, first_row + i).
struct PointChunk {
  std::vector<double> x, y;
  std::vector<std::uint64_t> row;        ///< 0-based record number of each point in the file
  std::string id_bytes;                  ///< ids back to back (when has_ids)
  std::vector<std::uint64_t> id_offsets; ///< size() + 1 offsets into id_bytes (when has_ids)
  bool has_ids = false;
  std::size_t size() const { return x.size(); }
  std::string id(std::size_t i) const {
    return has_ids ? id_bytes.substr(id_offsets[i], id_offsets[i + 1] - id_offsets[i]) : std::to_string(row[i]);
  }
};

struct PointReadOptions {
  std::string id_column;  ///< empty: "id", else the first column ending in "_id", else none (row number)
  std::string x_column;   ///< empty: x, lon, lng, longitude
  std::string y_column;   ///< empty: y, lat, latitude
  bool skip_invalid = false;
  /// 2^20: bigger chunks only add memory to touch (page faults) and gain nothing;
  /// 2^22 ran 1.8x slower end to end from CSV on 10^7 points.
  std::size_t chunk_points = std::size_t(1) << 20;
};

/// Streams points from .csv (columns by name) or .npy (float32/float64, shape (n, 2)).
/// Missing or non-finite coordinates throw InvalidInput(file, line) or, with
/// skip_invalid, are skipped and counted.
class PointReader {
 public:
  PointReader(std::string path, PointReadOptions options);
  ~PointReader();
  PointReader(const PointReader&) = delete;
  PointReader& operator=(const PointReader&) = delete;
  /// Fills chunk with the next points (possibly 0 when a whole chunk was invalid);
  /// false at the end of the file.
  bool next(PointChunk& chunk);
  std::uint64_t invalid() const { return invalid_; }
  const std::string& first_problem() const { return first_problem_; }
  /// Progress in file units: bytes for CSV, rows for .npy.
  std::uint64_t total_units() const;
  std::uint64_t done_units() const;

 private:
  struct Impl;
  // Throws InvalidInput, or with skip_invalid counts the point and keeps the first problem.
  void record_invalid(std::uint64_t line, const std::string& problem);
  std::unique_ptr<Impl> impl_;
  std::uint64_t invalid_ = 0;
  std::string first_problem_;
};

}  // namespace cohort
