/*
 * demo.hpp: `cohort demo`, the whole job on a generated world, scored against its truth.
 *
 * Stages (each timed; artifacts in DemoOptions::out_dir):
 *   generate  world/                  a synthetic city (cohort generate)
 *   join      visits.csv, store_counts.csv   GPS pings -> store polygons
 *   matrix    matrix/                 user x category matrices from the event log
 *   vectors   user_vectors.npy, user_ids.txt  each user's category shares (views + purchases)
 *   segment   segments/               k-means (cosine) over k = 2..10, best silhouette, profiles
 *   similar   lookalikes.csv          top-10 look-alikes of sampled users
 * Ground-truth scores: per-store ping counts against the generator's truth (exact
 * match expected), adjusted Rand index of the segments against the latent segments,
 * and the share of look-alikes that share the query's latent segment.
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cohort/backend.hpp"

namespace cohort {

struct DemoOptions {
  std::string out_dir;
  std::string size = "small";  ///< a cohort generate size
  std::uint64_t seed = 42;
  Device device = Device::Auto;
  int lookalike_queries = 200;
};

struct DemoStage {
  std::string name;
  double seconds = 0.0;
  std::string detail;
};

struct DemoReport {
  std::vector<DemoStage> stages;
  std::size_t stores = 0, stores_exact = 0;  ///< stores whose join count equals the truth
  int chosen_k = 0, true_k = 0;
  double segment_ari = 0.0;
  double lookalike_precision = 0.0;  ///< same-segment share of the look-alikes
  double random_precision = 0.0;     ///< what random look-alikes would score
  Device device = Device::Cpu;
};

/// Runs every stage; throws (naming the stage) when one fails.
DemoReport run_demo(const DemoOptions& options);
/// The summary table printed by `cohort demo`.
std::string format_demo_report(const DemoReport& report);

}  // namespace cohort
