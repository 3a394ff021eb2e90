/*
 * test_pipeline.cpp: `cohort pipeline` and `cohort demo` on tiny generated worlds (CPU).
 *   - the config: the example parses, round-trips through pipeline_config_json, and an
 *     unknown key / missing input / wrong type is an error naming it;
 *   - the demo end to end: manifest ground-truth scores against thresholds (join exact;
 *     ARI >= 0.5 and look-alike precision >= 2x random, as in test_demo.cpp), the analysis
 *     files consistent with the visits, the report's elements;
 *   - skip-unchanged: a second run skips every stage, --force reruns them, changing the
 *     events reruns matrix and its dependents but not join;
 *   - a corrupted events file fails naming the stage and leaves it (and what follows)
 *     unrecorded in the manifest;
 *   - hour of week on known instants; the CLI; a headless-Chromium screenshot when
 *     chromium is installed (skipped visibly otherwise).
 */
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <numeric>
#include <regex>

#include "cohort/atomic_file.hpp"
#include "cohort/demo.hpp"
#include "cohort/error.hpp"
#include "cohort/generate.hpp"
#include "cohort/pipeline.hpp"
#include "cohort/progress.hpp"
#include "host/api/pipeline_internal.hpp"
#include "tests/test_util.hpp"

namespace cohort {
namespace {

namespace fs = std::filesystem;

using testing::QuietScope;

// A tiny world in dir/world plus the example config copied to dir/pipeline.json.
std::string tiny_world_with_config(const testing::TempDir& dir) {
  GenerateOptions g;
  g.size = "tiny";
  g.out_dir = dir.file("world");
  g.seed = 7;
  generate_world(g);
  const std::string config = dir.file("pipeline.json");
  testing::write_file(config, testing::read_file(std::string(COHORT_TEST_DATA_DIR) + "/pipeline_example.json"));
  return config;
}

// stage name -> status of DIR/manifest.json's records.
std::map<std::string, std::string> manifest_stages(const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_FALSE(parser.load(path).get(root)) << path;
  std::map<std::string, std::string> stages;
  simdjson::dom::array list;
  if (root["stages"].get_array().get(list)) return stages;
  for (simdjson::dom::element s : list) {
    std::string_view name, status;
    EXPECT_FALSE(s["name"].get_string().get(name));
    EXPECT_FALSE(s["status"].get_string().get(status));
    stages[std::string(name)] = std::string(status);
  }
  return stages;
}

std::map<std::string, bool> skipped(const PipelineReport& report) {
  std::map<std::string, bool> out;
  for (const auto& s : report.stages) out[s.name] = s.skipped;
  return out;
}

const std::vector<std::string> kStages = {"join", "matrix", "vectors", "train", "segment", "similar", "analysis", "report"};

TEST(PipelineConfig, ExampleParsesAndRoundTrips) {
  testing::TempDir dir;
  QuietScope quiet;
  const std::string path = tiny_world_with_config(dir);
  const PipelineConfig c = read_pipeline_config(path);
  EXPECT_EQ(c.points, dir.file("world/pings.csv"));
  EXPECT_EQ(c.truth_dir, dir.file("world"));
  EXPECT_TRUE(c.train);
  EXPECT_EQ(c.train_layers, (std::vector<int>{32, 16}));
  EXPECT_EQ(c.k_max, 8);
  EXPECT_EQ(c.similar_queries, 100);
  EXPECT_DOUBLE_EQ(c.utc_offset_hours, -7.0);
  const std::string json = pipeline_config_json(c);
  const PipelineConfig again = parse_pipeline_config(json, "", "again");
  EXPECT_EQ(pipeline_config_json(again), json);
}

TEST(PipelineConfig, ErrorsNameTheKeyOrFile) {
  testing::TempDir dir;
  QuietScope quiet;
  const std::string path = tiny_world_with_config(dir);
  const std::string text = testing::read_file(path);
  auto error_of = [&](const std::string& json) {
    try {
      parse_pipeline_config(json, dir.path().string(), "cfg.json");
    } catch (const InvalidInput& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string bad = text;
  bad.replace(bad.find("\"k_min\""), 7, "\"kmin\"");
  EXPECT_NE(error_of(bad).find("steps.segment.kmin"), std::string::npos) << error_of(bad);
  EXPECT_NE(error_of(bad).find("unknown key"), std::string::npos);
  bad = text;
  bad.replace(bad.find("world/events.csv"), 16, "world/nothere.csv");
  EXPECT_NE(error_of(bad).find("nothere.csv' does not exist"), std::string::npos) << error_of(bad);
  EXPECT_NE(error_of(bad).find("inputs.events.path"), std::string::npos) << error_of(bad);
  bad = text;
  bad.replace(bad.find("\"k\": 10"), 7, "\"k\": \"ten\"");
  EXPECT_NE(error_of(bad).find("steps.similar.k"), std::string::npos) << error_of(bad);
  EXPECT_NE(error_of("{\"inputs\": {}}").find("inputs.polygons.path': missing"), std::string::npos);
  EXPECT_NE(error_of("{not json").find("cfg.json: malformed JSON"), std::string::npos) << error_of("{not json");
}

TEST(PipelineAnalysis, HourOfWeek) {
  // The generator's window starts Monday 2024-03-04 00:00 at UTC-7.
  EXPECT_EQ(detail::hour_of_week(static_cast<double>(kWindowStart), -7), 0);
  EXPECT_EQ(detail::hour_of_week(static_cast<double>(kWindowStart) + 3599, -7), 0);
  EXPECT_EQ(detail::hour_of_week(static_cast<double>(kWindowStart) + 86400 + 5 * 3600, -7), 29);
  EXPECT_EQ(detail::hour_of_week(static_cast<double>(kWindowStart) - 1, -7), 167);  // Sunday 23:59
  EXPECT_EQ(detail::hour_of_week(static_cast<double>(kWindowStart), 0), 7);         // 07:00 UTC
  EXPECT_EQ(detail::hour_of_week(-1.0, 0), 3 * 24 - 1);                             // Wed 1969-12-31 23:59
  EXPECT_EQ(detail::hour_of_week_label(29), "Tue 05:00");
}

// Two users, two square stores, four in-store pings: every analysis number by hand.
TEST(PipelineAnalysis, HandMadeWorldExactLiftSeasonalityConsistency) {
  testing::TempDir dir;
  QuietScope quiet;
  testing::write_file(dir.file("stores.csv"), "store_id,category,wkt\n"
                                              "S1,Books,\"POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))\"\n"
                                              "S2,Food,\"POLYGON ((2 0, 3 0, 3 1, 2 1, 2 0))\"\n");
  const std::int64_t monday = kWindowStart;  // Monday 00:00 at UTC-7
  std::string pings = "ping_id,user_id,lon,lat,timestamp\n";
  pings += "p1,a,0.5,0.5," + std::to_string(monday + 10 * 3600) + "\n";           // Mon 10:00, S1
  pings += "p2,a,0.6,0.5," + std::to_string(monday + 10 * 3600 + 120) + "\n";     // Mon 10:02, S1
  pings += "p3,a,5,5," + std::to_string(monday + 11 * 3600) + "\n";               // nowhere
  pings += "p4,b,0.5,0.7," + std::to_string(monday + 2 * 86400 + 20 * 3600) + "\n";  // Wed 20:00, S1
  pings += "p5,b,2.5,0.5," + std::to_string(monday + 86400 + 5 * 3600) + "\n";    // Tue 05:00, S2
  testing::write_file(dir.file("pings.csv"), pings);
  testing::write_file(dir.file("events.csv"), "user_id,category,event,timestamp\n"
                                              "a,Books,view,1709600000\na,Books,view,1709600100\n"
                                              "b,Food,view,1709600000\nb,Food,purchase,1709600200\n");
  testing::write_file(dir.file("customers.csv"), "user_id,home_lon,home_lat,gender,tier\na,0.2,0.2,F,gold\nb,2.2,0.2,F,silver\n");
  PipelineConfig c;
  c.attribute_columns = {"gender", "tier"};
  c.polygons = dir.file("stores.csv");
  c.polygon_category_column = "category";
  c.points = dir.file("pings.csv");
  c.events = dir.file("events.csv");
  c.customers = dir.file("customers.csv");
  c.k_min = c.k_max = 2;
  PipelineOptions options;
  options.out_dir = dir.file("out");
  options.device = Device::Cpu;
  const PipelineReport report = run_pipeline(c, options);
  EXPECT_FALSE(report.truth.available);
  const std::string out = dir.file("out/analysis/");

  const auto labels = detail::read_csv_columns(dir.file("out/segments/labels.csv"), {"id", "segment"});
  ASSERT_EQ(labels[0], (std::vector<std::string>{"a", "b"}));
  const std::string sa = labels[1][0], sb = labels[1][1];
  ASSERT_NE(sa, sb);
  // Visits: S1 {a: 2, b: 1}, S2 {b: 1}; expected = row x column / 4.
  std::map<std::string, std::pair<double, double>> lift;  // "segment/store" -> (visits, lift)
  const auto table = detail::read_csv_columns(out + "segment_store_lift.csv", {"segment", "store_id", "visits", "lift"});
  for (std::size_t i = 0; i < table[0].size(); ++i)
    lift[table[0][i] + "/" + table[1][i]] = {std::stod(table[2][i]), table[3][i].empty() ? -1 : std::stod(table[3][i])};
  EXPECT_EQ(lift[sa + "/S1"].first, 2.0);
  EXPECT_NEAR(lift[sa + "/S1"].second, 2.0 / (2.0 * 3.0 / 4.0), 1e-5);
  EXPECT_NEAR(lift[sa + "/S2"].second, 0.0, 1e-12);
  EXPECT_NEAR(lift[sb + "/S1"].second, 1.0 / (2.0 * 3.0 / 4.0), 1e-5);
  EXPECT_NEAR(lift[sb + "/S2"].second, 1.0 / (2.0 * 1.0 / 4.0), 1e-5);
  // Events: a only Books (2), b only Food (2): lift 2 on the diagonal, 0 elsewhere.
  const auto categories = detail::read_csv_columns(out + "segment_category_lift.csv", {"segment", "category", "lift"});
  for (std::size_t i = 0; i < categories[0].size(); ++i) {
    const bool own = (categories[0][i] == sa) == (categories[1][i] == "Books");
    EXPECT_NEAR(std::stod(categories[2][i]), own ? 2.0 : 0.0, 1e-5) << categories[0][i] << " " << categories[1][i];
  }
  // Attribute groups: everyone is F (lift 1 everywhere); tier splits a from b like the segments.
  std::map<std::string, double> attribute_lift;  // "attribute/value/column" -> lift
  for (const char* file : {"attribute_store_lift.csv", "attribute_category_lift.csv"}) {
    const std::string column = file[10] == 's' ? "store_id" : "category";
    const auto rows = detail::read_csv_columns(out + file, {"attribute", "value", column, "lift"});
    ASSERT_EQ(rows[0].size(), 2u + 2u * 2u) << file;  // F x 2 columns, gold/silver x 2 columns
    for (std::size_t i = 0; i < rows[0].size(); ++i)
      attribute_lift[rows[0][i] + "/" + rows[1][i] + "/" + rows[2][i]] = rows[3][i].empty() ? -1 : std::stod(rows[3][i]);
  }
  for (const char* column : {"S1", "S2", "Books", "Food"}) EXPECT_NEAR(attribute_lift[std::string("gender/F/") + column], 1.0, 1e-6);
  EXPECT_NEAR(attribute_lift["tier/gold/S1"], lift[sa + "/S1"].second, 1e-6);
  EXPECT_NEAR(attribute_lift["tier/silver/S2"], lift[sb + "/S2"].second, 1e-6);
  EXPECT_NEAR(attribute_lift["tier/gold/Books"], 2.0, 1e-6);
  EXPECT_NEAR(attribute_lift["tier/silver/Books"], 0.0, 1e-12);
  // Store categories mirror the stores here (S1 is Books, S2 is Food).
  const auto store_categories = detail::read_csv_columns(out + "segment_store_category_lift.csv", {"segment", "store_category", "lift"});
  ASSERT_EQ(store_categories[0].size(), 4u);
  // Shares are one-hot: correlation -1 between the two categories, consistency perfect.
  const auto correlation = detail::read_csv_columns(out + "category_covariance.csv", {"category_a", "category_b", "correlation"});
  for (std::size_t i = 0; i < correlation[0].size(); ++i)
    EXPECT_NEAR(std::stod(correlation[2][i]), correlation[0][i] == correlation[1][i] ? 1.0 : -1.0, 1e-6);
  const auto consistency = detail::read_csv_columns(out + "segment_consistency.csv", {"members", "mean_distance", "mean_entropy_bits"});
  for (std::size_t i = 0; i < consistency[0].size(); ++i) {
    EXPECT_EQ(consistency[0][i], "1");
    EXPECT_NEAR(std::stod(consistency[1][i]), 0.0, 1e-12);
    EXPECT_NEAR(std::stod(consistency[2][i]), 0.0, 1e-12);
  }
  // Hours of week: S1 Mon 10:00 (2) and Wed 20:00 (1); S2 Tue 05:00.
  const auto season = detail::read_csv_columns(out + "seasonality_store.csv", {"store_id", "visits", "peak_hour", "h010", "h068", "h029"});
  ASSERT_EQ(season[0], (std::vector<std::string>{"S1", "S2"}));
  EXPECT_EQ(season[1], (std::vector<std::string>{"3", "1"}));
  EXPECT_EQ(season[2], (std::vector<std::string>{"10", "29"}));
  EXPECT_EQ(season[3][0], "2");
  EXPECT_EQ(season[4][0], "1");
  EXPECT_EQ(season[5][1], "1");
  const auto peaks = detail::read_csv_columns(out + "peak_hours.csv", {"kind", "id", "rank", "label"});
  EXPECT_EQ(peaks[3][0], "Mon 10:00");
  const auto by_segment = detail::read_csv_columns(out + "seasonality_segment.csv", {"segment", "visits", "peak_hour"});
  for (std::size_t i = 0; i < by_segment[0].size(); ++i) {
    EXPECT_EQ(by_segment[1][i], "2");  // a: 2 visits, b: 2 visits
    EXPECT_EQ(by_segment[2][i], by_segment[0][i] == sa ? "10" : "29");  // b's tie: the earlier hour
  }
  // Visits out of the points' order cannot be merged: a clear error, not a silent miss.
  const std::string visits_path = dir.file("out/visits.csv");
  auto lines = read_lines(visits_path);
  ASSERT_EQ(lines.size(), 5u);  // header + 4 visits
  std::swap(lines[1], lines[4]);
  write_lines(visits_path, lines);
  try {
    detail::stage_analysis(c, dir.file("out/"));
    ADD_FAILURE() << "misordered visits.csv accepted";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("not found in"), std::string::npos) << e.what();
  }

  // Points without user and time columns: the visit tables that need them are left out.
  c.point_user_column = c.point_time_column = "";
  options.out_dir = dir.file("plain");
  run_pipeline(c, options);
  EXPECT_TRUE(fs::exists(dir.file("plain/analysis/segment_category_lift.csv")));
  for (const char* file : {"segment_store_lift.csv", "attribute_store_lift.csv", "seasonality_store.csv", "peak_hours.csv"})
    EXPECT_FALSE(fs::exists(dir.file("plain/analysis/") + file)) << file;
  EXPECT_NE(testing::read_file(dir.file("plain/report.html")).find("no data"), std::string::npos);
}

TEST(PipelineDemo, TinyEndToEndScoresArtifactsAndReport) {
  testing::TempDir dir;
  QuietScope quiet;
  DemoOptions options;
  options.out_dir = dir.file("demo");
  options.size = "tiny";
  options.device = Device::Cpu;
  const DemoReport report = run_demo(options);
  ASSERT_EQ(report.stages.size(), 1 + kStages.size());
  const std::string out = dir.file("demo/");

  // Ground truth, from the manifest.
  simdjson::dom::parser parser;
  simdjson::dom::element manifest;
  ASSERT_FALSE(parser.load(out + "manifest.json").get(manifest));
  EXPECT_EQ(std::string(manifest["cohort_version"].get_string().value()), COHORT_VERSION);
  EXPECT_EQ(std::string(manifest["device"].get_string().value()), "cpu");
  simdjson::dom::element truth;
  ASSERT_FALSE(manifest["ground_truth"].get(truth));
  const auto stores = truth["join_stores"].get_int64().value();
  EXPECT_GT(stores, 0);
  EXPECT_EQ(truth["join_stores_exact"].get_int64().value(), stores);
  EXPECT_GE(truth["segment_ari"].get_double().value(), 0.5);
  EXPECT_GE(truth["lookalike_precision"].get_double().value(), 2 * truth["lookalike_random_precision"].get_double().value());
  simdjson::dom::array per_store, stage_list;
  ASSERT_FALSE(truth["join_per_store"].get_array().get(per_store));
  EXPECT_EQ(per_store.size(), static_cast<std::size_t>(stores));
  const auto stages = manifest_stages(out + "manifest.json");
  for (const auto& name : kStages) EXPECT_EQ(stages.count(name) ? stages.at(name) : "absent", "complete") << name;
  ASSERT_FALSE(manifest["stages"].get_array().get(stage_list));
  for (simdjson::dom::element s : stage_list) {
    double seconds = -1;
    simdjson::dom::array outputs;
    EXPECT_FALSE(s["seconds"].get_double().get(seconds));
    EXPECT_GE(seconds, 0.0);
    ASSERT_FALSE(s["outputs"].get_array().get(outputs));
    EXPECT_GT(outputs.size(), 0u);
    // Stages with a backend key on the device, so switching devices reruns them.
    const std::string name(s["name"].get_string().value());
    std::string_view device;
    const bool has_device = !s["parameters"]["device"].get_string().get(device);
    const bool on_device = name == "join" || name == "matrix" || name == "train" || name == "segment" || name == "similar";
    EXPECT_EQ(has_device, on_device) << name;
    if (has_device) {
      EXPECT_EQ(device, "cpu") << name;
    }
  }

  // The analysis agrees with the visits: every visit of a labelled user counted once.
  for (const char* file : {"segment_store_lift.csv", "segment_category_lift.csv", "segment_store_category_lift.csv",
                           "attribute_store_lift.csv", "attribute_category_lift.csv", "category_covariance.csv",
                           "segment_consistency.csv", "seasonality_store.csv", "seasonality_segment.csv", "peak_hours.csv"})
    EXPECT_TRUE(fs::exists(out + "analysis/" + file)) << file;
  const auto visits = detail::read_csv_columns(out + "visits.csv", {"point_id"})[0];
  const auto lift = detail::read_csv_columns(out + "analysis/segment_store_lift.csv", {"visits", "expected"});
  double observed = 0, expected = 0;
  for (std::size_t i = 0; i < lift[0].size(); ++i) observed += std::stod(lift[0][i]), expected += std::stod(lift[1][i]);
  // Visits of users without events (hence no segment) are left out of the lift.
  EXPECT_LE(observed, static_cast<double>(visits.size()));
  EXPECT_GE(observed, 0.9 * static_cast<double>(visits.size()));
  EXPECT_NEAR(expected, observed, 1e-6 * observed);
  // Every pinging user is a customer: each attribute's groups share out all the visits.
  const auto by_attribute = detail::read_csv_columns(out + "analysis/attribute_store_lift.csv", {"attribute", "visits"});
  std::map<std::string, double> attribute_visits;
  for (std::size_t i = 0; i < by_attribute[0].size(); ++i) attribute_visits[by_attribute[0][i]] += std::stod(by_attribute[1][i]);
  EXPECT_EQ(attribute_visits.size(), 4u);  // the demo's age_band, gender, marital_status, device
  for (const auto& [attribute, total] : attribute_visits) EXPECT_EQ(total, static_cast<double>(visits.size())) << attribute;
  const auto season = detail::read_csv_columns(out + "analysis/seasonality_store.csv", {"visits"})[0];
  double seasonal = 0;
  for (const auto& v : season) seasonal += std::stod(v);
  EXPECT_EQ(seasonal, static_cast<double>(visits.size()));
  const auto correlation = detail::read_csv_columns(out + "analysis/category_covariance.csv",
                                                    {"category_a", "category_b", "correlation"});
  for (std::size_t i = 0; i < correlation[0].size(); ++i)
    if (correlation[0][i] == correlation[1][i]) {
      EXPECT_NEAR(std::stod(correlation[2][i]), 1.0, 1e-9);
    }

  // The report: self-contained, with its sections.
  const std::string html = testing::read_file(out + "report.html");
  for (const char* element : {"<svg id=\"map\"", "class=\"store\"", "<circle", "id=\"heatmap-store-lift\"",
                              "id=\"heatmap-category-lift\"", "id=\"heatmap-store-category-lift\"", "id=\"heatmap-correlation\"", "id=\"heatmap-season-segment\"",
                              "id=\"heatmap-season-store\"", "id=\"heatmap-attribute-lift-0\"", "id=\"loss-curves\"", "<polyline", "id=\"stage-table\"",
                              "id=\"lookalike-table\"", "id=\"segment-sizes\"", "Ground truth", "longitude", "hour of week",
                              "segment 0"})
    EXPECT_NE(html.find(element), std::string::npos) << element;
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // Unquoted attribute values break SVG in HTML ("class=x/>" swallows the '/').
  std::smatch unquoted;
  EXPECT_FALSE(std::regex_search(html, unquoted, std::regex("<[^>]* [a-z-]+=[^\"]"))) << unquoted.str();
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("NaN"), std::string::npos);
  EXPECT_EQ(html.find("nan\""), std::string::npos);
}

TEST(PipelineSkip, UnchangedSkipsForceRerunsChangedInputRerunsDependents) {
  testing::TempDir dir;
  QuietScope quiet;
  const PipelineConfig c = read_pipeline_config(tiny_world_with_config(dir));
  PipelineOptions options;
  options.out_dir = dir.file("out");
  options.device = Device::Cpu;
  for (const auto& [name, was_skipped] : skipped(run_pipeline(c, options))) EXPECT_FALSE(was_skipped) << name;
  const auto again = run_pipeline(c, options);
  ASSERT_EQ(again.stages.size(), kStages.size());
  for (const auto& [name, was_skipped] : skipped(again)) EXPECT_TRUE(was_skipped) << name;
  EXPECT_TRUE(again.truth.available);  // still scored from the artifacts

  options.force = true;
  for (const auto& [name, was_skipped] : skipped(run_pipeline(c, options))) EXPECT_FALSE(was_skipped) << name;
  options.force = false;

  // One more event (a purchase of an existing user): matrix and everything downstream of it rerun.
  const std::string events = c.events;
  const auto rows = detail::read_csv_columns(events, {"user_id"})[0];
  testing::write_file(events, testing::read_file(events) + rows[0] + ",Books,purchase," +
                                  std::to_string(kWindowStart + 100) + ",12.50\n");
  auto changed = skipped(run_pipeline(c, options));
  EXPECT_TRUE(changed["join"]);
  // train reruns too: its behavioural bag comes from the matrix (steps.train.bag)
  for (const char* name : {"matrix", "vectors", "train", "segment", "similar", "analysis", "report"})
    EXPECT_FALSE(changed[name]) << name;
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/train/embeddings_bag.npy")));

  // A parameter change reruns only its stage (and those whose inputs it changes).
  PipelineConfig fewer = c;
  fewer.similar_k = 5;
  changed = skipped(run_pipeline(fewer, options));
  for (const char* name : {"join", "matrix", "vectors", "train", "segment"}) EXPECT_TRUE(changed[name]) << name;
  for (const char* name : {"similar", "report"}) EXPECT_FALSE(changed[name]) << name;

  // A damaged output is noticed and remade.
  testing::write_file(dir.file("out/lookalikes.csv"), "query_id,rank,id,score\n");
  changed = skipped(run_pipeline(fewer, options));
  EXPECT_FALSE(changed["similar"]);
  EXPECT_TRUE(changed["segment"]);
}

// The checksum cache trusts (size, mtime) only for files written well before their
// checksum was taken: a same-size rewrite that keeps an old mtime is not noticed (that is
// what the cache saves reading), any other change is, and a fresh file is always read.
TEST(PipelineSkip, ChecksumCacheTrustsOnlySettledFiles) {
  testing::TempDir dir;
  const std::string file = dir.file("input.csv");
  testing::write_file(file, "a,b\n1,2\n");
  const auto old_time = fs::last_write_time(file) - std::chrono::hours(1);
  fs::last_write_time(file, old_time);
  detail::ChecksumCache cache;
  const std::uint64_t first = detail::checksum_path(file, cache);
  EXPECT_EQ(first, checksum_path(file));
  // Same size, same (old) mtime: the cached checksum comes back without a read.
  testing::write_file(file, "a,b\n3,4\n");
  fs::last_write_time(file, old_time);
  EXPECT_EQ(detail::checksum_path(file, cache), first);
  // A new mtime: read again.
  fs::last_write_time(file, old_time + std::chrono::seconds(1));
  const std::uint64_t second = detail::checksum_path(file, cache);
  EXPECT_NE(second, first);
  EXPECT_EQ(second, checksum_path(file));
  // A file written just now is read every time, even with its size and mtime unchanged.
  const std::string fresh = dir.file("fresh.csv");
  testing::write_file(fresh, "x\n1\n");
  const std::uint64_t fresh_first = detail::checksum_path(fresh, cache);
  const auto fresh_time = fs::last_write_time(fresh);
  testing::write_file(fresh, "x\n2\n");
  fs::last_write_time(fresh, fresh_time);
  EXPECT_NE(detail::checksum_path(fresh, cache), fresh_first);
  // The cache survives the manifest round trip.
  detail::Manifest manifest;
  manifest.checksums = cache;
  write_manifest(dir.file("manifest.json"), manifest, "{}", Device::Cpu, GroundTruthScores{});
  detail::Manifest again = detail::read_manifest(dir.file("manifest.json"));
  ASSERT_EQ(again.checksums.size(), cache.size());
  for (const auto& [path, entry] : cache) {
    EXPECT_EQ(again.checksums[path].checksum, entry.checksum) << path;
    EXPECT_EQ(again.checksums[path].mtime_ns, entry.mtime_ns) << path;
    EXPECT_EQ(again.checksums[path].taken_ns, entry.taken_ns) << path;
  }
}

TEST(PipelineBroken, CorruptEventsFailNamingTheStageAndLeaveNothingComplete) {
  testing::TempDir dir;
  QuietScope quiet;
  const PipelineConfig c = read_pipeline_config(tiny_world_with_config(dir));
  PipelineOptions options;
  options.out_dir = dir.file("out");
  options.device = Device::Cpu;
  run_pipeline(c, options);
  // A ragged row in the middle of the event log.
  std::string text = testing::read_file(c.events);
  const std::size_t middle = text.find('\n', text.size() / 2);
  text.insert(middle + 1, "u_broken,Books\n");
  testing::write_file(c.events, text);
  std::string message;
  try {
    run_pipeline(c, options);
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("pipeline stage 'matrix' failed"), std::string::npos) << message;
  EXPECT_NE(message.find("events.csv"), std::string::npos) << message;
  const auto stages = manifest_stages(dir.file("out/manifest.json"));
  EXPECT_EQ(stages.count("join"), 1u);  // it ran before, on unchanged inputs
  for (const char* name : {"matrix", "vectors", "segment", "similar", "analysis", "report"})
    EXPECT_EQ(stages.count(name), 0u) << name << " still listed after the failure";
  simdjson::dom::parser parser;
  simdjson::dom::element manifest;
  ASSERT_FALSE(parser.load(dir.file("out/manifest.json")).get(manifest));
  EXPECT_EQ(std::string(manifest["failed"]["stage"].get_string().value()), "matrix");

  // Fresh output directory, same broken input: nothing after join is ever recorded.
  options.out_dir = dir.file("fresh");
  EXPECT_THROW(run_pipeline(c, options), Error);
  const auto fresh = manifest_stages(dir.file("fresh/manifest.json"));
  for (const auto& [name, status] : fresh) EXPECT_EQ(name, "join") << name << " " << status;
}

TEST(PipelineCli, RunsVerboseAndFailsCleanly) {
  testing::TempDir dir;
  const std::string config = [&] {
    QuietScope quiet;
    return tiny_world_with_config(dir);
  }();
  auto result = testing::run_cli("pipeline " + config + " --out " + dir.file("out") + " --device cpu --verbose");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("config that ran:"), std::string::npos);
  EXPECT_NE(result.output.find("\"utc_offset_hours\": -7"), std::string::npos);
  EXPECT_NE(result.output.find("ground truth: join counts exact"), std::string::npos) << result.output;
  result = testing::run_cli("pipeline " + config + " --out " + dir.file("out") + " --device cpu");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("skipped"), std::string::npos) << result.output;
  result = testing::run_cli("pipeline " + config + " --out " + dir.file("out") + " --device cpu --quiet");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "");  // --quiet: warnings and errors only
  testing::write_file(dir.file("bad.json"), "{\"inputs\": {\"polygon\": {}}}");
  result = testing::run_cli("pipeline " + dir.file("bad.json") + " --out " + dir.file("bad"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("error: "), std::string::npos);
  EXPECT_NE(result.output.find("inputs.polygon': unknown key"), std::string::npos) << result.output;
}

TEST(PipelineReport, ChromiumScreenshot) {
  std::string chromium;
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"})
    if (std::system(("command -v " + std::string(name) + " >/dev/null 2>&1").c_str()) == 0) {
      chromium = name;
      break;
    }
  if (chromium.empty()) GTEST_SKIP() << "chromium not installed: no rendering check (apt-get install chromium)";
  testing::TempDir dir;
  QuietScope quiet;
  DemoOptions options;
  options.out_dir = dir.file("demo");
  options.size = "tiny";
  options.device = Device::Cpu;
  run_demo(options);
  // Kept as a test artifact in the build's tests/ folder for a person to look at.
  const std::string png =
      (fs::absolute(testing::cohort_binary()).parent_path() / "tests" / "pipeline_report.png").string();
  fs::remove(png);
  const std::string command = chromium + " --headless --no-sandbox --disable-gpu --hide-scrollbars "
                              "--window-size=1300,4000 --screenshot=" + png + " file://" + dir.file("demo/report.html") +
                              " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  ASSERT_TRUE(fs::exists(png)) << command;
  EXPECT_GT(fs::file_size(png), 50000u) << "a blank page compresses to a few kB";
  const std::string bytes = testing::read_file(png);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
}

}  // namespace
}  // namespace cohort
