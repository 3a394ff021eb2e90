/*
 * manifest.cpp: manifest.json, the world's parameters and ground truth in one place:
 * seed, size, counts, time window, extent, segment proportions / rhythms / category
 * affinities, store shapes and designed pairs, and every file (rows, bytes, whether it is
 * ground truth). No timings or thread counts, so it is byte-identical for a seed too.
 */
#include <algorithm>
#include <cstdio>

#include "cohort/atomic_file.hpp"
#include "host/gen/model.hpp"
#include "host/gen/world.hpp"

namespace cohort::gen {
namespace {

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

}  // namespace

void write_manifest(const World& world, const std::vector<GeneratedFile>& files) {
  const auto& model = world_model();
  const WorldExtent& e = kWorldExtent;
  std::string j = "{\n";
  j += "  \"generator\": \"cohort generate\",\n";
  j += "  \"version\": " + quoted(COHORT_VERSION) + ",\n";
  j += "  \"seed\": " + std::to_string(world.seed) + ",\n";
  j += "  \"size\": " + quoted(world.size.name) + ",\n";
  j += "  \"counts\": {\"customers\": " + std::to_string(world.customers.size()) +
       ", \"stores\": " + std::to_string(world.stores.size()) + ", \"pings\": " + std::to_string(world.size.pings) +
       ", \"events\": " + std::to_string(world.size.events) +
       ", \"pings_in_stores\": " + std::to_string(world.pings_in_stores) +
       ", \"duplicate_events\": " + std::to_string(world.duplicate_events) +
       ", \"late_events\": " + std::to_string(world.late_events) +
       ", \"purchases\": " + std::to_string(world.purchases) + "},\n";
  j += "  \"time_window\": {\"start\": " + std::to_string(kWindowStart) + ", \"end\": " + std::to_string(kWindowEnd) +
       ", \"start_utc\": \"2024-03-04T07:00:00Z\", \"days\": 28, \"local_utc_offset_hours\": -7, "
       "\"note\": \"timestamps are Unix seconds in [start, end); rhythms are in local time, the window starts on a "
       "Monday 00:00 local\"},\n";
  j += "  \"extent\": {\"min_lon\": " + number(e.min_lon) + ", \"min_lat\": " + number(e.min_lat) +
       ", \"max_lon\": " + number(e.max_lon) + ", \"max_lat\": " + number(e.max_lat) + "},\n";
  j += "  \"coordinate_decimals\": 7,\n";
  j += "  \"boundary_margin_degrees\": " + number(kBoundaryMargin) + ",\n";
  j += "  \"categories\": [";
  for (int c = 0; c < kCategories; ++c) j += (c ? ", " : "") + quoted(category_name(c));
  j += "],\n  \"segments\": [\n";
  for (int s = 0; s < kSegments; ++s) {
    const SegmentModel& seg = model.segments[s];
    const int top = static_cast<int>(std::max_element(seg.affinity.begin(), seg.affinity.end()) - seg.affinity.begin());
    j += "    {\"segment\": " + std::to_string(s) + ", \"name\": " + quoted(seg.name) +
         ", \"proportion\": " + number(seg.proportion) +
         ", \"customers\": " + std::to_string(world.segment_counts[s]) + ", \"shops\": " + quoted(seg.rhythm) +
         ", \"visit_fraction\": " + number(seg.visit_fraction) + ", \"purchase_rate\": " + number(seg.purchase_rate) +
         ", \"income_median\": " + number(seg.income_median) + ", \"spend_median\": " + number(seg.spend_median) +
         ", \"top_category\": " + quoted(category_name(top)) + ", \"category_affinity\": {";
    for (int c = 0; c < kCategories; ++c) j += (c ? ", " : "") + quoted(category_name(c)) + ": " + number(seg.affinity[c]);
    j += "}}" + std::string(s + 1 < kSegments ? ",\n" : "\n");
  }
  j += "  ],\n";

  std::array<int, kStoreShapes> shapes{};
  std::string overlapping, shared;
  for (std::size_t s = 0; s < world.stores.size(); ++s) {
    const Store& store = world.stores[s];
    ++shapes[static_cast<int>(store.shape)];
    if (store.partner > static_cast<int>(s)) {
      std::string& list = store.shape == StoreShape::OverlapPair ? overlapping : shared;
      list += (list.empty() ? "[" : ", [") + quoted(store.id) + ", " + quoted(world.stores[store.partner].id) + "]";
    }
  }
  j += "  \"stores\": {\"shapes\": {";
  for (int k = 0; k < kStoreShapes; ++k)
    j += (k ? ", " : "") + quoted(shape_name(static_cast<StoreShape>(k))) + ": " + std::to_string(shapes[k]);
  j += "}, \"overlapping_pairs\": [" + overlapping + "], \"shared_edge_pairs\": [" + shared + "]},\n";

  j += "  \"files\": [\n";
  for (std::size_t f = 0; f < files.size(); ++f)
    j += "    {\"name\": " + quoted(files[f].name) + ", \"rows\": " + std::to_string(files[f].rows) +
         ", \"bytes\": " + std::to_string(files[f].bytes) +
         ", \"ground_truth\": " + (files[f].ground_truth ? "true" : "false") + "},\n";
  j += "    {\"name\": \"manifest.json\", \"rows\": 0, \"ground_truth\": false}\n  ],\n";
  j += "  \"ground_truth_files\": [";
  bool first = true;
  for (const auto& f : files)
    if (f.ground_truth) j += (first ? "" : ", ") + quoted(f.name), first = false;
  j += "]\n}\n";
  write_text_file(world.path("manifest.json"), j);
}

}  // namespace cohort::gen
