/*
 * main.cpp: the `cohort` command line. Subcommands register themselves (command.hpp);
 * main parses, runs the chosen one, and turns errors into one `error: ...` line on
 * stderr with exit code 1 (2 for internal errors).
 */
#include <algorithm>
#include <cstdio>
#include <exception>
#include <utility>
#include <vector>
#ifdef __GLIBC__  // defined by the headers above
#include <malloc.h>
#endif

#include "apps/command.hpp"
#include "cohort/error.hpp"
#include "cohort/progress.hpp"

namespace cohort::app {
namespace {
std::vector<std::pair<int, CommandSetup>>& registry() {
  static std::vector<std::pair<int, CommandSetup>> commands;
  return commands;
}
}  // namespace

int register_command(int order, CommandSetup setup) {
  registry().emplace_back(order, setup);
  return order;
}

void add_common_flags(CLI::App* command, CommonOptions& options) {
  command->add_option("--device", options.device, "Backend: auto (CUDA when a GPU is present), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  command->add_option("--threads", options.threads, "CPU threads (0 = all hardware threads)")->capture_default_str();
  command->add_option("--seed", options.seed, "Random seed (results are deterministic for a seed)")
      ->capture_default_str();
  command->add_flag("-q,--quiet", options.quiet, "Print only warnings and errors");
  command->add_flag("-v,--verbose", options.verbose, "Print more detail");
}

std::vector<std::string> split_list(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(separator, start), text.size());
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

Device apply_common(const CommonOptions& options) {
  set_verbosity(options.quiet ? Verbosity::Quiet : options.verbose ? Verbosity::Verbose : Verbosity::Normal);
  set_cpu_threads(options.threads);
  return resolve_device(parse_device(options.device));
}

// The engines stream files in chunks and allocate per-chunk buffers of tens to hundreds
// of MiB. By default glibc serves those with mmap and unmaps them on free, so every
// chunk pays a page fault per 4 KiB again (a third of a CSV join's time); keep them.
void keep_freed_memory() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace cohort::app

int main(int argc, char** argv) {
  cohort::app::keep_freed_memory();
  CLI::App app{"cohort: GPU-accelerated customer analytics (point-in-polygon join, user x category "
               "matrices, embeddings, look-alikes, segments)"};
  app.require_subcommand(1);
  auto commands = cohort::app::registry();
  std::stable_sort(commands.begin(), commands.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& command : commands) command.second(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cohort::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: internal: %s\n", e.what());
    return 2;
  }
  return 0;
}
