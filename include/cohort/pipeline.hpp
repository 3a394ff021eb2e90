/*
 * pipeline.hpp: `cohort pipeline CONFIG --out DIR`, the whole analysis from one JSON config.
 *
 * Stages, in order (each a call into an engine's public API; artifacts under DIR):
 *   join      visits.csv (point_id,polygon_id), store_counts.csv       points -> polygons
 *   matrix    matrix/                 user x item matrices from the event log
 *   vectors   user_vectors.npy, user_ids.txt  each user's item shares (all event types)
 *   train     train/                  (optional) the embedding network on the customers table
 *   segment   segments/               k-means over a k range, best silhouette, profiles
 *   similar   lookalikes.csv          top-k look-alikes of evenly spaced users
 *   analysis  analysis/ (CSV files)    lift, covariance, consistency, hour-of-week seasonality
 *   report    report.html             a self-contained HTML report (inline CSS + SVG)
 *
 * DIR/manifest.json records the cohort version, the device, the config that ran and, per
 * stage, its status, time, parameters, the FNV-1a 64 checksums of its inputs and outputs.
 * A stage's parameters include the device it ran on, so switching devices reruns it.
 * A stage whose key (parameters + input checksums) equals the manifest's and whose
 * outputs still have their recorded checksums is skipped (force reruns everything).
 * The manifest is rewritten before a stage starts (its entry removed) and after it ends,
 * so a stage that throws is never left marked complete; the error names the stage.
 * With a `truth` directory (a `cohort generate` world) the manifest also holds the
 * ground-truth scores: join exactness per store, segment ARI, look-alike precision.
 *
 * Config (JSON; relative paths are relative to the config file; unknown keys are errors):
 *   {"inputs": {"polygons": {"path", "id_column", "wkt_column", "category_column"},
 *               "points":   {"path", "id_column", "x_column", "y_column", "user_column", "time_column"},
 *               "events":   {"path", "user_column", "item_column", "event_column", "time_column"},
 *               "customers":{"path", "id_column", "x_column", "y_column"},
 *               "truth": "DIR"},
 *    "steps":  {"join": {"first"}, "matrix": {"conversion"},
 *               "train": {"enabled", "target", "cat_columns", "cont_columns", "epochs", "batch", "lr",
 *                         "layers"}   (present = enabled unless "enabled": false; table = customers),
 *               "segment": {"k_min", "k_max", "metric", "n_init"},
 *               "similar": {"k", "queries"},
 *               "analysis": {"utc_offset_hours", "attribute_columns"}},
 *    "seed": 42}
 * Required: the four input paths (checked to exist when the config is read). Points must be
 * CSV with user and time columns for the visit analysis (an empty column name leaves those
 * tables out). Example: tests/data/pipeline_example.json; `cohort demo` writes DIR/pipeline.json.
 * Hour of week: 0 = Monday 00:00-01:00 local time, local = Unix time + utc_offset_hours * 3600
 * (the generator's window starts Monday 2024-03-04 00:00 at UTC-7, its default offset).
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cohort/backend.hpp"

namespace cohort {

struct PipelineConfig {
  std::string polygons, polygon_id_column = "store_id", wkt_column = "wkt", polygon_category_column;
  std::string points, point_id_column = "ping_id", x_column = "lon", y_column = "lat", point_user_column = "user_id",
                      point_time_column = "timestamp";
  std::string events, user_column = "user_id", item_column = "category", event_column = "event",
                      time_column = "timestamp";
  std::string customers, customer_id_column = "user_id", home_x_column = "home_lon", home_y_column = "home_lat";
  std::string truth_dir;  ///< a generated world's directory ("" = no ground truth)

  bool join_first = false;
  std::string conversion;  ///< matrix: "NUM/DEN" event names or ""
  bool train = false;
  std::string train_target = "spend";
  std::vector<std::string> train_cat_columns, train_cont_columns;
  int train_epochs = 5, train_batch = 256;
  double train_lr = 1e-2;
  std::vector<int> train_layers{64, 32};
  /// Each customer's row of the stage's matrix enters as a weighted bag of item
  /// embeddings (`cohort train --matrix`), so the user vectors reflect behaviour.
  bool train_bag = true;
  int k_min = 2, k_max = 10;
  std::string metric = "cosine";  ///< "cosine" | "euclidean"
  int n_init = 3;
  int similar_k = 10, similar_queries = 200;
  double utc_offset_hours = -7.0;
  std::vector<std::string> attribute_columns;  ///< customers-table columns grouped for lift
  std::uint64_t seed = 42;
};

/// Parses a config file; InvalidInput names the file and the unknown key, wrong type or
/// missing input file. Relative paths become relative to the config's directory.
PipelineConfig read_pipeline_config(const std::string& path);
/// The same from JSON text; base_dir resolves relative paths, name is used in errors.
PipelineConfig parse_pipeline_config(const std::string& json, const std::string& base_dir, const std::string& name);
/// The config as JSON, every key written (what `--verbose` prints; round-trips).
std::string pipeline_config_json(const PipelineConfig& config);

struct PipelineOptions {
  std::string out_dir;
  bool force = false;
  Device device = Device::Auto;
};

struct PipelineStageResult {
  std::string name;
  bool skipped = false;
  double seconds = 0.0;  ///< this run's time (0 when skipped)
  double recorded_seconds = 0.0;  ///< time of the run that made the artifacts
  std::string detail;
};

struct StoreTruth {
  std::string store;
  std::int64_t truth = 0, joined = 0;
};

struct GroundTruthScores {
  bool available = false;
  std::vector<StoreTruth> stores;
  std::size_t stores_exact = 0;
  int chosen_k = 0, true_k = 0;
  double segment_ari = 0.0;
  double lookalike_precision = 0.0;  ///< same-latent-segment share of the look-alikes
  double random_precision = 0.0;     ///< what random look-alikes would score
};

struct PipelineReport {
  std::vector<PipelineStageResult> stages;
  GroundTruthScores truth;
  Device device = Device::Cpu;
  std::string out_dir;
};

/// Runs (or skips) every stage; throws Error "pipeline stage 'S' failed (input ...): ..." .
PipelineReport run_pipeline(const PipelineConfig& config, const PipelineOptions& options);
/// The summary table printed on the terminal.
std::string format_pipeline_report(const PipelineReport& report);

/// FNV-1a 64 of a file's bytes; of a directory: of its files' relative names and
/// checksums in name order. Throws InvalidInput when the path does not exist.
std::uint64_t checksum_path(const std::string& path);
std::string checksum_hex(std::uint64_t checksum);

}  // namespace cohort
