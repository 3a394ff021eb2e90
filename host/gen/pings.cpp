/*
 * pings.cpp: GPS pings (ping_id,user_id,lon,lat,timestamp), time-ordered.
 *
 * For a ping in hour h (local hour-of-week w = h mod 168): segment s ~ A_s (shop_s[w] +
 * background_s[w]) with A_s the segment's total ping activity; the user ~ activity within s.
 * It is a store visit with probability shop_s[w] / (shop_s[w] + background_s[w]): a store
 * from the user's favourites (70%) or the segment's preferences (affinity x popularity),
 * at a uniform point inside it. Otherwise it is at home (+-25 m, share home_share[w]), near
 * work on weekday office hours (+-60 m), or somewhere in the city. Every point is rounded
 * to 1e-7 degrees and re-drawn until it is inside its store (visits) or outside all stores
 * (others), and clear of every edge by kBoundaryMargin.
 */
#include <algorithm>
#include <cmath>

#include "host/gen/format.hpp"
#include "host/gen/model.hpp"
#include "host/gen/schedule.hpp"
#include "host/gen/world.hpp"

namespace cohort::gen {
namespace {

constexpr int kTries = 64;

struct Point {
  std::int64_t x, y;
};

bool in_extent(std::int64_t ux, std::int64_t uy) {
  const double x = coord_degrees(ux), y = coord_degrees(uy);
  const WorldExtent& e = kWorldExtent;
  return x >= e.min_lon && x <= e.max_lon && y >= e.min_lat && y <= e.max_lat;
}

/// A visit: a clear point inside the store; records the stores that contain it.
Point visit_point(const World& world, int store_index, GenRng& rng, StoreHits& hits) {
  const Store& store = world.stores[store_index];
  for (int attempt = 0; attempt < kTries; ++attempt) {
    const Point p{coord_units(rng.uniform(store.min_x, store.max_x)), coord_units(rng.uniform(store.min_y, store.max_y))};
    const double x = coord_degrees(p.x), y = coord_degrees(p.y);
    if (!store_contains(store, x, y)) continue;
    hits = world.index->classify(x, y);
    if (!hits.near_edge) return p;
  }
  hits = world.anchor_hits[store_index];
  return {world.anchors[store_index][0], world.anchors[store_index][1]};
}

/// A ping outside every store near (cx, cy) with the given spread (degrees of latitude).
Point outside_point(const World& world, const Customer& c, double cx, double cy, double sigma, GenRng& rng) {
  for (int attempt = 0; attempt < kTries; ++attempt) {
    const Point p{coord_units(cx + 1.3 * sigma * rng.normal()), coord_units(cy + sigma * rng.normal())};
    if (in_extent(p.x, p.y) && world.index->clear_outside(coord_degrees(p.x), coord_degrees(p.y))) return p;
  }
  return {c.home_x, c.home_y};  // clear of stores by construction
}

}  // namespace

void write_pings(World& world, std::vector<GeneratedFile>& files) {
  const auto& model = world_model();
  std::array<double, kWindowHours> weights{};
  for (int h = 0; h < kWindowHours; ++h)
    for (int s = 0; s < kSegments; ++s)
      weights[h] += world.ping_activity[s] * (model.shop[s][h % kHoursPerWeek] + model.background[s][h % kHoursPerWeek]);
  const auto units = schedule_units(world.size.pings, weights);
  const int id_digits = id_width(world.size.pings, 8);
  world.store_pings.assign(world.stores.size(), 0);
  std::vector<std::uint64_t> visits(units.size(), 0);

  AtomicFile out(world.path("pings.csv"));
  out.write("ping_id,user_id,lon,lat,timestamp\n");
  Progress progress("pings", world.size.pings, "pings");
  write_units(out, units, progress, [&](std::size_t u, std::string& text) {
    const WorkUnit& unit = units[u];
    GenRng rng(world.seed, Stream::Pings, u);
    std::vector<std::int64_t> times(unit.count);
    for (auto& t : times) t = static_cast<std::int64_t>(std::floor(unit.start + (unit.end - unit.start) * rng.uniform()));
    std::sort(times.begin(), times.end());
    const int w = unit.hour % kHoursPerWeek, day = w / 24, hour = w % 24;
    const bool office_hours = day < 5 && hour >= 8 && hour < 18;
    double segment_weight[kSegments];
    for (int s = 0; s < kSegments; ++s)
      segment_weight[s] = world.ping_activity[s] * (model.shop[s][w] + model.background[s][w]);
    text.reserve(unit.count * 56);
    for (std::uint64_t i = 0; i < unit.count; ++i) {
      const int s = static_cast<int>(rng.categorical(segment_weight, kSegments));
      const std::uint32_t user = world.members[s][world.ping_users[s].sample(rng)];
      const Customer& c = world.customers[user];
      Point p;
      if (rng.uniform() * (model.shop[s][w] + model.background[s][w]) < model.shop[s][w]) {
        const int store = rng.uniform() < 0.7 ? c.favourites[rng.below(kFavouriteStores)]
                                              : static_cast<int>(world.store_choice[s].sample(rng));
        StoreHits hits;
        p = visit_point(world, store, rng, hits);
        ++visits[u];
        for (int k = 0; k < std::min(hits.count, StoreHits::kMax); ++k) {
#pragma omp atomic
          ++world.store_pings[hits.stores[k]];
        }
      } else if (rng.uniform() < model.home_share[w]) {
        p = outside_point(world, c, coord_degrees(c.home_x), coord_degrees(c.home_y), 25 * kLatPerMetre, rng);
      } else if (office_hours && model.segments[s].work >= 0) {
        p = outside_point(world, c, c.work_x, c.work_y, 60 * kLatPerMetre, rng);
      } else if (rng.uniform() < 0.5) {
        const auto& n = model.neighbourhoods[rng.below(kNeighbourhoods)];
        p = outside_point(world, c, n.lon, n.lat, 0.02, rng);
      } else {
        const WorldExtent& e = kWorldExtent;
        p = outside_point(world, c, rng.uniform(e.min_lon, e.max_lon), rng.uniform(e.min_lat, e.max_lat), 0.002, rng);
      }
      text += 'p';
      append_uint(text, unit.first + i + 1, id_digits);
      text += ',';
      append_user_id(text, world, user);
      text += ',';
      append_fixed(text, p.x, kCoordDecimals);
      text += ',';
      append_fixed(text, p.y, kCoordDecimals);
      text += ',';
      append_int(text, kWindowStart + times[i]);
      text += '\n';
    }
  });
  progress.finish();
  out.commit();
  world.pings_in_stores = 0;
  for (std::uint64_t v : visits) world.pings_in_stores += v;
  files.push_back(file_entry(world, "pings.csv", world.size.pings, false));
}

void write_truth_store_counts(World& world, std::vector<GeneratedFile>& files) {
  AtomicFile out(world.path("truth_store_counts.csv"));
  std::string text = "store_id,pings\n";
  for (std::size_t s = 0; s < world.stores.size(); ++s) {
    text += world.stores[s].id;
    text += ',';
    append_uint(text, world.store_pings[s]);
    text += '\n';
  }
  out.write(text);
  out.commit();
  files.push_back(file_entry(world, "truth_store_counts.csv", world.stores.size(), true));
}

}  // namespace cohort::gen
