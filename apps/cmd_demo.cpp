/* cmd_demo.cpp: `cohort demo --out DIR`: generate a world and run the whole pipeline on it. */
#include <cstdio>

#include "apps/command.hpp"
#include "cohort/demo.hpp"

namespace cohort::app {
namespace {

CommonOptions common;
DemoOptions options;
bool no_train = false;

void run_demo_command() {
  options.device = apply_common(common);
  options.seed = common.seed;
  options.train = !no_train;
  const DemoReport report = run_demo(options);
  if (common.verbose) std::printf("config that ran:\n%s", pipeline_config_json(report.config).c_str());
  if (common.quiet) return;  // --quiet: warnings and errors only (report.html has it all)
  std::printf("%s", format_demo_report(report).c_str());
  std::printf("results in %s/ (report.html, manifest.json, pipeline.json)\n", options.out_dir.c_str());
}

void setup(CLI::App& app) {
  auto* command = app.add_subcommand("demo", "Generate a world and run the whole pipeline on it, scored against its truth");
  command->add_option("--out", options.out_dir, "Output directory")->required();
  command->add_option("--size", options.size, "World size: tiny, small, medium, large or a number of pings")
      ->capture_default_str();
  command->add_flag("--force", options.force, "Regenerate the world and rerun every stage");
  command->add_flag("--no-train", no_train, "Leave out the train stage");
  add_common_flags(command, common);
  command->callback(run_demo_command);
}

}  // namespace
COHORT_REGISTER_COMMAND(80, setup);
}  // namespace cohort::app
