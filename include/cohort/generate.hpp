/*
 * generate.hpp: `cohort generate`, a deterministic synthetic world with ground truth.
 *
 * A city of stores (polygons) and customers with latent segments. Every engine's tests,
 * benchmarks and the demo run on it and check what they recover against the truth.
 * Files written to GenerateOptions::out_dir (names and columns are a contract):
 *   customers.csv          user_id,age_band,gender,marital_status,device,city,state,zip_code,
 *                          home_lon,home_lat,income,tenure_months,spend
 *   truth_segments.csv     user_id,segment                         (ground truth)
 *   stores.csv             store_id,name,category,wkt              (WKT POLYGON/MULTIPOLYGON)
 *   stores.geojson         the same polygons as a FeatureCollection
 *   pings.csv              ping_id,user_id,lon,lat,timestamp       (time-ordered, a few % noise)
 *   events.csv             user_id,category,event,timestamp,amount (view|purchase; duplicates and
 *                          out-of-order timestamps on purpose)
 *   truth_store_counts.csv store_id,pings: pings inside each store  (ground truth for `join`)
 *   manifest.json          seed, size, counts, segment proportions and affinities, window, files
 *
 * Guarantees the tests rely on:
 *  - same seed and size -> byte-identical files, whatever the thread count (fixed work units,
 *    each with its own counter-derived RNG, written in order);
 *  - every ping lies in kWorldExtent and its timestamp in [kWindowStart, kWindowEnd);
 *  - a ping either lies inside at least one store or outside all of them, at least
 *    kBoundaryMargin degrees from every store edge, so any point-in-polygon rule agrees on it;
 *    the pings inside stores are exactly the visits, counted in the manifest;
 *  - coordinates are multiples of 1e-7 degrees printed with 7 decimals; polygon rings are
 *    closed, exteriors counter-clockwise, holes clockwise (RFC 7946), the same numbers in
 *    the WKT and the GeoJSON.
 * Pings and events are generated and written in blocks, so memory stays bounded.
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cohort {

/// The city: longitude/latitude box every generated coordinate lies in (around Denver, CO).
struct WorldExtent {
  double min_lon, min_lat, max_lon, max_lat;
};
inline constexpr WorldExtent kWorldExtent{-105.19, 39.54, -104.79, 39.94};
/// The 4-week window of pings and events: Monday 2024-03-04 00:00 local time (UTC-07:00).
inline constexpr std::int64_t kWindowStart = 1709535600;
inline constexpr std::int64_t kWindowEnd = kWindowStart + 28 * 86400;
/// Latent customer segments and event/store categories.
inline constexpr int kSegments = 6;
inline constexpr int kCategories = 12;
/// Minimum distance (degrees) of every ping and home from every store edge.
inline constexpr double kBoundaryMargin = 2e-6;

/// How many of each thing to make.
struct WorldSize {
  std::string name;  ///< "tiny", "small", "medium", "large" or the number of pings
  std::uint64_t customers = 0, stores = 0, pings = 0, events = 0;
};

/// "tiny" | "small" | "medium" | "large" | N (a number of pings, 100..10^10, the rest
/// scaled from it). Anything else throws InvalidInput naming the accepted values.
WorldSize parse_world_size(const std::string& size);

struct GenerateOptions {
  std::string size = "small";  ///< see parse_world_size
  std::string out_dir;         ///< created if missing
  std::uint64_t seed = 42;
  /// Events per customer (0: the size's own, 20 for most sizes). More events make each
  /// customer's category mix, and so the segments, easier to tell apart.
  std::uint64_t events_per_customer = 0;
};

struct GeneratedFile {
  std::string name;         ///< file name inside out_dir
  std::uint64_t rows = 0;   ///< data rows (features for GeoJSON, 0 for the manifest)
  std::uint64_t bytes = 0;
  bool ground_truth = false;
};

struct GenerateSummary {
  WorldSize size;
  std::uint64_t customers = 0, stores = 0, pings = 0, events = 0;
  std::uint64_t pings_in_stores = 0;  ///< pings inside at least one store (the visits)
  std::uint64_t bytes = 0;            ///< all files together
  double seconds = 0;
  std::vector<GeneratedFile> files;
};

/// Generates the world into options.out_dir (every file written atomically) and uses the
/// CPU threads set by set_cpu_threads. Throws InvalidInput on a bad size or empty out_dir.
GenerateSummary generate_world(const GenerateOptions& options);

/// Category names in index order ("Sports", "Technology", ...).
const char* category_name(int category);

}  // namespace cohort
