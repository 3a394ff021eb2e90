/* cmd_generate.cpp: `cohort generate` writes a synthetic world with ground truth. */
#include <cstdio>

#include "apps/command.hpp"
#include "cohort/generate.hpp"
#include "cohort/progress.hpp"

namespace cohort::app {
namespace {

CommonOptions common;
GenerateOptions options;

void run_generate() {
  common.device = "cpu";  // generation is CPU work; a GPU-less machine must not fail here
  apply_common(common);
  options.seed = common.seed;
  const GenerateSummary summary = generate_world(options);
  if (verbosity() == Verbosity::Quiet) return;
  std::printf("generated world '%s' (seed %llu) in %s\n", summary.size.name.c_str(),
              static_cast<unsigned long long>(options.seed), options.out_dir.c_str());
  for (const auto& file : summary.files)
    std::printf("  %-24s %12llu rows %10.1f MB%s\n", file.name.c_str(), static_cast<unsigned long long>(file.rows),
                static_cast<double>(file.bytes) / 1e6, file.ground_truth ? "  (ground truth)" : "");
  std::printf("%llu customers, %llu stores, %llu pings (%llu inside stores, %.1f%%), %llu events\n",
              static_cast<unsigned long long>(summary.customers), static_cast<unsigned long long>(summary.stores),
              static_cast<unsigned long long>(summary.pings), static_cast<unsigned long long>(summary.pings_in_stores),
              summary.pings ? 100.0 * static_cast<double>(summary.pings_in_stores) / static_cast<double>(summary.pings) : 0.0,
              static_cast<unsigned long long>(summary.events));
  std::printf("%.1f MB in %.2f s\n", static_cast<double>(summary.bytes) / 1e6, summary.seconds);
}

void setup(CLI::App& app) {
  auto* command = app.add_subcommand("generate", "Write a synthetic world with ground truth (stores, customers, "
                                                 "pings, events)");
  command->add_option("--size", options.size, "tiny | small | medium | large | N (number of pings)")
      ->capture_default_str();
  command->add_option("--out", options.out_dir, "Output directory (created if missing)")->required();
  command->add_option("--events-per-customer", options.events_per_customer,
                      "Events per customer (0: the size's own, 20 for most sizes)")
      ->capture_default_str();
  add_common_flags(command, common);
  command->callback(run_generate);
}

}  // namespace
COHORT_REGISTER_COMMAND(10, setup);
}  // namespace cohort::app
