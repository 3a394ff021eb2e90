/*
 * store_shapes.cpp: lays out the city's stores (see stores.hpp).
 *
 * 1. The slot sequence: the first nine slots cover every shape (so even the tiny world has
 *    convex, concave, holed, multi-part, overlapping and edge-sharing stores), then shapes
 *    are drawn with fixed probabilities. Pairs take one slot and two store ids.
 * 2. Lots are chosen by weighted sampling without replacement (Efraimidis-Spirakis keys
 *    log(u)/w, largest first): downtown and the neighbourhoods get more stores.
 * 3. Each slot's shapes are built in metres, placed at a random spot inside the lot
 *    (20 m clear of its sides) and rounded to 1e-7 degrees.
 */
#include <algorithm>
#include <cmath>
#include <numeric>

#include "cohort/error.hpp"
#include "host/gen/format.hpp"
#include "host/gen/model.hpp"
#include "host/gen/rng.hpp"
#include "host/gen/stores.hpp"

namespace cohort::gen {
namespace {

constexpr double kLotLon = 0.005, kLotLat = 0.004;
constexpr double kLotsMinLon = -105.18, kLotsMinLat = 39.55;
constexpr int kLotColumns = 76, kLotRows = 95;
constexpr double kLotClearance = 20.0;  // metres kept free at each side of a lot
constexpr double kPi = 3.14159265358979323846;

using Point = std::pair<double, double>;  // metres
using Ring = std::vector<Point>;          // open (not closed)
using Shape = std::vector<Ring>;          // exterior then holes
using Slot = std::vector<std::vector<Shape>>;  // stores -> parts -> rings

Ring rect(double x0, double y0, double x1, double y1) { return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}; }

/// Rotates a ring about the origin (keeps orientation).
Ring rotated(const Ring& ring, double angle) {
  Ring out;
  const double c = std::cos(angle), s = std::sin(angle);
  for (const auto& p : ring) out.emplace_back(c * p.first - s * p.second, s * p.first + c * p.second);
  return out;
}

Slot build_slot(StoreShape shape, GenRng& rng) {
  switch (shape) {
    case StoreShape::Rect:
      return {{{rect(0, 0, rng.uniform(50, 300), rng.uniform(50, 300))}}};
    case StoreShape::RotatedRect: {
      const double w = rng.uniform(50, 220), h = rng.uniform(50, 220);
      return {{{rotated(rect(-w / 2, -h / 2, w / 2, h / 2), rng.uniform(0.15, 1.4))}}};
    }
    case StoreShape::Regular: {
      const int n = 5 + static_cast<int>(rng.below(4));
      const double radius = rng.uniform(30, 150), start = rng.uniform(0, 2 * kPi);
      Ring ring;
      for (int k = 0; k < n; ++k) {
        const double a = start + 2 * kPi * k / n;
        ring.emplace_back(radius * std::cos(a), radius * std::sin(a));
      }
      return {{{ring}}};
    }
    case StoreShape::LShape: {
      const double w = rng.uniform(80, 300), h = rng.uniform(80, 300);
      const double a = w * rng.uniform(0.35, 0.65), b = h * rng.uniform(0.35, 0.65);
      Ring ring{{0, 0}, {w, 0}, {w, b}, {a, b}, {a, h}, {0, h}};
      return {{{rotated(ring, kPi / 2 * static_cast<double>(rng.below(4)))}}};
    }
    case StoreShape::Star: {
      const int n = 5 + static_cast<int>(rng.below(3));
      const double outer = rng.uniform(50, 150), inner = outer * rng.uniform(0.4, 0.6);
      const double start = rng.uniform(0, 2 * kPi);
      Ring ring;
      for (int k = 0; k < 2 * n; ++k) {
        const double a = start + kPi * k / n, r = k % 2 == 0 ? outer : inner;
        ring.emplace_back(r * std::cos(a), r * std::sin(a));
      }
      return {{{ring}}};
    }
    case StoreShape::Courtyard: {
      const double w = rng.uniform(90, 300), h = rng.uniform(90, 300);
      const double hx = rng.uniform(0.25, 0.35), hy = rng.uniform(0.25, 0.35);
      Ring hole{{w * hx, h * hy}, {w * hx, h * (1 - hy)}, {w * (1 - hx), h * (1 - hy)}, {w * (1 - hx), h * hy}};
      return {{{rect(0, 0, w, h), hole}}};
    }
    case StoreShape::Multi: {
      const double w1 = rng.uniform(40, 150), h1 = rng.uniform(50, 250);
      const double gap = rng.uniform(20, 60), w2 = rng.uniform(60, 150), h2 = rng.uniform(60, 250);
      const double x2 = w1 + gap, y2 = rng.uniform(-40, 40);
      Shape second{rect(x2, y2, x2 + w2, y2 + h2)};
      if (rng.uniform() < 0.5)  // a holed part: Multi + hole in one geometry
        second.push_back({{x2 + w2 * 0.3, y2 + h2 * 0.3}, {x2 + w2 * 0.3, y2 + h2 * 0.7},
                          {x2 + w2 * 0.7, y2 + h2 * 0.7}, {x2 + w2 * 0.7, y2 + h2 * 0.3}});
      return {{Shape{rect(0, 0, w1, h1)}, second}};
    }
    case StoreShape::OverlapPair: {
      const double w = rng.uniform(60, 200), h = rng.uniform(60, 200);
      const double w2 = w * rng.uniform(0.6, 1.0), h2 = h * rng.uniform(0.6, 1.0);
      const double ox = w * rng.uniform(0.3, 0.7), oy = h * rng.uniform(0.3, 0.7);
      return {{{rect(0, 0, w, h)}}, {{rect(ox, oy, ox + w2, oy + h2)}}};
    }
    case StoreShape::SharedEdgePair: {
      // One rectangle cut in two along a slanted (or, one time in three, vertical) line:
      // both stores hold the very same two vertices of the cut.
      const double w = rng.uniform(100, 300), h = rng.uniform(60, 250);
      const double xa = w * rng.uniform(0.3, 0.5);
      const double xb = rng.below(3) == 0 ? xa : w * rng.uniform(0.5, 0.7);
      return {{{Ring{{0, 0}, {xa, 0}, {xb, h}, {0, h}}}}, {{Ring{{xa, 0}, {w, 0}, {w, h}, {xb, h}}}}};
    }
  }
  return {};
}

StoreShape draw_shape(GenRng& rng) {
  static const double weights[kStoreShapes] = {0.25, 0.12, 0.10, 0.15, 0.10, 0.10, 0.10, 0.05, 0.03};
  return static_cast<StoreShape>(rng.categorical(weights, kStoreShapes));
}

/// The slot shapes: every shape first, then random ones, until `count` store ids are used.
std::vector<StoreShape> slot_shapes(std::uint64_t count, GenRng& rng) {
  static const StoreShape first[] = {StoreShape::Rect,      StoreShape::LShape,         StoreShape::Star,
                                     StoreShape::Courtyard, StoreShape::Multi,          StoreShape::OverlapPair,
                                     StoreShape::SharedEdgePair, StoreShape::Regular, StoreShape::RotatedRect};
  std::vector<StoreShape> slots;
  std::uint64_t used = 0;
  for (std::size_t i = 0; used < count; ++i) {
    StoreShape shape = i < std::size(first) ? first[i] : draw_shape(rng);
    const bool pair = shape == StoreShape::OverlapPair || shape == StoreShape::SharedEdgePair;
    if (pair && used + 2 > count) shape = StoreShape::Rect;
    used += (shape == StoreShape::OverlapPair || shape == StoreShape::SharedEdgePair) ? 2 : 1;
    slots.push_back(shape);
  }
  return slots;
}

/// Lot indices, the most wanted first.
std::vector<int> choose_lots(std::size_t count, GenRng& rng) {
  const auto& model = world_model();
  std::vector<std::pair<double, int>> keys;
  for (int row = 0; row < kLotRows; ++row)
    for (int col = 0; col < kLotColumns; ++col) {
      const double x = kLotsMinLon + (col + 0.5) * kLotLon, y = kLotsMinLat + (row + 0.5) * kLotLat;
      auto bump = [&](double cx, double cy, double sigma) {
        const double dx = (x - cx) * 0.77, dy = y - cy;  // 0.77: degrees of lon are shorter
        return std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
      };
      double w = 0.15 + bump(-104.99, 39.74, 0.06);
      for (const auto& n : model.neighbourhoods) w += 0.8 * bump(n.lon, n.lat, 0.012);
      double u = rng.uniform();
      while (u <= 0) u = rng.uniform();
      keys.emplace_back(std::log(u) / w, row * kLotColumns + col);
    }
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<int> lots;
  for (std::size_t i = 0; i < count; ++i) lots.push_back(keys[i].second);
  return lots;
}

StoreRing to_ring(const Ring& metres, double origin_lon, double origin_lat) {
  StoreRing ring;
  for (std::size_t i = 0; i <= metres.size(); ++i) {
    const Point& p = metres[i % metres.size()];
    const std::int64_t ux = coord_units(origin_lon + p.first * kLonPerMetre);
    const std::int64_t uy = coord_units(origin_lat + p.second * kLatPerMetre);
    ring.x.push_back(ux);
    ring.y.push_back(uy);
    ring.dx.push_back(coord_degrees(ux));
    ring.dy.push_back(coord_degrees(uy));
  }
  return ring;
}

const char* const kNamePrefixes[] = {"Aspen",      "Summit",    "Cherry",    "Union",   "Larimer", "Platte",
                                     "Mile High",  "Blue Spruce", "Front Range", "Red Rocks", "Columbine",
                                     "Evergreen", "Pikes Peak", "Cedar",     "Granite", "Maple"};
const char* const kCategoryNouns[kCategories] = {"Sporting Goods", "Electronics", "Game Shop",  "Music Hall",
                                                 "Boutique",       "Market",      "Travel Co", "Books",
                                                 "Pharmacy",       "Home Goods",  "Beauty Bar", "Auto Parts"};

}  // namespace

const char* shape_name(StoreShape shape) {
  static const char* const names[kStoreShapes] = {"rect",  "rotated_rect", "regular", "l_shape",          "star",
                                                  "courtyard", "multipolygon", "overlap_pair", "shared_edge_pair"};
  return names[static_cast<int>(shape)];
}

std::vector<Store> make_stores(std::uint64_t seed, std::uint64_t count) {
  COHORT_EXPECTS(count <= 3000, "at most 3000 stores fit the synthetic city");
  GenRng rng(seed, Stream::Stores, 0), lot_rng(seed, Stream::Lots, 0);
  const auto& model = world_model();
  const auto slots = slot_shapes(count, rng);
  const auto lots = choose_lots(slots.size(), lot_rng);

  // Categories: each one once (shuffled) while there are fewer than 12 stores, then by demand.
  std::array<double, kCategories> demand{};
  for (const auto& segment : model.segments)
    for (int c = 0; c < kCategories; ++c) demand[c] += segment.proportion * segment.affinity[c];
  std::array<int, kCategories> first_categories;
  std::iota(first_categories.begin(), first_categories.end(), 0);
  for (int i = kCategories - 1; i > 0; --i) std::swap(first_categories[i], first_categories[rng.below(i + 1)]);

  std::vector<Store> stores;
  const int width = id_width(count, 4);
  for (std::size_t s = 0; s < slots.size(); ++s) {
    const Slot slot = build_slot(slots[s], rng);
    double lo_x = 1e300, lo_y = 1e300, hi_x = -1e300, hi_y = -1e300;
    for (const auto& store : slot)
      for (const auto& part : store)
        for (const auto& p : part[0]) {
          lo_x = std::min(lo_x, p.first), hi_x = std::max(hi_x, p.first);
          lo_y = std::min(lo_y, p.second), hi_y = std::max(hi_y, p.second);
        }
    const double lot_w = kLotLon / kLonPerMetre - 2 * kLotClearance, lot_h = kLotLat / kLatPerMetre - 2 * kLotClearance;
    const double slack_x = std::max(0.0, lot_w - (hi_x - lo_x)), slack_y = std::max(0.0, lot_h - (hi_y - lo_y));
    const int lot = lots[s];
    // Origin (metres inside the lot) so that the slot's box lies within the cleared lot.
    const double lot_lon = kLotsMinLon + (lot % kLotColumns) * kLotLon;
    const double lot_lat = kLotsMinLat + (lot / kLotColumns) * kLotLat;
    const double off_x = kLotClearance + rng.uniform() * slack_x - lo_x;
    const double off_y = kLotClearance + rng.uniform() * slack_y - lo_y;
    const double origin_lon = lot_lon + off_x * kLonPerMetre, origin_lat = lot_lat + off_y * kLatPerMetre;
    const int first_index = static_cast<int>(stores.size());
    for (std::size_t k = 0; k < slot.size(); ++k) {
      Store store;
      const std::size_t index = stores.size();
      store.id = "s";
      append_uint(store.id, index + 1, width);
      store.category = index < kCategories ? first_categories[index] : static_cast<int>(rng.categorical(demand, kCategories));
      store.name = std::string(kNamePrefixes[rng.below(std::size(kNamePrefixes))]) + " " + kCategoryNouns[store.category];
      store.shape = slots[s];
      store.popularity = std::exp(0.5 * rng.normal());
      if (slot.size() == 2) store.partner = first_index + static_cast<int>(1 - k);
      store.min_x = store.min_y = 1e300;
      store.max_x = store.max_y = -1e300;
      for (const auto& part : slot[k]) {
        StorePolygon polygon;
        for (const auto& ring : part) polygon.push_back(to_ring(ring, origin_lon, origin_lat));
        for (std::size_t i = 0; i < polygon[0].dx.size(); ++i) {
          store.min_x = std::min(store.min_x, polygon[0].dx[i]), store.max_x = std::max(store.max_x, polygon[0].dx[i]);
          store.min_y = std::min(store.min_y, polygon[0].dy[i]), store.max_y = std::max(store.max_y, polygon[0].dy[i]);
        }
        store.parts.push_back(std::move(polygon));
      }
      stores.push_back(std::move(store));
    }
  }
  return stores;
}

}  // namespace cohort::gen
