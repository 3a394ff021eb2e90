/*
 * stores.hpp: store polygons of the synthetic city and a grid index to test points
 * against them.
 *
 * Stores sit in "lots" (0.005 x 0.004 degree cells, about 430 x 445 m), one slot per lot,
 * lots drawn with a weight that favours downtown and the neighbourhoods. A slot holds one
 * store or a designed pair (overlapping, or sharing an edge exactly), so stores never
 * overlap by accident. Vertices are integer multiples of 1e-7 degrees; rings are closed,
 * exteriors counter-clockwise and holes clockwise.
 */
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cohort/generate.hpp"

namespace cohort::gen {

enum class StoreShape { Rect, RotatedRect, Regular, LShape, Star, Courtyard, Multi, OverlapPair, SharedEdgePair };
inline constexpr int kStoreShapes = 9;
const char* shape_name(StoreShape shape);

struct StoreRing {
  std::vector<std::int64_t> x, y;  ///< 1e-7 degree units, closed (last == first)
  std::vector<double> dx, dy;      ///< the same in degrees
};
/// rings[0] is the exterior, the rest are holes.
using StorePolygon = std::vector<StoreRing>;

struct Store {
  std::string id, name;
  int category = 0;
  StoreShape shape = StoreShape::Rect;
  std::vector<StorePolygon> parts;  ///< one Polygon, or the parts of a MultiPolygon
  double min_x = 0, min_y = 0, max_x = 0, max_y = 0;
  double popularity = 1;
  int partner = -1;  ///< the other store of an overlapping or edge-sharing pair
  bool multi() const { return parts.size() > 1; }
};

/// Builds `count` stores for the seed (count <= 3000 fits the lots).
std::vector<Store> make_stores(std::uint64_t seed, std::uint64_t count);

/// Even-odd point-in-polygon over all rings of all parts.
bool store_contains(const Store& store, double x, double y);
/// Squared distance (degrees^2) from a point to the nearest edge of the store.
double store_edge_distance2(const Store& store, double x, double y);

/// Where a point stands with respect to all stores.
struct StoreHits {
  static constexpr int kMax = 4;
  int count = 0;                  ///< stores containing the point
  std::array<int, kMax> stores{};  ///< the first kMax of them
  bool near_edge = false;         ///< within kBoundaryMargin of some store edge
};

class StoreIndex {
 public:
  explicit StoreIndex(const std::vector<Store>& stores);
  StoreHits classify(double x, double y) const;
  /// True when the point is outside every store and clear of every edge.
  bool clear_outside(double x, double y) const {
    const StoreHits hits = classify(x, y);
    return hits.count == 0 && !hits.near_edge;
  }

 private:
  const std::vector<Store>& stores_;
  int columns_ = 0, rows_ = 0;
  std::vector<std::vector<int>> cells_;
};

/// "POLYGON ((x y, ...), (...))" or "MULTIPOLYGON (((...)), ((...)))".
std::string store_wkt(const Store& store);
/// The GeoJSON geometry object of the store.
std::string store_geojson_geometry(const Store& store);

}  // namespace cohort::gen
