/*
 * pipeline.cpp: run_pipeline, the stage runner (see pipeline.hpp): per stage, checksum
 * its inputs, skip it when the manifest holds the same key and its outputs are intact,
 * else drop its manifest entry, run it, checksum its outputs and record it complete.
 */
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "cohort/atomic_file.hpp"
#include "cohort/error.hpp"
#include "cohort/progress.hpp"
#include "host/api/pipeline_internal.hpp"
#include "host/io/report_html.hpp"

namespace cohort {
namespace {

namespace fs = std::filesystem;

struct Stage {
  std::string name;
  std::vector<std::string> inputs;   // paths (files or directories)
  std::string params;                // a JSON object, recorded and keyed
  std::vector<std::string> outputs;  // relative to the output directory
  std::function<std::string()> run;
};

std::string key_of(const Stage& stage, const std::vector<std::pair<std::string, std::string>>& inputs) {
  // The version too: a new cohort may compute a stage differently.
  std::string material = std::string(COHORT_VERSION) + "\n" + stage.name + "\n" + stage.params + "\n";
  for (const auto& input : inputs) material += input.second + "\n";
  std::uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : material) h = (h ^ c) * 1099511628211ull;
  return checksum_hex(h);
}

bool outputs_intact(const detail::StageRecord& record, const std::string& out, detail::ChecksumCache& cache) {
  for (const auto& [path, sum] : record.outputs) {
    if (!fs::exists(out + path)) return false;
    if (checksum_hex(detail::checksum_path(out + path, cache)) != sum) return false;
  }
  return !record.outputs.empty();
}

std::string join_names(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

// The stage itself and every later stage that reads its outputs, transitively.
std::vector<std::string> dependents_of(const std::vector<Stage>& stages, const std::string& name, const std::string& out) {
  std::vector<std::string> produced, names{name};
  bool started = false;
  for (const auto& stage : stages) {
    if (stage.name == name) {
      started = true;
    } else if (started) {
      bool reads = false;
      for (const auto& input : stage.inputs)
        for (const auto& made : produced)
          reads = reads || input == made || input.rfind(made + "/", 0) == 0;
      if (!reads) continue;
      names.push_back(stage.name);
    } else {
      continue;
    }
    for (const auto& output : stage.outputs) produced.push_back(out + output);
  }
  return names;
}

std::string num6(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", x);
  return text;
}

std::string q(const std::string& s) { return detail::json_quote(s); }
std::string num(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", x);
  return text;
}

}  // namespace

PipelineReport run_pipeline(const PipelineConfig& c, const PipelineOptions& options) {
  COHORT_EXPECTS(!options.out_dir.empty(), "pipeline: --out is required");
  ensure_directory(options.out_dir);
  const std::string out = options.out_dir + "/";
  const std::string manifest_path = out + "manifest.json";
  PipelineReport report;
  report.out_dir = options.out_dir;
  report.device = resolve_device(options.device);
  const Device device = report.device;
  const std::string config_json = pipeline_config_json(c);
  detail::Manifest manifest = detail::read_manifest(manifest_path);
  manifest.failed_stage.clear();
  manifest.error.clear();

  // Stages that run on a device record it among their parameters: a switch of device
  // reruns them (the backends agree only within float rounding).
  const std::string on_device = ", \"device\": " + q(device_name(device)) + "}";
  std::vector<Stage> stages;
  stages.push_back({"join", {c.polygons, c.points},
                    "{\"polygon_id_column\": " + q(c.polygon_id_column) + ", \"wkt_column\": " + q(c.wkt_column) +
                        ", \"point_id_column\": " + q(c.point_id_column) + ", \"x_column\": " + q(c.x_column) +
                        ", \"y_column\": " + q(c.y_column) + ", \"first\": " + (c.join_first ? "true" : "false") + on_device,
                    {"visits.csv", "store_counts.csv"}, [&] { return detail::stage_join(c, out, device); }});
  stages.push_back({"matrix", {c.events},
                    "{\"user_column\": " + q(c.user_column) + ", \"item_column\": " + q(c.item_column) +
                        ", \"event_column\": " + q(c.event_column) + ", \"time_column\": " + q(c.time_column) +
                        ", \"conversion\": " + q(c.conversion) + on_device,
                    {"matrix"}, [&] { return detail::stage_matrix(c, out, device); }});
  stages.push_back({"vectors", {out + "matrix"}, "{\"source\": \"item shares, all event types\"}",
                    {"user_vectors.npy", "user_ids.txt"}, [&] { return detail::stage_vectors(c, out); }});
  if (c.train) {
    std::string cats, conts, layers;
    for (const auto& s : c.train_cat_columns) cats += (cats.empty() ? "" : ", ") + q(s);
    for (const auto& s : c.train_cont_columns) conts += (conts.empty() ? "" : ", ") + q(s);
    for (const int l : c.train_layers) layers += (layers.empty() ? "" : ", ") + std::to_string(l);
    std::vector<std::string> train_inputs{c.customers};
    if (c.train_bag) train_inputs.push_back(out + "matrix");
    stages.push_back({"train", train_inputs,
                      "{\"target\": " + q(c.train_target) + ", \"id_column\": " + q(c.customer_id_column) +
                          ", \"cat_columns\": [" + cats + "], \"cont_columns\": [" + conts + "], \"epochs\": " +
                          std::to_string(c.train_epochs) + ", \"batch\": " + std::to_string(c.train_batch) +
                          ", \"lr\": " + num(c.train_lr) + ", \"bag\": " + (c.train_bag ? "true" : "false") +
                          ", \"layers\": [" + layers + "], \"seed\": " +
                          std::to_string(c.seed) + on_device,
                      {"train"}, [&] { return detail::stage_train(c, out, device); }});
  }
  std::string attributes;
  for (const auto& column : c.attribute_columns) attributes += (attributes.empty() ? "" : ", ") + q(column);
  std::vector<std::string> segment_inputs{out + "user_vectors.npy", out + "user_ids.txt", out + "matrix"};
  if (!c.attribute_columns.empty()) segment_inputs.push_back(c.customers);  // profiled per segment
  stages.push_back({"segment", segment_inputs,
                    "{\"k_min\": " + std::to_string(c.k_min) + ", \"k_max\": " + std::to_string(c.k_max) +
                        ", \"metric\": " + q(c.metric) + ", \"n_init\": " + std::to_string(c.n_init) +
                        ", \"seed\": " + std::to_string(c.seed) + ", \"conversion\": " + q(c.conversion) +
                        ", \"attribute_columns\": [" + attributes + "]" + on_device,
                    {"segments"}, [&] { return detail::stage_segment(c, out, device); }});
  stages.push_back({"similar", {out + "user_vectors.npy", out + "user_ids.txt"},
                    "{\"k\": " + std::to_string(c.similar_k) + ", \"queries\": " + std::to_string(c.similar_queries) +
                        ", \"exclude_self\": true" + on_device,
                    {"lookalikes.csv"}, [&] { return detail::stage_similar(c, out, device); }});
  std::vector<std::string> analysis_inputs{out + "visits.csv",       c.points,           c.polygons,
                                           out + "segments/labels.csv", out + "user_vectors.npy", out + "user_ids.txt",
                                           out + "matrix"};
  if (!c.attribute_columns.empty()) analysis_inputs.push_back(c.customers);
  stages.push_back({"analysis", analysis_inputs,
                    "{\"utc_offset_hours\": " + num(c.utc_offset_hours) + ", \"point_user_column\": " +
                        q(c.point_user_column) + ", \"point_time_column\": " + q(c.point_time_column) +
                        ", \"attribute_columns\": [" + attributes + "]}",
                    {"analysis"}, [&] { return detail::stage_analysis(c, out); }});

  Progress progress("pipeline", stages.size() + 1, "stages");
  for (const auto& stage : stages) {
    std::vector<std::pair<std::string, std::string>> inputs;
    for (const auto& path : stage.inputs) {
      if (!fs::exists(path))
        throw Error("pipeline stage '" + stage.name + "' failed: input '" + path + "' does not exist");
      inputs.emplace_back(path, checksum_hex(detail::checksum_path(path, manifest.checksums)));
    }
    const std::string key = key_of(stage, inputs);
    const detail::StageRecord* previous = manifest.find(stage.name);
    PipelineStageResult result;
    result.name = stage.name;
    if (!options.force && previous && previous->status == "complete" && previous->key == key &&
        outputs_intact(*previous, out, manifest.checksums)) {
      result.skipped = true;
      result.recorded_seconds = previous->seconds;
      result.detail = previous->detail;
      log_info("== " + stage.name + ": unchanged, skipped");
      report.stages.push_back(result);
      progress.add(1);
      continue;
    }
    // From here until the stage is recorded again, the manifest lists neither it nor the
    // stages that read its outputs (directly or through others), nor the report.
    for (const auto& name : dependents_of(stages, stage.name, out)) manifest.remove(name);
    manifest.remove("report");
    detail::write_manifest(manifest_path, manifest, config_json, device, report.truth);
    log_info("== " + stage.name);
    const auto start = std::chrono::steady_clock::now();
    try {
      result.detail = stage.run();
    } catch (const std::exception& e) {
      manifest.failed_stage = stage.name;
      manifest.error = e.what();
      detail::write_manifest(manifest_path, manifest, config_json, device, report.truth);
      throw Error("pipeline stage '" + stage.name + "' failed (inputs: " + join_names(stage.inputs) + "): " + e.what());
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.recorded_seconds = result.seconds;
    detail::StageRecord record;
    record.name = stage.name;
    record.status = "complete";
    record.key = key;
    record.seconds = result.seconds;
    record.params = stage.params;
    record.inputs = inputs;
    record.detail = result.detail;
    for (const auto& output : stage.outputs)
      record.outputs.emplace_back(output, checksum_hex(detail::checksum_path(out + output, manifest.checksums)));
    manifest.stages.push_back(record);
    detail::write_manifest(manifest_path, manifest, config_json, device, report.truth);
    report.stages.push_back(result);
    progress.add(1);
  }

  report.truth = detail::score_against_truth(c, out);

  // The report depends on every artifact and on the recorded stage times and scores.
  {
    PipelineStageResult result;
    result.name = "report";
    std::string material = std::string(COHORT_VERSION) + config_json;
    for (const auto& s : manifest.stages)
      if (s.name != "report") material += s.name + s.key + num6(s.seconds) + "\n";  // as the manifest stores it
    for (const auto& s : report.truth.stores) material += std::to_string(s.joined);
    material += num(report.truth.segment_ari) + num(report.truth.lookalike_precision);
    std::uint64_t h = 14695981039346656037ull;
    for (const unsigned char ch : material) h = (h ^ ch) * 1099511628211ull;
    const std::string key = checksum_hex(h);
    const detail::StageRecord* previous = manifest.find("report");
    if (!options.force && previous && previous->key == key && outputs_intact(*previous, out, manifest.checksums)) {
      result.skipped = true;
      result.recorded_seconds = previous->seconds;
      result.detail = previous->detail;
      log_info("== report: unchanged, skipped");
    } else {
      manifest.remove("report");
      detail::write_manifest(manifest_path, manifest, config_json, device, report.truth);
      log_info("== report");
      const auto start = std::chrono::steady_clock::now();
      try {
        detail::write_report_html(c, out, report.stages, report.truth, device);
      } catch (const std::exception& e) {
        manifest.failed_stage = "report";
        manifest.error = e.what();
        detail::write_manifest(manifest_path, manifest, config_json, device, report.truth);
        throw Error(std::string("pipeline stage 'report' failed: ") + e.what());
      }
      result.seconds = result.recorded_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      result.detail = "report.html";
      detail::StageRecord record;
      record.name = "report";
      record.status = "complete";
      record.key = key;
      record.seconds = result.seconds;
      record.params = "{}";
      record.detail = result.detail;
      record.outputs.emplace_back("report.html", checksum_hex(detail::checksum_path(out + "report.html", manifest.checksums)));
      manifest.stages.push_back(record);
    }
    report.stages.push_back(result);
    progress.add(1);
  }
  detail::write_manifest(manifest_path, manifest, config_json, device, report.truth);
  progress.finish();
  return report;
}

std::string format_pipeline_report(const PipelineReport& report) {
  std::string text = "\ncohort pipeline (device: " + std::string(device_name(report.device)) + ")\n";
  char line[640];
  std::snprintf(line, sizeof line, "%-9s %-8s %9s  %s\n", "stage", "status", "seconds", "result");
  text += line;
  for (const auto& s : report.stages) {
    std::snprintf(line, sizeof line, "%-9s %-8s %9.2f  %s\n", s.name.c_str(), s.skipped ? "skipped" : "ran",
                  s.skipped ? s.recorded_seconds : s.seconds, s.detail.c_str());
    text += line;
  }
  if (report.truth.available) {
    const auto& t = report.truth;
    std::snprintf(line, sizeof line,
                  "\nground truth: join counts exact for %zu of %zu stores; segments k = %d (truth %d), ARI %.3f; "
                  "look-alike precision %.3f (random %.3f)\n",
                  t.stores_exact, t.stores.size(), t.chosen_k, t.true_k, t.segment_ari, t.lookalike_precision,
                  t.random_precision);
    text += line;
  }
  return text;
}

}  // namespace cohort
