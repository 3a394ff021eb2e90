/*
 * command.hpp: how subcommands plug into the `cohort` CLI.
 *
 * Each apps/cmd_<name>.cpp defines a setup function that adds its subcommand (flags and
 * callback) and registers it with COHORT_REGISTER_COMMAND(order, setup); main() adds
 * them sorted by order. Every subcommand calls add_common_flags() so the contract's
 * --device/--threads/--seed/--quiet/--verbose exist everywhere, and apply_common()
 * first thing in its callback.
 */
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "cohort/backend.hpp"

namespace cohort::app {

struct CommonOptions {
  std::string device = "auto";
  int threads = 0;
  std::uint64_t seed = 42;
  bool quiet = false;
  bool verbose = false;
};

void add_common_flags(CLI::App* command, CommonOptions& options);
/// Sets verbosity and threads; returns the device the engine should run on.
Device apply_common(const CommonOptions& options);

/// "a,b,,c" -> {"a", "b", "c"}: list-valued flags (empty parts are dropped).
std::vector<std::string> split_list(const std::string& text, char separator = ',');

using CommandSetup = void (*)(CLI::App& app);
int register_command(int order, CommandSetup setup);

}  // namespace cohort::app

#define COHORT_CONCAT_INNER(a, b) a##b
#define COHORT_CONCAT(a, b) COHORT_CONCAT_INNER(a, b)
#define COHORT_REGISTER_COMMAND(order, setup) \
  static const int COHORT_CONCAT(cohort_command_, __LINE__) = ::cohort::app::register_command(order, setup)
