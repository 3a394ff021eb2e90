/*
 * pipeline_internal.hpp: pieces of the pipeline shared by host/api/pipeline*.cpp and
 * host/io/report_html.cpp: the manifest's records, the stage bodies, the analysis and
 * the ground-truth scoring. Not a public header.
 */
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cohort/backend.hpp"
#include "cohort/pipeline.hpp"

namespace cohort::detail {

/// snprintf of up to three numbers into a std::string (stage details, CSV cells).
std::string fmt(const char* format, double a, double b = 0, double c = 0);

/// One stage's entry in DIR/manifest.json.
struct StageRecord {
  std::string name, status;  ///< status: "complete" (only complete entries are kept)
  std::string key;           ///< FNV-1a of parameters + input checksums, hex
  double seconds = 0.0;
  std::string params;        ///< a JSON object
  std::vector<std::pair<std::string, std::string>> inputs;   ///< (path, checksum hex)
  std::vector<std::pair<std::string, std::string>> outputs;  ///< (path relative to DIR, checksum hex)
  std::string detail;
};

/// A file's checksum remembered with its size and modification time (ns), so a rerun
/// need not read unchanged inputs and outputs again. Trusted only when the file was last
/// written more than kRacyNs before the checksum was taken: a file rewritten within the
/// file system's time resolution of its checksum could keep its size and mtime (git's
/// "racy" rule), so it is read again.
struct CachedChecksum {
  std::uint64_t size = 0, checksum = 0;
  std::int64_t mtime_ns = 0, taken_ns = 0;
  bool used = false;  ///< looked up or taken in this run (only those are written back)
};
using ChecksumCache = std::map<std::string, CachedChecksum>;  ///< by absolute path
constexpr std::int64_t kRacyNs = 2'000'000'000;

/// checksum_path, with each file's checksum from the cache when its size and mtime match.
std::uint64_t checksum_path(const std::string& path, ChecksumCache& cache);

struct Manifest {
  std::vector<StageRecord> stages;
  ChecksumCache checksums;
  std::string failed_stage, error;  ///< the last run's failure, if any
  const StageRecord* find(const std::string& name) const;
  void remove(const std::string& name);
};

/// Reads DIR/manifest.json's stage records; a missing or unreadable manifest gives an
/// empty one (everything reruns).
Manifest read_manifest(const std::string& path);
/// Writes the manifest atomically.
void write_manifest(const std::string& path, const Manifest& manifest, const std::string& config_json, Device device,
                    const GroundTruthScores& truth);

std::string json_quote(const std::string& text);

/// Stage bodies: each writes its artifacts under out (a directory with a trailing '/')
/// and returns a one-line summary.
std::string stage_join(const PipelineConfig& c, const std::string& out, Device device);
std::string stage_matrix(const PipelineConfig& c, const std::string& out, Device device);
std::string stage_vectors(const PipelineConfig& c, const std::string& out);
std::string stage_train(const PipelineConfig& c, const std::string& out, Device device);
std::string stage_segment(const PipelineConfig& c, const std::string& out, Device device);
std::string stage_similar(const PipelineConfig& c, const std::string& out, Device device);
std::string stage_analysis(const PipelineConfig& c, const std::string& out);

/// Users x items interaction counts (all event types) from a matrix directory, dense.
std::vector<double> interaction_counts(const std::string& matrix_dir, std::size_t users, std::size_t items);

/// Scores the artifacts against c.truth_dir (available = false without one).
GroundTruthScores score_against_truth(const PipelineConfig& c, const std::string& out);

/// Hour of week (0 = Monday 00:00-01:00 local) of a Unix time.
int hour_of_week(double unix_seconds, double utc_offset_hours);
/// "Mon 00:00" for an hour of week.
std::string hour_of_week_label(int hour);

/// (id, column) -> values of a small CSV as strings, in file order.
std::vector<std::vector<std::string>> read_csv_columns(const std::string& path, const std::vector<std::string>& columns);

}  // namespace cohort::detail
