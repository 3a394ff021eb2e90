/*
 * pipeline_truth.cpp: the pipeline's artifacts scored against a generated world's ground
 * truth (truth_store_counts.csv, truth_segments.csv): join counts per store (exact
 * expected), adjusted Rand index of the segments, and the share of look-alikes that
 * share the query's latent segment next to what random neighbours would score.
 */
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "cohort/error.hpp"
#include "cohort/metrics.hpp"
#include "host/api/pipeline_internal.hpp"

namespace cohort::detail {

GroundTruthScores score_against_truth(const PipelineConfig& c, const std::string& out) {
  GroundTruthScores t;
  if (c.truth_dir.empty()) return t;
  const std::string dir = c.truth_dir + "/";
  t.available = true;

  const auto truth_counts = read_csv_columns(dir + "truth_store_counts.csv", {"store_id", "pings"});
  const auto joined = read_csv_columns(out + "store_counts.csv", {"polygon_id", "count"});
  std::unordered_map<std::string, std::int64_t> joined_count;
  for (std::size_t i = 0; i < joined[0].size(); ++i) joined_count[joined[0][i]] = std::stoll(joined[1][i]);
  for (std::size_t i = 0; i < truth_counts[0].size(); ++i) {
    StoreTruth s{truth_counts[0][i], std::stoll(truth_counts[1][i]), -1};
    const auto it = joined_count.find(s.store);
    if (it != joined_count.end()) s.joined = it->second;
    t.stores_exact += s.joined == s.truth;
    t.stores.push_back(s);
  }

  const auto truth_segments = read_csv_columns(dir + "truth_segments.csv", {"user_id", "segment"});
  std::unordered_map<std::string, std::int32_t> latent;
  for (std::size_t i = 0; i < truth_segments[0].size(); ++i) latent[truth_segments[0][i]] = std::stoi(truth_segments[1][i]);
  const auto labels = read_csv_columns(out + "segments/labels.csv", {"id", "segment"});
  std::vector<std::int32_t> found, expected;
  std::map<std::int32_t, double> sizes;
  for (std::size_t i = 0; i < labels[0].size(); ++i) {
    const auto it = latent.find(labels[0][i]);
    if (it == latent.end()) continue;
    found.push_back(std::stoi(labels[1][i]));
    expected.push_back(it->second);
    sizes[it->second] += 1.0;
    t.chosen_k = std::max(t.chosen_k, found.back() + 1);
  }
  std::set<std::int32_t> distinct;
  for (const auto& entry : latent) distinct.insert(entry.second);
  t.true_k = static_cast<int>(distinct.size());
  t.segment_ari = found.empty() ? 0.0 : adjusted_rand_index(found, expected);
  for (const auto& entry : sizes) {
    const double share = entry.second / static_cast<double>(found.size());
    t.random_precision += share * share;
  }

  const auto pairs = read_csv_columns(out + "lookalikes.csv", {"query_id", "id"});
  std::size_t same = 0, total = 0;
  for (std::size_t i = 0; i < pairs[0].size(); ++i) {
    const auto a = latent.find(pairs[0][i]), b = latent.find(pairs[1][i]);
    if (a == latent.end() || b == latent.end()) continue;
    same += a->second == b->second;
    ++total;
  }
  t.lookalike_precision = total ? static_cast<double>(same) / static_cast<double>(total) : 0.0;
  return t;
}

int hour_of_week(double unix_seconds, double utc_offset_hours) {
  const double local = std::floor(unix_seconds + utc_offset_hours * 3600.0);
  const auto seconds = static_cast<std::int64_t>(local);
  std::int64_t days = seconds / 86400, rest = seconds % 86400;
  if (rest < 0) rest += 86400, --days;
  const std::int64_t weekday = ((days + 3) % 7 + 7) % 7;  // 1970-01-01 was a Thursday (Monday = 0)
  return static_cast<int>(weekday * 24 + rest / 3600);
}

std::string hour_of_week_label(int hour) {
  static const char* days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  char text[16];
  std::snprintf(text, sizeof text, "%s %02d:00", days[(hour / 24) % 7], hour % 24);
  return text;
}

}  // namespace cohort::detail
