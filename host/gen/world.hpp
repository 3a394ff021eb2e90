/*
 * world.hpp: the generator's shared state and its steps. generate_world (generate.cpp)
 * runs them in order: stores -> customers -> pings -> events -> truth counts -> manifest.
 * Each step writes its files atomically and reports them as GeneratedFile entries.
 */
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cohort/generate.hpp"
#include "host/gen/rng.hpp"
#include "host/gen/stores.hpp"

namespace cohort::gen {

inline constexpr int kFavouriteStores = 4;

struct Customer {
  std::int64_t home_x = 0, home_y = 0;  ///< 1e-7 degree units, clear of every store
  double work_x = 0, work_y = 0;        ///< degrees: centre of weekday daytime pings
  float ping_activity = 1, event_activity = 1;
  std::array<std::int32_t, kFavouriteStores> favourites{};
  std::uint8_t segment = 0;
};

struct World {
  std::uint64_t seed = 0;
  WorldSize size;
  std::string dir;

  std::vector<Store> stores;
  std::unique_ptr<StoreIndex> index;
  std::vector<std::array<std::int64_t, 2>> anchors;  ///< a clear interior point per store
  std::vector<StoreHits> anchor_hits;
  std::array<AliasTable, kSegments> store_choice;     ///< affinity x popularity
  std::array<AliasTable, kSegments> category_choice;  ///< event categories

  std::vector<Customer> customers;
  std::array<std::vector<std::uint32_t>, kSegments> members;  ///< customer indices per segment
  std::array<AliasTable, kSegments> ping_users, event_users;  ///< over members, by activity
  std::array<double, kSegments> ping_activity{}, event_activity{};
  std::array<std::uint64_t, kSegments> segment_counts{};
  int customer_width = 7;

  std::vector<std::uint64_t> store_pings;  ///< pings inside each store
  std::uint64_t pings_in_stores = 0, duplicate_events = 0, late_events = 0, purchases = 0;

  std::string path(const std::string& name) const { return dir + "/" + name; }
};

/// Appends "c" + the fixed-width customer number.
void append_user_id(std::string& out, const World& world, std::uint32_t customer);
/// File entry with the size on disk.
GeneratedFile file_entry(const World& world, const std::string& name, std::uint64_t rows, bool ground_truth);

/// Stores, their index, anchors and choice tables; writes stores.csv and stores.geojson.
void build_stores(World& world, std::vector<GeneratedFile>& files);
/// Customers (fills world.customers and the per-segment tables); writes customers.csv and
/// truth_segments.csv.
void build_customers(World& world, std::vector<GeneratedFile>& files);
void write_pings(World& world, std::vector<GeneratedFile>& files);
void write_events(World& world, std::vector<GeneratedFile>& files);
void write_truth_store_counts(World& world, std::vector<GeneratedFile>& files);
void write_manifest(const World& world, const std::vector<GeneratedFile>& files);

}  // namespace cohort::gen
