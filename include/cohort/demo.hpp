/*
 * demo.hpp: `cohort demo`, the whole job on a generated world, scored against its truth.
 *
 * generate  world/                  a synthetic city (cohort generate; skipped when world/
 *                                   already holds the same seed and size)
 * then DIR/pipeline.json, a config for that world (demo_pipeline_config), and
 * run_pipeline on it (see pipeline.hpp): join, matrix, vectors, train, segment
 * (cosine, k = 2..10), similar (top 10 of 200 users), analysis, report.html.
 * Ground-truth scores: per-store ping counts against the generator's truth (exact
 * match expected), adjusted Rand index of the segments against the latent segments,
 * and the share of look-alikes that share the query's latent segment.
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cohort/backend.hpp"
#include "cohort/pipeline.hpp"

namespace cohort {

struct DemoOptions {
  std::string out_dir;
  std::string size = "small";  ///< a cohort generate size
  std::uint64_t seed = 42;
  Device device = Device::Auto;
  int lookalike_queries = 200;
  bool train = true;   ///< include the train stage (the report's loss curves)
  bool force = false;  ///< rerun every stage
};

struct DemoStage {
  std::string name;
  double seconds = 0.0;
  std::string detail;
  bool skipped = false;
};

struct DemoReport {
  std::vector<DemoStage> stages;
  std::size_t stores = 0, stores_exact = 0;  ///< stores whose join count equals the truth
  int chosen_k = 0, true_k = 0;
  double segment_ari = 0.0;
  double lookalike_precision = 0.0;  ///< same-segment share of the look-alikes
  double random_precision = 0.0;     ///< what random look-alikes would score
  Device device = Device::Cpu;
  PipelineConfig config;  ///< the config that ran
};

/// The pipeline config for a generated world in world_dir (what `cohort demo` writes to
/// DIR/pipeline.json).
PipelineConfig demo_pipeline_config(const std::string& world_dir, const DemoOptions& options);

/// Runs every stage; throws (naming the stage) when one fails.
DemoReport run_demo(const DemoOptions& options);
/// The summary table printed by `cohort demo`.
std::string format_demo_report(const DemoReport& report);

}  // namespace cohort
