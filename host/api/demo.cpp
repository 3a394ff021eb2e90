/*
 * demo.cpp: `cohort demo` (see demo.hpp): generate a world (or reuse the one already in
 * DIR/world for the same seed and size), write DIR/pipeline.json for it, and run the
 * pipeline from that file, so the demo exercises exactly what a user's config would.
 */
#include "cohort/demo.hpp"

#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cohort/atomic_file.hpp"
#include "cohort/error.hpp"
#include "cohort/generate.hpp"
#include "cohort/progress.hpp"
#include "host/api/pipeline_internal.hpp"

namespace cohort {
namespace {

namespace fs = std::filesystem;
using detail::fmt;

// True when dir holds a complete world generated with this seed and size.
bool world_is_current(const std::string& dir, const DemoOptions& options) {
  const std::string manifest = dir + "/manifest.json";
  if (!fs::exists(manifest)) return false;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::uint64_t seed = 0;
  std::string_view size;
  simdjson::dom::array files;
  if (parser.load(manifest).get(root) || root["seed"].get_uint64().get(seed) || root["size"].get_string().get(size) ||
      root["files"].get_array().get(files))
    return false;
  if (seed != options.seed || std::string(size) != parse_world_size(options.size).name) return false;
  for (simdjson::dom::element file : files) {
    std::string_view name;
    if (file["name"].get_string().get(name) || !fs::exists(dir + "/" + std::string(name))) return false;
    std::uint64_t bytes = 0;  // the manifest lists no size for itself
    if (!file["bytes"].get_uint64().get(bytes) && fs::file_size(dir + "/" + std::string(name)) != bytes) return false;
  }
  return true;
}

}  // namespace

PipelineConfig demo_pipeline_config(const std::string& world_dir, const DemoOptions& options) {
  const std::string w = world_dir.empty() ? "" : world_dir + "/";
  PipelineConfig c;
  c.polygons = w + "stores.csv";
  c.polygon_category_column = "category";
  c.points = w + "pings.csv";
  c.events = w + "events.csv";
  c.customers = w + "customers.csv";
  c.truth_dir = world_dir.empty() ? "." : world_dir;
  c.conversion = "purchase/view";
  c.train = options.train;
  c.train_target = "spend";
  c.train_cat_columns = {"age_band", "gender", "marital_status", "device", "city"};
  c.train_cont_columns = {"income", "tenure_months"};
  c.train_epochs = 5;
  // Small batches for the tiny world (240 training rows); large ones from medium up, where
  // every step also updates the whole id embedding (Adam is dense).
  c.train_batch = parse_world_size(options.size).customers <= 10000 ? 64 : 1024;
  c.train_layers = {64, 32};
  c.k_min = 2;
  c.k_max = 10;
  c.metric = "cosine";
  c.similar_k = 10;
  c.similar_queries = options.lookalike_queries;
  c.utc_offset_hours = -7.0;  // the generator's window starts Monday 00:00 at UTC-7
  c.attribute_columns = {"age_band", "gender", "marital_status", "device"};
  c.seed = options.seed;
  return c;
}

DemoReport run_demo(const DemoOptions& options) {
  COHORT_EXPECTS(!options.out_dir.empty(), "demo: --out is required");
  ensure_directory(options.out_dir);
  const std::string out = options.out_dir + "/";
  const std::string world = out + "world";
  DemoReport report;
  report.device = resolve_device(options.device);

  log_info("== generate");
  const auto start = std::chrono::steady_clock::now();
  DemoStage generate{"generate", 0.0, "", false};
  try {
    if (!options.force && world_is_current(world, options)) {
      generate.skipped = true;
      generate.detail = "world/ already holds seed " + std::to_string(options.seed) + ", size " + options.size;
    } else {
      GenerateOptions g;
      g.size = options.size;
      g.out_dir = world;
      g.seed = options.seed;
      const auto s = generate_world(g);
      generate.detail = fmt("%.0f customers, %.0f stores, %.0f pings", static_cast<double>(s.customers),
                            static_cast<double>(s.stores), static_cast<double>(s.pings)) +
                        fmt(", %.0f events", static_cast<double>(s.events));
    }
  } catch (const Error& e) {
    throw Error("demo stage 'generate' failed: " + std::string(e.what()));
  }
  generate.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.stages.push_back(generate);

  // The config as a file beside the results (paths relative to it), read back as a user's would be.
  write_text_file(out + "pipeline.json", pipeline_config_json(demo_pipeline_config("world", options)));
  report.config = read_pipeline_config(out + "pipeline.json");
  log_verbose("config that ran (" + out + "pipeline.json):\n" + pipeline_config_json(report.config));

  PipelineOptions pipeline;
  pipeline.out_dir = options.out_dir;
  pipeline.device = report.device;
  pipeline.force = options.force;
  const PipelineReport result = run_pipeline(report.config, pipeline);
  for (const auto& s : result.stages)
    report.stages.push_back({s.name, s.skipped ? s.recorded_seconds : s.seconds, s.detail, s.skipped});
  const auto& t = result.truth;
  report.stores = t.stores.size();
  report.stores_exact = t.stores_exact;
  report.chosen_k = t.chosen_k;
  report.true_k = t.true_k;
  report.segment_ari = t.segment_ari;
  report.lookalike_precision = t.lookalike_precision;
  report.random_precision = t.random_precision;
  return report;
}

std::string format_demo_report(const DemoReport& report) {
  std::string text = "\ncohort demo (device: " + std::string(device_name(report.device)) + ")\n";
  char line[640];
  std::snprintf(line, sizeof line, "%-9s %-8s %9s  %s\n", "stage", "status", "seconds", "result");
  text += line;
  double total = 0;
  for (const auto& s : report.stages) {
    std::snprintf(line, sizeof line, "%-9s %-8s %9.2f  %s\n", s.name.c_str(), s.skipped ? "skipped" : "ran", s.seconds,
                  s.detail.c_str());
    text += line;
    if (!s.skipped) total += s.seconds;
  }
  std::snprintf(line, sizeof line, "%-9s %-8s %9.2f\n", "total", "", total);
  text += line;
  std::snprintf(line, sizeof line,
                "\nground truth: join counts exact for %zu of %zu stores; segments k = %d (truth %d), ARI %.3f; "
                "look-alike precision %.3f (random %.3f)\n",
                report.stores_exact, report.stores, report.chosen_k, report.true_k, report.segment_ari,
                report.lookalike_precision, report.random_precision);
  return text + line;
}

}  // namespace cohort
