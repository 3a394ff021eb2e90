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
  // Attribute distributions per segment: the demo's event log has no attribute columns,
  // so the file holds its header alone (and no stale rows).
  EXPECT_EQ(read_lines(dir.file("demo/segments/attribute_profiles.csv")),
            std::vector<std::string>{"segment,attribute,value,users,share_in_segment,share_in_population,lift"});
  const std::string summary = format_demo_report(report);
  EXPECT_NE(summary.find("ground truth"), std::string::npos);
}

TEST(Demo, CliRunsAndBadSizeFailsCleanly) {
  testing::TempDir dir;
  auto result = testing::run_cli("demo --quiet --device cpu --size tiny --out " + dir.file("d"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("ground truth: join counts exact"), std::string::npos) << result.output;
  result = testing::run_cli("demo --quiet --size enormous --out " + dir.file("e"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("error: demo stage 'generate' failed"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace cohort
