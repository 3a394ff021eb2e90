/*
 * store_geometry.cpp: point-vs-store tests for the generator, the grid index over the
 * stores, and the WKT / GeoJSON text of a store.
 *
 * The index is a uniform grid (lot-sized cells) over kWorldExtent; each cell lists the
 * stores whose box, grown by the boundary margin, touches it. classify() looks at one
 * cell only, which is enough because every store is registered in every cell it touches.
 */
#include <algorithm>
#include <cmath>

#include "host/gen/format.hpp"
#include "host/gen/stores.hpp"

namespace cohort::gen {
namespace {

constexpr double kCellLon = 0.005, kCellLat = 0.004;

bool ring_crossings(const StoreRing& ring, double x, double y) {
  bool inside = false;
  const std::size_t n = ring.dx.size();
  for (std::size_t i = 0, j = n - 1; i < n; j = i++) {
    const double xi = ring.dx[i], yi = ring.dy[i], xj = ring.dx[j], yj = ring.dy[j];
    if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

double segment_distance2(double px, double py, double ax, double ay, double bx, double by) {
  const double vx = bx - ax, vy = by - ay, wx = px - ax, wy = py - ay;
  const double len2 = vx * vx + vy * vy;
  double t = len2 > 0 ? (wx * vx + wy * vy) / len2 : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  const double dx = wx - t * vx, dy = wy - t * vy;
  return dx * dx + dy * dy;
}

void append_ring_wkt(std::string& out, const StoreRing& ring) {
  out += '(';
  for (std::size_t i = 0; i < ring.x.size(); ++i) {
    if (i > 0) out += ", ";
    append_fixed(out, ring.x[i], kCoordDecimals);
    out += ' ';
    append_fixed(out, ring.y[i], kCoordDecimals);
  }
  out += ')';
}

void append_polygon_wkt(std::string& out, const StorePolygon& polygon) {
  out += '(';
  for (std::size_t r = 0; r < polygon.size(); ++r) {
    if (r > 0) out += ", ";
    append_ring_wkt(out, polygon[r]);
  }
  out += ')';
}

void append_polygon_json(std::string& out, const StorePolygon& polygon) {
  out += '[';
  for (std::size_t r = 0; r < polygon.size(); ++r) {
    if (r > 0) out += ',';
    out += '[';
    const StoreRing& ring = polygon[r];
    for (std::size_t i = 0; i < ring.x.size(); ++i) {
      if (i > 0) out += ',';
      out += '[';
      append_fixed(out, ring.x[i], kCoordDecimals);
      out += ',';
      append_fixed(out, ring.y[i], kCoordDecimals);
      out += ']';
    }
    out += ']';
  }
  out += ']';
}

}  // namespace

bool store_contains(const Store& store, double x, double y) {
  if (x < store.min_x || x > store.max_x || y < store.min_y || y > store.max_y) return false;
  for (const auto& polygon : store.parts) {
    bool inside = false;
    for (const auto& ring : polygon) inside ^= ring_crossings(ring, x, y);
    if (inside) return true;
  }
  return false;
}

double store_edge_distance2(const Store& store, double x, double y) {
  double best = 1e300;
  for (const auto& polygon : store.parts)
    for (const auto& ring : polygon)
      for (std::size_t i = 0; i + 1 < ring.dx.size(); ++i)
        best = std::min(best, segment_distance2(x, y, ring.dx[i], ring.dy[i], ring.dx[i + 1], ring.dy[i + 1]));
  return best;
}

StoreIndex::StoreIndex(const std::vector<Store>& stores) : stores_(stores) {
  const WorldExtent& e = kWorldExtent;
  columns_ = static_cast<int>(std::ceil((e.max_lon - e.min_lon) / kCellLon));
  rows_ = static_cast<int>(std::ceil((e.max_lat - e.min_lat) / kCellLat));
  cells_.resize(static_cast<std::size_t>(columns_) * rows_);
  auto column_of = [&](double x) {
    return std::clamp(static_cast<int>(std::floor((x - e.min_lon) / kCellLon)), 0, columns_ - 1);
  };
  auto row_of = [&](double y) {
    return std::clamp(static_cast<int>(std::floor((y - e.min_lat) / kCellLat)), 0, rows_ - 1);
  };
  for (std::size_t s = 0; s < stores.size(); ++s) {
    const Store& store = stores[s];
    const double m = 2 * kBoundaryMargin;
    for (int r = row_of(store.min_y - m); r <= row_of(store.max_y + m); ++r)
      for (int c = column_of(store.min_x - m); c <= column_of(store.max_x + m); ++c)
        cells_[static_cast<std::size_t>(r) * columns_ + c].push_back(static_cast<int>(s));
  }
}

StoreHits StoreIndex::classify(double x, double y) const {
  const WorldExtent& e = kWorldExtent;
  StoreHits hits;
  const int c = std::clamp(static_cast<int>(std::floor((x - e.min_lon) / kCellLon)), 0, columns_ - 1);
  const int r = std::clamp(static_cast<int>(std::floor((y - e.min_lat) / kCellLat)), 0, rows_ - 1);
  const double margin2 = kBoundaryMargin * kBoundaryMargin;
  for (int s : cells_[static_cast<std::size_t>(r) * columns_ + c]) {
    const Store& store = stores_[s];
    if (x < store.min_x - kBoundaryMargin || x > store.max_x + kBoundaryMargin || y < store.min_y - kBoundaryMargin ||
        y > store.max_y + kBoundaryMargin)
      continue;
    if (store_edge_distance2(store, x, y) < margin2) hits.near_edge = true;
    if (store_contains(store, x, y)) {
      if (hits.count < StoreHits::kMax) hits.stores[hits.count] = s;
      ++hits.count;
    }
  }
  return hits;
}

std::string store_wkt(const Store& store) {
  std::string out;
  if (store.multi()) {
    out = "MULTIPOLYGON (";
    for (std::size_t p = 0; p < store.parts.size(); ++p) {
      if (p > 0) out += ", ";
      append_polygon_wkt(out, store.parts[p]);
    }
    out += ')';
  } else {
    out = "POLYGON ";
    append_polygon_wkt(out, store.parts[0]);
  }
  return out;
}

std::string store_geojson_geometry(const Store& store) {
  std::string out;
  if (store.multi()) {
    out = "{\"type\":\"MultiPolygon\",\"coordinates\":[";
    for (std::size_t p = 0; p < store.parts.size(); ++p) {
      if (p > 0) out += ',';
      append_polygon_json(out, store.parts[p]);
    }
    out += "]}";
  } else {
    out = "{\"type\":\"Polygon\",\"coordinates\":";
    append_polygon_json(out, store.parts[0]);
    out += '}';
  }
  return out;
}

}  // namespace cohort::gen
