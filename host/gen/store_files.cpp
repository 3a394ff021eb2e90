/*
 * store_files.cpp: builds the stores with their index and choice tables, and writes
 * stores.csv (store_id,name,category,wkt) and stores.geojson (one Feature per line).
 */
#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "host/gen/format.hpp"
#include "host/gen/model.hpp"
#include "host/gen/world.hpp"

namespace cohort::gen {
namespace {

/// A point well inside the store and clear of every edge: the fallback for a visit ping.
void find_anchor(World& world, std::size_t s) {
  const Store& store = world.stores[s];
  GenRng rng(world.seed, Stream::Stores, 1000000 + s);
  for (int attempt = 0; attempt < 1000000; ++attempt) {
    const std::int64_t ux = coord_units(rng.uniform(store.min_x, store.max_x));
    const std::int64_t uy = coord_units(rng.uniform(store.min_y, store.max_y));
    const double x = coord_degrees(ux), y = coord_degrees(uy);
    if (!store_contains(store, x, y)) continue;
    const StoreHits hits = world.index->classify(x, y);
    if (hits.near_edge) continue;
    world.anchors[s] = {ux, uy};
    world.anchor_hits[s] = hits;
    return;
  }
  throw Error("generate: no interior point found in store " + store.id);  // unreachable for these shapes
}

}  // namespace

void build_stores(World& world, std::vector<GeneratedFile>& files) {
  const auto& model = world_model();
  world.stores = make_stores(world.seed, world.size.stores);
  world.index = std::make_unique<StoreIndex>(world.stores);
  world.anchors.resize(world.stores.size());
  world.anchor_hits.resize(world.stores.size());
  for (std::size_t s = 0; s < world.stores.size(); ++s) find_anchor(world, s);
  for (int seg = 0; seg < kSegments; ++seg) {
    std::vector<double> weights;
    for (const Store& store : world.stores) weights.push_back(model.segments[seg].affinity[store.category] * store.popularity);
    world.store_choice[seg] = AliasTable(weights);
    world.category_choice[seg] = AliasTable(
        std::vector<double>(model.segments[seg].affinity.begin(), model.segments[seg].affinity.end()));
  }

  AtomicFile csv(world.path("stores.csv"));
  csv.write("store_id,name,category,wkt\n");
  AtomicFile geojson(world.path("stores.geojson"));
  geojson.write("{\"type\":\"FeatureCollection\",\"features\":[\n");
  std::string line;
  for (std::size_t s = 0; s < world.stores.size(); ++s) {
    const Store& store = world.stores[s];
    line = store.id + "," + csv_escape(store.name) + "," + category_name(store.category) + "," +
           csv_escape(store_wkt(store)) + "\n";
    csv.write(line);
    line = "{\"type\":\"Feature\",\"properties\":{\"store_id\":\"" + store.id + "\",\"name\":\"" + store.name +
           "\",\"category\":\"" + category_name(store.category) + "\"},\"geometry\":" + store_geojson_geometry(store) +
           "}" + (s + 1 < world.stores.size() ? ",\n" : "\n");
    geojson.write(line);
  }
  geojson.write("]}\n");
  csv.commit();
  geojson.commit();
  files.push_back(file_entry(world, "stores.csv", world.stores.size(), false));
  files.push_back(file_entry(world, "stores.geojson", world.stores.size(), false));
}

}  // namespace cohort::gen
