/*
 * test_generate.cpp: `cohort generate` — determinism, and that the world on disk matches
 * what its manifest states. Everything is re-derived from the files with brute force:
 * WKT and GeoJSON parsed here, point-in-polygon by even-odd over every ring of every store
 * (double precision; the generator keeps pings kBoundaryMargin away from every edge, so
 * the boundary rule cannot matter), events joined to the truth segments.
 *
 * Tolerances: segment proportions from n customers are binomial, so we allow
 * 4 sqrt(p (1 - p) / n) + 0.005; everything else is exact (counts, coordinates, bytes).
 */
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cohort/backend.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/generate.hpp"
#include "cohort/progress.hpp"
#include "host/gen/rng.hpp"
#include "host/gen/schedule.hpp"
#include "tests/test_util.hpp"

namespace cohort {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::run_cli;
using testing::TempDir;

const char* const kFiles[] = {"customers.csv", "truth_segments.csv", "stores.csv",         "stores.geojson",
                              "pings.csv",     "events.csv",         "truth_store_counts.csv", "manifest.json"};

// ---- tiny parsers -------------------------------------------------------------------------

using Ring = std::vector<std::array<double, 2>>;
using Polygon = std::vector<Ring>;        // exterior, holes
using Geometry = std::vector<Polygon>;    // parts

/// Parses "POLYGON ((x y, ...), (...))" and "MULTIPOLYGON (((...)), ((...)))".
Geometry parse_wkt(const std::string& wkt) {
  const bool multi = wkt.rfind("MULTIPOLYGON", 0) == 0;
  EXPECT_TRUE(multi || wkt.rfind("POLYGON", 0) == 0) << wkt;
  Geometry geometry;
  int depth = 0;
  const int ring_depth = multi ? 3 : 2;
  if (!multi) geometry.emplace_back();
  for (std::size_t i = 0; i < wkt.size(); ++i) {
    const char c = wkt[i];
    if (c == '(') {
      ++depth;
      if (multi && depth == 2) geometry.emplace_back();
      if (depth == ring_depth) {
        geometry.back().emplace_back();
        std::size_t end = wkt.find(')', i);
        std::string body = wkt.substr(i + 1, end - i - 1);
        const char* p = body.c_str();
        char* next = nullptr;
        while (*p) {
          const double x = std::strtod(p, &next);
          const double y = std::strtod(next, &next);
          geometry.back().back().push_back({x, y});
          p = next;
          while (*p == ',' || *p == ' ') ++p;
        }
        i = end - 1;
      }
    } else if (c == ')') {
      --depth;
    }
  }
  return geometry;
}

bool ring_crosses(const Ring& ring, double x, double y) {
  bool inside = false;
  for (std::size_t i = 0, j = ring.size() - 1; i < ring.size(); j = i++) {
    const double xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
    if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

bool geometry_contains(const Geometry& g, double x, double y) {
  for (const auto& polygon : g) {
    bool inside = false;
    for (const auto& ring : polygon) inside ^= ring_crosses(ring, x, y);
    if (inside) return true;
  }
  return false;
}

double signed_area(const Ring& ring) {
  double area = 0;
  for (std::size_t i = 0; i + 1 < ring.size(); ++i) area += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
  return area / 2;
}

struct StoreRow {
  std::string id, category;
  Geometry geometry;
  double min_x = 1e300, min_y = 1e300, max_x = -1e300, max_y = -1e300;
};

std::vector<StoreRow> read_stores(const std::string& dir) {
  CsvReader reader(dir + "/stores.csv");
  const auto id = reader.column("store_id"), category = reader.column("category"), wkt = reader.column("wkt");
  std::vector<StoreRow> stores;
  CsvChunk chunk;
  while (reader.next(chunk))
    for (std::size_t r = 0; r < chunk.rows(); ++r) {
      StoreRow store{std::string(chunk.field(r, id)), std::string(chunk.field(r, category)),
                     parse_wkt(std::string(chunk.field(r, wkt)))};
      for (const auto& part : store.geometry)
        for (const auto& p : part.at(0)) {
          store.min_x = std::min(store.min_x, p[0]), store.max_x = std::max(store.max_x, p[0]);
          store.min_y = std::min(store.min_y, p[1]), store.max_y = std::max(store.max_y, p[1]);
        }
      stores.push_back(std::move(store));
    }
  return stores;
}

/// Column `name` of a CSV file as strings.
std::vector<std::string> read_column(const std::string& path, const std::string& name) {
  CsvReader reader(path);
  const auto column = reader.column(name);
  std::vector<std::string> values;
  CsvChunk chunk;
  while (reader.next(chunk))
    for (std::size_t r = 0; r < chunk.rows(); ++r) values.emplace_back(chunk.field(r, column));
  return values;
}

std::vector<double> read_numbers(const std::string& path, const std::string& name) {
  std::vector<double> values;
  for (const auto& text : read_column(path, name)) values.push_back(std::strtod(text.c_str(), nullptr));
  return values;
}

std::map<std::string, int> read_truth(const std::string& dir) {
  const auto users = read_column(dir + "/truth_segments.csv", "user_id");
  const auto segments = read_column(dir + "/truth_segments.csv", "segment");
  std::map<std::string, int> truth;
  for (std::size_t i = 0; i < users.size(); ++i) truth[users[i]] = std::atoi(segments[i].c_str());
  return truth;
}

// ---- a shared world (N = 200000 pings: 2000 customers, 125 stores, 40000 events) ----------

class GenerateWorld : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("cohort_generate_world_" + std::to_string(::getpid()))).string();
    GenerateOptions options;
    options.size = "200000";
    options.out_dir = dir_;
    options.seed = 20240304;
    const Verbosity before = verbosity();
    set_verbosity(Verbosity::Quiet);
    summary_ = generate_world(options);
    set_verbosity(before);
    manifest_text_ = read_file(dir_ + "/manifest.json");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static simdjson::dom::element manifest() {
    static simdjson::dom::parser parser;
    return parser.parse(manifest_text_);
  }

  static std::string dir_;
  static GenerateSummary summary_;
  static std::string manifest_text_;
};
std::string GenerateWorld::dir_;
GenerateSummary GenerateWorld::summary_;
std::string GenerateWorld::manifest_text_;

TEST_F(GenerateWorld, WritesEveryFileAtomicallyWithTheStatedRows) {
  for (const char* name : kFiles) EXPECT_TRUE(fs::exists(dir_ + "/" + name)) << name;
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  EXPECT_EQ(summary_.pings, 200000u);
  EXPECT_EQ(summary_.customers, 2000u);
  EXPECT_EQ(read_column(dir_ + "/pings.csv", "ping_id").size(), summary_.pings);
  EXPECT_EQ(read_column(dir_ + "/events.csv", "user_id").size(), summary_.events);
  EXPECT_EQ(read_column(dir_ + "/customers.csv", "user_id").size(), summary_.customers);
  const auto counts = manifest()["counts"];
  EXPECT_EQ(std::uint64_t(counts["pings"]), summary_.pings);
  EXPECT_EQ(std::uint64_t(counts["stores"]), summary_.stores);
  EXPECT_EQ(std::uint64_t(counts["pings_in_stores"]), summary_.pings_in_stores);
  for (auto file : manifest()["files"].get_array()) {
    const std::string name{std::string_view(file["name"])};
    if (name == "manifest.json") continue;
    EXPECT_EQ(std::uint64_t(file["bytes"]), fs::file_size(dir_ + "/" + name)) << name;
    EXPECT_EQ(bool(file["ground_truth"]), name.rfind("truth_", 0) == 0) << name;
  }
  const std::string header = read_file(dir_ + "/customers.csv");
  EXPECT_EQ(header.rfind("user_id,age_band,gender,marital_status,device,city,state,zip_code,home_lon,home_lat,"
                         "income,tenure_months,spend\n",
                         0),
            0u);
}

TEST_F(GenerateWorld, SegmentProportionsMatchTheManifest) {
  const auto truth = read_truth(dir_);
  std::array<double, kSegments> counts{};
  for (const auto& [user, segment] : truth) {
    ASSERT_GE(segment, 0);
    ASSERT_LT(segment, kSegments);
    ++counts[segment];
  }
  const double n = static_cast<double>(truth.size());
  for (auto segment : manifest()["segments"].get_array()) {
    const auto s = std::int64_t(segment["segment"]);
    const double p = double(segment["proportion"]);
    const double tolerance = 4 * std::sqrt(p * (1 - p) / n) + 0.005;
    EXPECT_NEAR(counts[s] / n, p, tolerance) << "segment " << s << ", n " << n << ", seed 20240304";
    EXPECT_EQ(std::uint64_t(segment["customers"]), static_cast<std::uint64_t>(counts[s]));
  }
}

TEST_F(GenerateWorld, PingsLieInTheExtentAndWindowInTimeOrder) {
  const auto lon = read_numbers(dir_ + "/pings.csv", "lon"), lat = read_numbers(dir_ + "/pings.csv", "lat");
  const auto time = read_numbers(dir_ + "/pings.csv", "timestamp");
  const auto users = read_column(dir_ + "/pings.csv", "user_id");
  const auto truth = read_truth(dir_);
  const auto extent = manifest()["extent"];
  ASSERT_DOUBLE_EQ(double(extent["min_lon"]), kWorldExtent.min_lon);
  for (std::size_t i = 0; i < lon.size(); ++i) {
    ASSERT_TRUE(lon[i] >= kWorldExtent.min_lon && lon[i] <= kWorldExtent.max_lon) << "ping " << i << " lon " << lon[i];
    ASSERT_TRUE(lat[i] >= kWorldExtent.min_lat && lat[i] <= kWorldExtent.max_lat) << "ping " << i << " lat " << lat[i];
    ASSERT_GE(time[i], double(kWindowStart));
    ASSERT_LT(time[i], double(kWindowEnd));
    if (i > 0) {
      ASSERT_GE(time[i], time[i - 1]) << "ping " << i;
    }
    ASSERT_TRUE(truth.count(users[i])) << users[i];
  }
  EXPECT_EQ(std::int64_t(manifest()["time_window"]["start"]), kWindowStart);
  EXPECT_EQ(std::int64_t(manifest()["time_window"]["end"]), kWindowEnd);
}

TEST_F(GenerateWorld, PolygonsAreValidAndGeoJsonAgreesWithWkt) {
  const auto stores = read_stores(dir_);
  ASSERT_EQ(stores.size(), summary_.stores);
  simdjson::dom::parser parser;
  const auto geojson = parser.load(dir_ + "/stores.geojson");
  auto features = geojson["features"].get_array();
  ASSERT_EQ(features.size(), stores.size());
  std::size_t f = 0;
  for (auto feature : features) {
    const StoreRow& store = stores[f++];
    SCOPED_TRACE(store.id);
    EXPECT_EQ(std::string_view(feature["properties"]["store_id"]), store.id);
    EXPECT_EQ(std::string_view(feature["properties"]["category"]), store.category);
    const std::string_view type = feature["geometry"]["type"];
    EXPECT_EQ(type, store.geometry.size() > 1 ? "MultiPolygon" : "Polygon");
    // GeoJSON coordinates, flattened to the same parts/rings layout.
    Geometry from_json;
    simdjson::dom::array coordinates = feature["geometry"]["coordinates"].get_array();
    auto add_polygon = [&](simdjson::dom::array rings) {
      Polygon polygon;
      for (auto ring : rings) {
        Ring points;
        for (auto point : ring.get_array()) points.push_back({double(point.at(0)), double(point.at(1))});
        polygon.push_back(points);
      }
      from_json.push_back(polygon);
    };
    if (type == "Polygon") {
      add_polygon(coordinates);
    } else {
      for (auto part : coordinates) add_polygon(part.get_array());
    }
    EXPECT_EQ(from_json, store.geometry);  // exactly the same doubles: same decimal text

    for (const auto& polygon : store.geometry) {
      ASSERT_FALSE(polygon.empty());
      for (std::size_t r = 0; r < polygon.size(); ++r) {
        const Ring& ring = polygon[r];
        ASSERT_GE(ring.size(), 4u);
        EXPECT_EQ(ring.front(), ring.back()) << "ring not closed";
        for (const auto& p : ring) ASSERT_TRUE(std::isfinite(p[0]) && std::isfinite(p[1]));
        const double area = signed_area(ring);
        if (r == 0) {
          EXPECT_GT(area, 0) << "exterior must be counter-clockwise";
        }
        if (r > 0) {
          EXPECT_LT(area, 0) << "holes must be clockwise";
          for (const auto& p : ring) EXPECT_TRUE(ring_crosses(polygon[0], p[0], p[1])) << "hole outside exterior";
        }
      }
    }
    // 40-400 m across (1 m is about 1.17e-5 degrees of longitude, 9e-6 of latitude).
    const double width_m = (store.max_x - store.min_x) * 85590, height_m = (store.max_y - store.min_y) * 111320;
    EXPECT_GE(std::max(width_m, height_m), 40);
    EXPECT_LE(std::max(width_m, height_m), 420);
  }
}

TEST_F(GenerateWorld, PingsInsideStoresMatchTheManifestAndTheTruthCounts) {
  const auto stores = read_stores(dir_);
  const auto lon = read_numbers(dir_ + "/pings.csv", "lon"), lat = read_numbers(dir_ + "/pings.csv", "lat");
  std::vector<std::uint64_t> per_store(stores.size(), 0);
  std::uint64_t inside_any = 0;
  for (std::size_t i = 0; i < lon.size(); ++i) {
    bool inside = false;
    for (std::size_t s = 0; s < stores.size(); ++s) {
      const StoreRow& store = stores[s];
      if (lon[i] < store.min_x || lon[i] > store.max_x || lat[i] < store.min_y || lat[i] > store.max_y) continue;
      if (geometry_contains(store.geometry, lon[i], lat[i])) {
        ++per_store[s];
        inside = true;
      }
    }
    inside_any += inside;
  }
  EXPECT_EQ(inside_any, std::uint64_t(manifest()["counts"]["pings_in_stores"]));
  const double fraction = static_cast<double>(inside_any) / static_cast<double>(lon.size());
  EXPECT_GT(fraction, 0.30);
  EXPECT_LT(fraction, 0.50);
  const auto truth_ids = read_column(dir_ + "/truth_store_counts.csv", "store_id");
  const auto truth_counts = read_numbers(dir_ + "/truth_store_counts.csv", "pings");
  ASSERT_EQ(truth_ids.size(), stores.size());
  for (std::size_t s = 0; s < stores.size(); ++s) {
    EXPECT_EQ(truth_ids[s], stores[s].id);
    EXPECT_EQ(static_cast<std::uint64_t>(truth_counts[s]), per_store[s]) << stores[s].id;
  }
}

TEST_F(GenerateWorld, VisitRhythmsDifferBySegment) {
  // Weekend share of in-store pings: weekend families (1) and affluent weekenders (5) shop
  // on weekends, evening shoppers (0) and lunch professionals (2) on weekdays.
  const auto stores = read_stores(dir_);
  const auto truth = read_truth(dir_);
  const auto lon = read_numbers(dir_ + "/pings.csv", "lon"), lat = read_numbers(dir_ + "/pings.csv", "lat");
  const auto time = read_numbers(dir_ + "/pings.csv", "timestamp");
  const auto users = read_column(dir_ + "/pings.csv", "user_id");
  std::array<double, kSegments> visits{}, weekend{}, evening{};
  for (std::size_t i = 0; i < lon.size(); ++i) {
    bool inside = false;
    for (const auto& store : stores)
      if (lon[i] >= store.min_x && lon[i] <= store.max_x && lat[i] >= store.min_y && lat[i] <= store.max_y &&
          geometry_contains(store.geometry, lon[i], lat[i]))
        inside = true;
    if (!inside) continue;
    const int s = truth.at(users[i]);
    const auto local = static_cast<std::int64_t>(time[i]) - kWindowStart;
    const int day = static_cast<int>(local / 86400 % 7), hour = static_cast<int>(local % 86400 / 3600);
    visits[s] += 1;
    weekend[s] += day >= 5;
    evening[s] += hour >= 17 && hour <= 21;
  }
  for (int s : {1, 5}) EXPECT_GT(weekend[s] / visits[s], 0.55) << "segment " << s;
  for (int s : {0, 2}) EXPECT_LT(weekend[s] / visits[s], 0.25) << "segment " << s;
  EXPECT_GT(evening[0] / visits[0], 0.6);
  EXPECT_LT(evening[2] / visits[2], 0.3);
}

TEST_F(GenerateWorld, EventCategoriesFollowSegmentAffinities) {
  const auto truth = read_truth(dir_);
  const std::string path = dir_ + "/events.csv";
  const auto users = read_column(path, "user_id"), categories = read_column(path, "category");
  const auto kinds = read_column(path, "event"), amounts = read_column(path, "amount");
  std::array<std::map<std::string, int>, kSegments> counts;
  for (std::size_t i = 0; i < users.size(); ++i) {
    ASSERT_TRUE(truth.count(users[i])) << users[i];
    ++counts[truth.at(users[i])][categories[i]];
    ASSERT_TRUE(kinds[i] == "view" || kinds[i] == "purchase") << kinds[i];
    if (kinds[i] == "view") {
      EXPECT_TRUE(amounts[i].empty()) << "line " << i + 2;
    } else {
      EXPECT_GT(std::strtod(amounts[i].c_str(), nullptr), 0.0) << "line " << i + 2;
    }
  }
  for (auto segment : manifest()["segments"].get_array()) {
    const auto s = std::int64_t(segment["segment"]);
    const auto& c = counts[s];
    const auto top = std::max_element(c.begin(), c.end(), [](auto& a, auto& b) { return a.second < b.second; });
    ASSERT_NE(top, c.end());
    EXPECT_EQ(top->first, std::string_view(segment["top_category"])) << "segment " << s;
  }
  std::set<std::string> names;
  for (const auto& c : counts)
    for (const auto& [name, n] : c) names.insert(name);
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kCategories));
}

TEST_F(GenerateWorld, EventsHaveDuplicatesAndLateTimestamps) {
  const std::string text = read_file(dir_ + "/events.csv");
  std::vector<std::string> lines;
  for (std::size_t start = text.find('\n') + 1, end; start < text.size(); start = end + 1) {
    end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
  }
  std::uint64_t repeats = 0, backwards = 0;
  const auto time = read_numbers(dir_ + "/events.csv", "timestamp");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    repeats += lines[i] == lines[i - 1];
    backwards += time[i] < time[i - 1];
    ASSERT_GE(time[i], double(kWindowStart));
    ASSERT_LT(time[i], double(kWindowEnd));
  }
  const auto duplicates = std::uint64_t(manifest()["counts"]["duplicate_events"]);
  const auto late = std::uint64_t(manifest()["counts"]["late_events"]);
  EXPECT_GT(duplicates, 0u);
  EXPECT_GT(late, 0u);
  EXPECT_GE(repeats, duplicates);
  EXPECT_LE(repeats, duplicates + 10);  // chance coincidences of two views in one second
  EXPECT_GT(backwards, 0u);
  EXPECT_LE(backwards, late);
}

TEST_F(GenerateWorld, SpendDependsOnSegmentAndAttributes) {
  const auto truth = read_truth(dir_);
  const std::string path = dir_ + "/customers.csv";
  const auto users = read_column(path, "user_id");
  const auto spend = read_numbers(path, "spend"), income = read_numbers(path, "income");
  std::array<double, kSegments> sum{}, n{};
  double total = 0;
  for (std::size_t i = 0; i < users.size(); ++i) {
    const int s = truth.at(users[i]);
    sum[s] += std::log(spend[i]);
    n[s] += 1;
    total += std::log(spend[i]);
  }
  const double mean = total / static_cast<double>(users.size());
  double sse_mean = 0, sse_segment = 0;
  for (std::size_t i = 0; i < users.size(); ++i) {
    const int s = truth.at(users[i]);
    const double y = std::log(spend[i]);
    sse_mean += (y - mean) * (y - mean);
    sse_segment += (y - sum[s] / n[s]) * (y - sum[s] / n[s]);
    ASSERT_GT(income[i], 0);
  }
  EXPECT_LT(sse_segment, 0.6 * sse_mean) << "segment means should explain log(spend)";
}

// ---- determinism ---------------------------------------------------------------------------

GenerateSummary generate_into(const std::string& dir, const std::string& size, std::uint64_t seed, int threads) {
  set_cpu_threads(threads);
  const Verbosity before = verbosity();
  set_verbosity(Verbosity::Quiet);  // no progress lines in the test log
  GenerateOptions options;
  options.size = size;
  options.out_dir = dir;
  options.seed = seed;
  auto summary = generate_world(options);
  set_cpu_threads(0);
  set_verbosity(before);
  return summary;
}

TEST(GenerateDeterminism, TinyIsByteIdenticalAcrossRunsAndThreadCounts) {
  TempDir tmp;
  const auto a = generate_into(tmp.file("a"), "tiny", 42, 1);
  generate_into(tmp.file("b"), "tiny", 42, 2);
  generate_into(tmp.file("c"), "tiny", 42, 2);
  EXPECT_EQ(a.customers, 300u);
  EXPECT_EQ(a.stores, 12u);
  EXPECT_EQ(a.pings, 3000u);
  EXPECT_EQ(a.events, 3000u);
  for (const char* name : kFiles) {
    const std::string bytes = read_file(tmp.file("a") + "/" + name);
    EXPECT_FALSE(bytes.empty()) << name;
    EXPECT_EQ(bytes, read_file(tmp.file("b") + "/" + name)) << name << " differs between 1 and 2 threads";
    EXPECT_EQ(bytes, read_file(tmp.file("c") + "/" + name)) << name << " differs between two runs";
  }
}

TEST(GenerateDeterminism, ManyUnitsAreByteIdenticalAcrossThreadCounts) {
  TempDir tmp;
  generate_into(tmp.file("a"), "60000", 3, 1);
  generate_into(tmp.file("b"), "60000", 3, 2);
  for (const char* name : kFiles)
    EXPECT_EQ(read_file(tmp.file("a") + "/" + name), read_file(tmp.file("b") + "/" + name)) << name;
}

TEST(GenerateDeterminism, DifferentSeedsGiveDifferentWorlds) {
  TempDir tmp;
  generate_into(tmp.file("a"), "tiny", 1, 0);
  generate_into(tmp.file("b"), "tiny", 2, 0);
  for (const char* name : {"customers.csv", "stores.csv", "pings.csv", "events.csv"})
    EXPECT_NE(read_file(tmp.file("a") + "/" + name), read_file(tmp.file("b") + "/" + name)) << name;
}

TEST(GenerateDeterminism, SmallestWorldIsComplete) {
  // 50 customers: some segments may be nearly empty; every ping still gets a real user.
  TempDir tmp;
  const auto summary = generate_into(tmp.path().string(), "100", 5, 0);
  EXPECT_EQ(summary.customers, 50u);
  EXPECT_EQ(summary.stores, 12u);
  EXPECT_EQ(read_column(tmp.file("pings.csv"), "ping_id").size(), 100u);
  EXPECT_EQ(read_column(tmp.file("events.csv"), "user_id").size(), 100u);
  const auto truth = read_truth(tmp.path().string());
  for (const auto& user : read_column(tmp.file("pings.csv"), "user_id")) EXPECT_TRUE(truth.count(user)) << user;
}

TEST(GenerateStores, TinyWorldHasEveryLayout) {
  TempDir tmp;
  generate_into(tmp.path().string(), "tiny", 42, 0);
  const auto stores = read_stores(tmp.path().string());
  bool hole = false, multi = false, concave = false, shared_edge = false, overlap = false;
  for (const auto& store : stores) {
    multi |= store.geometry.size() > 1;
    for (const auto& polygon : store.geometry) {
      hole |= polygon.size() > 1;
      const Ring& ring = polygon[0];
      for (std::size_t i = 0; i + 2 < ring.size() + 1; ++i) {
        const auto& a = ring[i];
        const auto& b = ring[(i + 1) % (ring.size() - 1)];
        const auto& c = ring[(i + 2) % (ring.size() - 1)];
        concave |= (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]) < 0;
      }
    }
  }
  for (std::size_t s = 0; s < stores.size(); ++s)
    for (std::size_t t = s + 1; t < stores.size(); ++t) {
      const Ring& a = stores[s].geometry[0][0];
      const Ring& b = stores[t].geometry[0][0];
      for (std::size_t i = 0; i + 1 < a.size(); ++i)
        for (std::size_t j = 0; j + 1 < b.size(); ++j)
          shared_edge |= a[i] == b[j + 1] && a[i + 1] == b[j];  // same edge, opposite direction
      for (const auto& p : a) overlap |= geometry_contains(stores[t].geometry, p[0], p[1]) && !(
          std::find(b.begin(), b.end(), p) != b.end());
    }
  EXPECT_TRUE(hole);
  EXPECT_TRUE(multi);
  EXPECT_TRUE(concave);
  EXPECT_TRUE(shared_edge);
  EXPECT_TRUE(overlap);
}

// ---- sizes, schedule, random numbers ------------------------------------------------------------

TEST(GenerateSize, ParsesNamesAndNumbers) {
  EXPECT_EQ(parse_world_size("tiny").customers, 300u);
  EXPECT_EQ(parse_world_size("small").pings, 500000u);
  EXPECT_EQ(parse_world_size("medium").stores, 1000u);
  EXPECT_EQ(parse_world_size("large").pings, 200000000u);
  const WorldSize n = parse_world_size("1000000");
  EXPECT_EQ(n.pings, 1000000u);
  EXPECT_EQ(n.customers, 10000u);
  EXPECT_EQ(n.events, 200000u);
  EXPECT_GE(n.stores, 12u);
  EXPECT_LE(n.stores, 3000u);
  EXPECT_EQ(parse_world_size("100").pings, 100u);
  EXPECT_EQ(parse_world_size("10000000000").stores, 3000u);
}

TEST(GenerateSize, RejectsAnythingElse) {
  for (const char* bad : {"", "bogus", "Tiny", "99", "0", "-5", "1e6", " 100", "100 ", "1,000", "10000000001",
                          "99999999999999999999999"}) {
    try {
      parse_world_size(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find("--size"), std::string::npos) << e.what();
    }
  }
  GenerateOptions options;
  options.size = "tiny";
  EXPECT_THROW(generate_world(options), InvalidInput);  // no out_dir
}

TEST(GenerateSchedule, HoursGetExactTotalsAndSplitIntoBoundedUnits) {
  std::array<double, gen::kWindowHours> weights{};
  for (int h = 0; h < gen::kWindowHours; ++h) weights[h] = 1.0 + (h % 24 == 12 ? 30.0 : 0.0) + (h % 7) * 0.1;
  for (std::uint64_t total : {0ull, 1ull, 671ull, 100000ull, 40000000ull}) {
    const auto units = gen::schedule_units(total, weights);
    std::uint64_t next = 0;
    for (const auto& unit : units) {
      EXPECT_EQ(unit.first, next) << "total " << total;
      EXPECT_LE(unit.count, gen::kUnitRecords);
      EXPECT_GE(unit.start, 3600.0 * unit.hour);
      EXPECT_LE(unit.end, 3600.0 * (unit.hour + 1));
      EXPECT_LT(unit.start, unit.end);
      next += unit.count;
    }
    EXPECT_EQ(next, total);
  }
}

TEST(GenerateRng, AliasTableFollowsItsWeights) {
  const std::vector<double> weights{0.5, 0.0, 2.0, 1.0, 0.25, 4.25};
  const gen::AliasTable table(weights);
  gen::GenRng rng(7, gen::Stream::Pings, 0);
  std::vector<double> counts(weights.size(), 0);
  const int draws = 200000;
  for (int i = 0; i < draws; ++i) ++counts[table.sample(rng)];
  EXPECT_EQ(counts[1], 0) << "a zero weight is never drawn";
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double p = weights[i] / 8.0;
    EXPECT_NEAR(counts[i] / draws, p, 5 * std::sqrt(p * (1 - p) / draws) + 1e-9) << "index " << i << ", seed 7";
  }
  gen::GenRng a(1, gen::Stream::Events, 5), b(1, gen::Stream::Events, 5), c(1, gen::Stream::Events, 6);
  EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(a.next(), c.next());
}

// ---- the CLI ---------------------------------------------------------------------------------

TEST(GenerateCli, WritesTheWorldAndMatchesTheLibrary) {
  TempDir tmp;
  const auto result = run_cli("generate --size tiny --out " + tmp.file("cli") + " --seed 9 --threads 2");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("pings.csv"), std::string::npos) << result.output;
  generate_into(tmp.file("lib"), "tiny", 9, 1);
  for (const char* name : kFiles)
    EXPECT_EQ(read_file(tmp.file("cli") + "/" + name), read_file(tmp.file("lib") + "/" + name)) << name;
}

TEST(GenerateCli, BogusSizeFailsWithAnError) {
  TempDir tmp;
  const auto result = run_cli("generate --size bogus --out " + tmp.file("out"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("error:"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("--size"), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(tmp.file("out")));
  const auto missing = run_cli("generate --size tiny");
  EXPECT_NE(missing.exit_code, 0) << missing.output;
}

}  // namespace
}  // namespace cohort
