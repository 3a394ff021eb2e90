/* cmd_pipeline.cpp: `cohort pipeline CONFIG --out DIR [--force]`: the whole analysis from a JSON config. */
#include <cstdio>

#include "apps/command.hpp"
#include "cohort/pipeline.hpp"
#include "cohort/progress.hpp"

namespace cohort::app {
namespace {

CommonOptions common;
std::string config_path;
PipelineOptions options;
CLI::App* command_app = nullptr;

void run_pipeline_command() {
  options.device = apply_common(common);
  PipelineConfig config = read_pipeline_config(config_path);
  if (command_app->get_option("--seed")->count() > 0) config.seed = common.seed;  // --seed overrides the config's
  if (common.verbose) std::printf("config that ran:\n%s", pipeline_config_json(config).c_str());
  const PipelineReport report = run_pipeline(config, options);
  if (common.quiet) return;  // --quiet: warnings and errors only (report.html has it all)
  std::printf("%s", format_pipeline_report(report).c_str());
  std::printf("results in %s/ (report.html, manifest.json)\n", options.out_dir.c_str());
}

void setup(CLI::App& app) {
  auto* command = app.add_subcommand("pipeline", "Run join, matrix, train, segment, similar, analysis and the report "
                                                 "from a JSON config");
  command->add_option("config", config_path, "Pipeline config (JSON; example: tests/data/pipeline_example.json, keys: include/cohort/pipeline.hpp)")->required();
  command->add_option("--out", options.out_dir, "Output directory")->required();
  command->add_flag("--force", options.force, "Rerun every stage, even those whose inputs and parameters are unchanged");
  add_common_flags(command, common);
  command_app = command;
  command->callback(run_pipeline_command);
}

}  // namespace
COHORT_REGISTER_COMMAND(70, setup);
}  // namespace cohort::app
