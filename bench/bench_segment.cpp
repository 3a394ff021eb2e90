/*
 * bench_segment.cpp: k-means throughput (iterations/s, total time) of `cohort segment`.
 *
 * For each N in --n and k in --k (d = --d): clustered Gaussian data (64 centres + noise)
 * written once to a .npy; cohort kmeans (n_init = 1, each --init, --max-iter, --tol) on
 * each device asked for; then scikit-learn KMeans (lloyd, n_init=1, same max_iter and
 * tol) and faiss.Kmeans (same niter, every row used) on the same .npy with the same
 * threads. Prints time (init included), iterations, iterations/s, inertia, and the ratio
 * peer time / cohort time (> 1: cohort is faster; cohort's CPU and CUDA runs with the
 * first --init).
 * --json appends one JSON line per run.
 */
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.hpp"
#include "cohort/npy.hpp"
#include "cohort/segment.hpp"

namespace cohort::bench {
namespace {

struct Config {
  std::vector<std::size_t> n = {100000};
  std::vector<int> k = {8, 64, 256};
  std::size_t d = 64;
  int max_iter = 30;
  double tol = 1e-4;
  std::string device = "cpu";
  std::vector<std::string> inits = {"auto"};
  int threads = 0;
  bool peers = true;
  std::string json;
};

std::vector<float> make_data(std::size_t n, std::size_t d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> centres(64 * d);
  for (auto& c : centres) c = 3.0f * normal(rng);
  std::vector<float> x(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = rng() % 64;
    for (std::size_t j = 0; j < d; ++j) x[i * d + j] = centres[c * d + j] + normal(rng);
  }
  return x;
}

double json_number(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\": ");
  return at == std::string::npos ? 0.0 : std::stod(json.substr(at + key.size() + 4));
}

void append_json(const Config& config, const std::string& line) {
  if (config.json.empty()) return;
  if (std::FILE* f = std::fopen(config.json.c_str(), "a")) {
    std::fprintf(f, "%s\n", line.c_str());
    std::fclose(f);
  }
}

void run(const Config& config) {
  std::vector<Device> devices;
  if (config.device == "cpu" || config.device == "both") devices.push_back(Device::Cpu);
  if (config.device == "cuda" || config.device == "both") {
    if (cuda_devices().empty())
      std::printf("cuda: skipped (%s)\n", cuda_unavailable_reason().c_str());
    else
      devices.push_back(Device::Cuda);
  }
  const std::string npy = (std::filesystem::temp_directory_path() / "cohort_bench_segment.npy").string();
  const std::string threads = std::to_string(cpu_threads());
  setenv("OMP_NUM_THREADS", threads.c_str(), 1);  // the peers use the same threads
  for (const std::size_t n : config.n) {
    const auto x = make_data(n, config.d, 7);
    write_npy(npy, x.data(), {n, config.d});
    for (const int k : config.k) {
      std::printf("\nN = %zu, d = %zu, k = %d, max_iter = %d, tol = %g\n", n, config.d, k, config.max_iter, config.tol);
      double cpu_seconds = 0.0, cuda_seconds = 0.0;  // the first --init's, for the peers' ratios
      for (const std::string& init : config.inits) {
        double init_cpu_seconds = 0.0;
        for (const Device device : devices) {
          SegmentOptions options;
          options.device = device;
          options.init = parse_init(init);
          options.k = k;
          options.max_iter = config.max_iter;
          options.tol = config.tol;
          if (device == Device::Cuda) {  // warm-up: context, cuBLAS handle
            SegmentOptions warm = options;
            warm.k = 2;
            warm.max_iter = 1;
            kmeans(x.data(), std::min<std::size_t>(n, 1000), config.d, warm);
          }
          Timer timer;
          const KMeansResult r = kmeans(x.data(), n, config.d, options);
          const double seconds = timer.seconds();
          if (device == Device::Cpu) init_cpu_seconds = seconds;
          if (device == Device::Cpu && cpu_seconds == 0.0) cpu_seconds = seconds;
          if (device == Device::Cuda && cuda_seconds == 0.0) cuda_seconds = seconds;
          std::printf("  cohort %-28s %-9s %8.3f s  %3d iterations  %8.2f it/s  inertia %.6e  peak RSS %.0f MiB\n",
                      describe(device).c_str(), init.c_str(), seconds, r.iterations, r.iterations / seconds, r.inertia,
                      peak_rss_mib());
          std::ostringstream js;
          js << "{\"bench\": \"segment\", \"impl\": \"cohort\", \"device\": \"" << describe(device)
             << "\", \"init\": \"" << init << "\", \"n\": " << n
             << ", \"d\": " << config.d << ", \"k\": " << k << ", \"seconds\": " << seconds
             << ", \"iterations\": " << r.iterations << ", \"inertia\": " << r.inertia << "}";
          append_json(config, js.str());
          if (device == Device::Cuda && init_cpu_seconds > 0)
            std::printf("  cuda speed-up over cpu: %.1fx\n", init_cpu_seconds / seconds);
        }
      }
      if (!config.peers) continue;
      for (const char* peer : {"sklearn", "faiss"}) {
        std::ostringstream args;
        args << "--npy " << npy << " --k " << k << " --max-iter " << config.max_iter << " --tol " << config.tol
             << " --peer " << peer;
        const auto result = run_peer("segment_peer.py", args.str());
        if (!result) continue;
        const double iterations = json_number(result->json, "iterations");
        std::printf("  %-35s %8.3f s  %3.0f iterations  %8.2f it/s  inertia %.6e", peer, result->seconds, iterations,
                    iterations / result->seconds, json_number(result->json, "inertia"));
        if (cpu_seconds > 0) std::printf("  time ratio %s/cohort-cpu %.2f", peer, result->seconds / cpu_seconds);
        if (cuda_seconds > 0) std::printf("  time ratio %s/cohort-cuda %.1f", peer, result->seconds / cuda_seconds);
        std::printf("\n");
        append_json(config, result->json.substr(0, result->json.find_last_not_of("\n") + 1));
      }
    }
  }
  std::filesystem::remove(npy);
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) {
  cohort::bench::Config config;
  CLI::App app{"k-means benchmark: cohort vs scikit-learn and faiss"};
  app.add_option("--n", config.n, "Rows (several allowed)")->capture_default_str();
  app.add_option("--k", config.k, "Clusters (several allowed)")->capture_default_str();
  app.add_option("--d", config.d, "Dimensions")->capture_default_str();
  app.add_option("--max-iter", config.max_iter, "Maximum Lloyd iterations")->capture_default_str();
  app.add_option("--tol", config.tol, "Tolerance (scikit-learn's)")->capture_default_str();
  app.add_option("--device", config.device, "cpu, cuda or both")->capture_default_str();
  app.add_option("--init", config.inits, "auto, k-means++, k-means-parallel (several allowed)")->capture_default_str();
  app.add_option("--threads", config.threads, "CPU threads (0: all)")->capture_default_str();
  app.add_flag("!--no-peers", config.peers, "Skip scikit-learn and faiss");
  app.add_option("--json", config.json, "Append one JSON object per run to this file");
  CLI11_PARSE(app, argc, argv);
  try {
    cohort::set_cpu_threads(config.threads);
    cohort::bench::run(config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
