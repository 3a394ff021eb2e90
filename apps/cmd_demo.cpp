/* cmd_demo.cpp: `cohort demo --out DIR`: generate a world and run the engines on it. */
#include <cstdio>

#include "apps/command.hpp"
#include "cohort/demo.hpp"

namespace cohort::app {
namespace {

CommonOptions common;
DemoOptions options;

void run_demo_command() {
  options.device = apply_common(common);
  options.seed = common.seed;
  const DemoReport report = run_demo(options);
  std::printf("%s", format_demo_report(report).c_str());
  std::printf("results in %s/\n", options.out_dir.c_str());
}

void setup(CLI::App& app) {
  auto* command = app.add_subcommand("demo", "Generate a world and run the whole job on it, scored against its truth");
  command->add_option("--out", options.out_dir, "Output directory")->required();
  command->add_option("--size", options.size, "World size: tiny, small, medium, large or a number of pings")
      ->capture_default_str();
  add_common_flags(command, common);
  command->callback(run_demo_command);
}

}  // namespace
COHORT_REGISTER_COMMAND(80, setup);
}  // namespace cohort::app
