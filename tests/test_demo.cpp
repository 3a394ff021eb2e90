/*
 * test_demo.cpp: `cohort demo` end to end on a tiny world (CPU backend): every stage
 * runs, the artifacts exist, and the results recover the generator's ground truth.
 * Thresholds: the join must be exact (the generator keeps pings off store edges); at
 * tiny size (~300 users, ~10 events each) segment recovery is noisy, so ARI >= 0.5 and
 * look-alike precision at least twice what random neighbours would score.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "cohort/atomic_file.hpp"
#include "cohort/demo.hpp"
#include "cohort/error.hpp"
#include "cohort/progress.hpp"
#include "tests/test_util.hpp"

namespace cohort {
namespace {

TEST(Demo, TinyWorldEndToEndRecoversTheTruth) {
  testing::TempDir dir;
  set_verbosity(Verbosity::Quiet);
  DemoOptions options;
  options.out_dir = dir.file("demo");
  options.size = "tiny";
  options.device = Device::Cpu;
  const DemoReport report = run_demo(options);
  set_verbosity(Verbosity::Normal);

  // generate, then the pipeline: join, matrix, vectors, train, segment, similar, analysis, report.
  ASSERT_EQ(report.stages.size(), 9u);
  std::vector<std::string> names;
  for (const auto& stage : report.stages) names.push_back(stage.name);
  for (const char* stage : {"generate", "join", "matrix", "vectors", "segment", "similar"})
    EXPECT_NE(std::find(names.begin(), names.end(), stage), names.end()) << stage;
  EXPECT_GT(report.stores, 0u);
  EXPECT_EQ(report.stores_exact, report.stores);
  EXPECT_GE(report.segment_ari, 0.5);
  EXPECT_GE(report.lookalike_precision, 2 * report.random_precision);
  for (const char* file : {"visits.csv", "store_counts.csv", "matrix/users.txt", "matrix/items.txt", "user_vectors.npy",
                           "segments/labels.csv", "segments/profiles.csv", "segments/attribute_profiles.csv",
                           "lookalikes.csv",
                           "manifest.json", "pipeline.json", "report.html"})
    EXPECT_TRUE(std::filesystem::exists(dir.file("demo/") + file)) << file;
  // The customers' attributes per segment: every labelled user has one value of each
  // attribute, so within a segment an attribute's users add up to the segment's size.
  std::map<std::string, std::size_t> segment_size;
  for (const auto& line : read_lines(dir.file("demo/segments/labels.csv")))
    if (line != "id,segment") ++segment_size[line.substr(line.rfind(',') + 1)];
  const auto rows = read_lines(dir.file("demo/segments/attribute_profiles.csv"));
  ASSERT_GT(rows.size(), 1u);
  EXPECT_EQ(rows[0], "segment,attribute,value,users,share_in_segment,share_in_population,lift");
  std::map<std::pair<std::string, std::string>, std::size_t> users;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    std::vector<std::string> f;
    for (std::size_t start = 0, end; start <= rows[i].size(); start = end + 1) {
      end = std::min(rows[i].find(',', start), rows[i].size());
      f.push_back(rows[i].substr(start, end - start));
    }
    ASSERT_EQ(f.size(), 7u) << rows[i];
    users[{f[0], f[1]}] += std::stoul(f[3]);
  }
  EXPECT_EQ(users.size(), segment_size.size() * 4);  // age_band, gender, marital_status, device
  for (const auto& [key, total] : users) EXPECT_EQ(total, segment_size.at(key.first)) << key.first << " " << key.second;
  const std::string summary = format_demo_report(report);
  EXPECT_NE(summary.find("ground truth"), std::string::npos);
}

TEST(Demo, CliRunsAndBadSizeFailsCleanly) {
  testing::TempDir dir;
  auto result = testing::run_cli("demo --device cpu --size tiny --out " + dir.file("d"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("ground truth: join counts exact"), std::string::npos) << result.output;
  result = testing::run_cli("demo --quiet --device cpu --size tiny --out " + dir.file("q"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::istringstream lines(result.output);  // --quiet: warnings only, no progress, no report
  for (std::string line; std::getline(lines, line);) EXPECT_EQ(line.rfind("warning: ", 0), 0u) << line;
  result = testing::run_cli("demo --quiet --size enormous --out " + dir.file("e"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("error: demo stage 'generate' failed"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace cohort
