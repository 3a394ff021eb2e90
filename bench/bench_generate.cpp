/*
 * bench_generate.cpp: how fast `cohort generate` writes a world, per thread count.
 *
 * For each --threads value: generate the world (best of --repeats) into a scratch
 * directory, then check the files are byte-identical to the first thread count's (the
 * determinism contract) before reporting. Prints size, threads, seconds, MB/s and pings/s,
 * and a JSON line per measurement. There is no peer: no tool writes this world.
 */
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cohort/backend.hpp"
#include "cohort/error.hpp"
#include "cohort/generate.hpp"
#include "cohort/progress.hpp"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_generate: throughput of cohort generate"};
  std::string size = "small", dir = (std::filesystem::temp_directory_path() / "cohort_bench_generate").string();
  std::vector<int> threads{1, 0};
  int repeats = 3;
  std::uint64_t seed = 42;
  app.add_option("--size", size, "tiny|small|medium|large|N")->capture_default_str();
  app.add_option("--threads", threads, "thread counts to time (0 = all)")->capture_default_str();
  app.add_option("--repeats", repeats, "runs per thread count (best is reported)")->capture_default_str();
  app.add_option("--dir", dir, "scratch directory (removed at the end)")->capture_default_str();
  app.add_option("--seed", seed)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  cohort::set_verbosity(cohort::Verbosity::Quiet);
  try {
    std::vector<std::string> reference;
    for (std::size_t t = 0; t < threads.size(); ++t) {
      cohort::set_cpu_threads(threads[t]);
      const std::string out = dir + "/t" + std::to_string(t);
      double best = 1e300;
      cohort::GenerateSummary summary;
      for (int r = 0; r < std::max(1, repeats); ++r) {
        summary = cohort::generate_world({size, out, seed});
        best = std::min(best, summary.seconds);
      }
      for (std::size_t f = 0; f < summary.files.size(); ++f) {
        const std::string bytes = slurp(out + "/" + summary.files[f].name);
        if (t == 0) reference.push_back(bytes);
        else if (bytes != reference[f]) throw cohort::Error("determinism broken: " + summary.files[f].name);
      }
      if (t > 0) std::filesystem::remove_all(out);
      const double mb = static_cast<double>(summary.bytes) / 1e6;
      std::printf("generate size=%s threads=%d: %.3f s, %.1f MB, %.1f MB/s, %.2f M pings/s (%s)\n", size.c_str(),
                  cohort::cpu_threads(), best, mb, mb / best, static_cast<double>(summary.pings) / best / 1e6,
                  t == 0 ? "reference" : "identical to reference");
      std::printf("{\"bench\":\"generate\",\"size\":\"%s\",\"threads\":%d,\"seconds\":%.4f,\"bytes\":%llu,"
                  "\"pings\":%llu,\"events\":%llu,\"customers\":%llu,\"stores\":%llu}\n",
                  size.c_str(), cohort::cpu_threads(), best, static_cast<unsigned long long>(summary.bytes),
                  static_cast<unsigned long long>(summary.pings), static_cast<unsigned long long>(summary.events),
                  static_cast<unsigned long long>(summary.customers), static_cast<unsigned long long>(summary.stores));
    }
    std::filesystem::remove_all(dir);
  } catch (const cohort::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    std::filesystem::remove_all(dir);
    return 1;
  }
  return 0;
}
