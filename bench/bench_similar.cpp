/*
 * bench_similar.cpp: exact cosine top-k throughput.
 *
 *   all-pairs  every row's top k among N rows (N x N pairs scored), for each N in --n
 *              at --d, and for each d in --d-sweep at --d-sweep-n
 *   queries    Q queries (rows of the corpus) against --queries-n rows: queries/s
 * On each device asked for (cpu, cuda or both), after checking a sample of queries
 * against the exact reference (the shared cosine_score over every row). Peers (numpy
 * brute force, FAISS IndexFlatIP, PyTorch matmul + topk, on the GPU when there is one)
 * run on the same .npy with the same threads, and the ratio peer time / cohort time is
 * printed for each device (> 1: cohort is faster). CPU peers skip cases above
 * --peer-max-pairs.
 * Prints size, device, time, pairs/s, peak RSS (and on CUDA the peak device memory of
 * cohort's buffers); --json appends one JSON object per line.
 */
#include <CLI/CLI.hpp>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.hpp"
#include "cohort/error.hpp"
#include "cohort/npy.hpp"
#include "cohort/progress.hpp"
#include "cohort/similar.hpp"
#include "kernels/similar_element.hpp"

namespace cohort::bench {
namespace {

struct Config {
  std::vector<std::size_t> n = {10000, 100000};
  std::size_t d = 64;
  std::vector<std::size_t> d_sweep = {32, 256};
  std::size_t d_sweep_n = 10000;
  std::vector<std::size_t> queries = {1, 100, 10000};
  std::size_t queries_n = 100000;
  std::int64_t k = 10;
  std::string device = "cpu";
  std::string precision = "fp32";  // CUDA score products (the CPU always uses fp32)
  std::vector<std::string> score_kernels = {"fused"};  // CUDA: fused and/or cublas; the first meets the peers
  int threads = 0;
  bool peers = true;
  double peer_max_pairs = 2e10;  ///< CPU peers (numpy, FAISS, PyTorch without a GPU) skip larger cases
  std::string json;
  std::size_t check = 16;
};

std::vector<float> make_corpus(std::size_t n, std::size_t d, std::uint64_t seed) {
  // Clustered Gaussian data (like learned embeddings): 64 centres plus noise.
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> centres(64 * d);
  for (auto& c : centres) c = normal(rng);
  std::vector<float> x(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = rng() % 64;
    for (std::size_t j = 0; j < d; ++j) x[i * d + j] = centres[c * d + j] + 0.7f * normal(rng);
  }
  return x;
}

// Exact reference for a few queries: the shared functions over every row.
bool check_sample(const std::vector<float>& x, std::size_t n, std::size_t d, const std::vector<std::int64_t>& rows,
                  const TopK& top, std::size_t samples) {
  std::vector<float> qh(d), ch(d);
  for (std::size_t s = 0; s < std::min(samples, rows.size()); ++s) {
    const std::size_t qi = s * rows.size() / std::min(samples, rows.size());
    normalize_row(x.data() + static_cast<std::size_t>(rows[qi]) * d, d, qh.data());
    std::vector<std::pair<float, std::int64_t>> all(n);
    for (std::size_t j = 0; j < n; ++j) {
      normalize_row(x.data() + j * d, d, ch.data());
      all[j] = {cosine_score(qh.data(), ch.data(), d), static_cast<std::int64_t>(j)};
    }
    const std::size_t k = top.k;
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                      [](const auto& a, const auto& b) { return ranks_before(a.first, a.second, b.first, b.second); });
    for (std::size_t r = 0; r < k; ++r)
      if (top.index(qi, r) != all[r].second || top.score(qi, r) != all[r].first) {
        std::printf("MISMATCH query %zu rank %zu: got %lld %.9g, expected %lld %.9g\n", qi, r,
                    static_cast<long long>(top.index(qi, r)), static_cast<double>(top.score(qi, r)),
                    static_cast<long long>(all[r].second), static_cast<double>(all[r].first));
        return false;
      }
  }
  return true;
}

void emit_json(const Config& config, const std::string& line) {
  if (config.json.empty()) return;
  if (std::FILE* f = std::fopen(config.json.c_str(), "a")) {
    std::fprintf(f, "%s\n", line.c_str());
    std::fclose(f);
  }
}

std::vector<Device> devices(const Config& config) {
  std::vector<Device> list;
  const bool gpu = !cuda_devices().empty();
  if (config.device == "cpu" || config.device == "both" || (config.device == "auto" && !gpu)) list.push_back(Device::Cpu);
  if (config.device == "cuda" || config.device == "both" || (config.device == "auto" && gpu)) {
    if (gpu) list.push_back(Device::Cuda);
    else std::printf("cuda: skipped (%s)\n", cuda_unavailable_reason().c_str());
  }
  return list;
}

// One case: Q query rows against n rows of dimension d, on every device, then peers.
void run_case(const Config& config, const std::string& kind, std::size_t n, std::size_t d, std::size_t q) {
  const auto x = make_corpus(n, d, 1000 + n + d);
  std::vector<std::int64_t> rows(q);
  for (std::size_t i = 0; i < q; ++i) rows[i] = static_cast<std::int64_t>(i % n);  // the first q rows, as the peers
  const double pairs = static_cast<double>(n) * static_cast<double>(q);
  double cpu_seconds = 0.0, cpu_cpu_time = 0.0, cuda_seconds = 0.0;
  std::vector<std::pair<Device, std::string>> runs;  // (device, CUDA score kernel)
  for (const Device device : devices(config))
    if (device == Device::Cuda)
      for (const auto& kernel : config.score_kernels) runs.emplace_back(device, kernel);
    else
      runs.emplace_back(device, "");
  for (const auto& [device, kernel] : runs) {
    SimilarOptions options;
    options.device = device;
    options.k = config.k;
    options.precision = parse_gemm_precision(config.precision);
    options.cublas_scores = kernel == "cublas";
    const std::string label = describe(device) + (device == Device::Cuda ? " " + config.precision + " " + kernel : "");
    // Warm-up (and the check) on a small batch, then the timed run.
    std::vector<std::int64_t> sample(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(q, 64)));
    const TopK probe = similar_rows(MatrixView{x.data(), n, d}, sample, options);
    if (!check_sample(x, n, d, sample, probe, config.check)) {
      std::printf("%s n=%zu d=%zu: results do not match the exact reference; not timing\n", kind.c_str(), n, d);
      continue;
    }
    cuda_pool_peak_bytes(true);
    Timer timer;
    const std::clock_t cpu_start = std::clock();
    const TopK top = similar_rows(MatrixView{x.data(), n, d}, rows, options);
    const double seconds = timer.seconds();
    const double device_mib = static_cast<double>(cuda_pool_peak_bytes()) / (1 << 20);
    // Process CPU time (all threads): on a shared machine, pairs per CPU-second x threads
    // estimates the idle-machine rate.
    const double cpu_time = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    if (device == Device::Cpu) {
      cpu_seconds = seconds;
      cpu_cpu_time = cpu_time;
    } else if (cuda_seconds == 0.0) {
      cuda_seconds = seconds;
    }
    std::printf("%-9s n=%-8zu d=%-4zu q=%-8zu k=%-3lld %-28s %9.3f s  %8.3f Gpairs/s  %10.1f queries/s  "
                "cpu %.2f s (%.3f Gpairs/cpu-s)  peak RSS %.0f MiB",
                kind.c_str(), n, d, q, static_cast<long long>(config.k), label.c_str(), seconds,
                pairs / seconds * 1e-9, static_cast<double>(q) / seconds, cpu_time, pairs / cpu_time * 1e-9,
                peak_rss_mib());
    if (device == Device::Cuda) std::printf("  peak device memory %.0f MiB", device_mib);
    if (device == Device::Cuda && cpu_seconds > 0) std::printf("  (%.1fx cpu)", cpu_seconds / seconds);
    std::printf("\n");
    std::ostringstream json;
    json << "{\"bench\": \"similar\", \"kind\": \"" << kind << "\", \"n\": " << n << ", \"d\": " << d
         << ", \"queries\": " << q << ", \"k\": " << config.k << ", \"device\": \"" << label
         << "\", \"seconds\": " << seconds << ", \"cpu_seconds\": " << cpu_time << ", \"pairs_per_s\": " << pairs / seconds
         << ", \"peak_rss_mib\": " << peak_rss_mib() << ", \"peak_device_mib\": " << device_mib << "}";
    emit_json(config, json.str());
    (void)top;
  }
  if (!config.peers || (cpu_seconds <= 0.0 && cuda_seconds <= 0.0)) return;
  const std::string path = (std::filesystem::temp_directory_path() / ("cohort_bench_similar_" + std::to_string(n) + "_" +
                                                                     std::to_string(d) + ".npy"))
                               .string();
  write_npy(path, x.data(), {n, d});
  const std::string mode = q == n ? "all" : "first:" + std::to_string(q);
  const bool gpu = !cuda_devices().empty();
  for (const std::string impl : {"numpy", "faiss", "torch"}) {
    const bool on_cpu = impl != "torch" || !gpu;  // the PyTorch peer takes the GPU when there is one
    if (on_cpu && pairs > config.peer_max_pairs) {
      std::printf("%-9s n=%-8zu d=%-4zu q=%-8zu peer %-6s skipped (%.2g pairs > --peer-max-pairs %.2g)\n", kind.c_str(), n,
                  d, q, impl.c_str(), pairs, config.peer_max_pairs);
      continue;
    }
    const std::string args = path + " " + std::to_string(config.k) + " " + mode + " " + impl + " " +
                             std::to_string(cpu_threads());
    const auto peer = run_peer("similar_peer.py", args);
    if (!peer) continue;
    double peer_cpu = 0.0;
    const auto at = peer->json.find("\"cpu_seconds\": ");
    if (at != std::string::npos) peer_cpu = std::stod(peer->json.substr(at + 15));
    const std::string where = on_cpu ? "cpu" : "cuda";
    std::printf("%-9s n=%-8zu d=%-4zu q=%-8zu peer %-6s (%s) %9.3f s  cpu %.2f s ->", kind.c_str(), n, d, q,
                impl.c_str(), where.c_str(), peer->seconds, peer_cpu);
    if (cpu_seconds > 0)
      std::printf(" cohort cpu is %.2fx faster (wall), %.2fx (cpu time)", peer->seconds / cpu_seconds,
                  cpu_cpu_time > 0 ? peer_cpu / cpu_cpu_time : 0.0);
    if (cuda_seconds > 0)
      std::printf("%s cohort cuda is %.2fx faster (wall)", cpu_seconds > 0 ? ";" : "", peer->seconds / cuda_seconds);
    std::printf("\n");
    std::ostringstream json;
    json << "{\"bench\": \"similar\", \"kind\": \"" << kind << "\", \"n\": " << n << ", \"d\": " << d
         << ", \"queries\": " << q << ", \"peer\": \"" << impl << "\", \"peer_device\": \"" << where
         << "\", \"seconds\": " << peer->seconds << ", \"cpu_seconds\": " << peer_cpu
         << ", \"ratio_cpu\": " << (cpu_seconds > 0 ? peer->seconds / cpu_seconds : 0.0)
         << ", \"ratio_cuda\": " << (cuda_seconds > 0 ? peer->seconds / cuda_seconds : 0.0) << "}";
    emit_json(config, json.str());
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) {
  using namespace cohort;
  using namespace cohort::bench;
  Config config;
  std::string n_list = "1e4,3e4", d_sweep = "32,256", queries = "1,100,1000";
  CLI::App app{"bench_similar: exact cosine top-k, all-pairs and batched queries, vs numpy, FAISS and PyTorch"};
  app.add_option("--n", n_list, "All-pairs sizes, comma-separated (1e6 allowed)")->capture_default_str();
  app.add_option("--d", config.d, "Dimension of the all-pairs and query runs")->capture_default_str();
  app.add_option("--d-sweep", d_sweep, "Dimensions for the d sweep (empty: none)")->capture_default_str();
  app.add_option("--d-sweep-n", config.d_sweep_n, "Rows for the d sweep")->capture_default_str();
  app.add_option("--queries", queries, "Query batch sizes (empty: none)")->capture_default_str();
  app.add_option("--queries-n", config.queries_n, "Corpus rows for the query batches")->capture_default_str();
  app.add_option("--k", config.k, "Neighbours per query")->capture_default_str();
  app.add_option("--device", config.device, "cpu, cuda, both or auto")->capture_default_str();
  app.add_option("--precision", config.precision, "CUDA score products: fp32, tf32 or bf16")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}))
      ->capture_default_str();
  app.add_option("--score-kernels", config.score_kernels,
                 "CUDA score kernels to time: fused (scores filtered where computed) and/or cublas (score tiles)")
      ->delimiter(',')
      ->check(CLI::IsMember({"fused", "cublas"}))
      ->capture_default_str();
  app.add_option("--threads", config.threads, "CPU threads (0 = all)")->capture_default_str();
  app.add_option("--json", config.json, "Append one JSON object per result to this file");
  bool no_peers = false;
  app.add_flag("--no-peers", no_peers, "Skip numpy, FAISS and PyTorch");
  app.add_option("--peer-max-pairs", config.peer_max_pairs, "Peers on the CPU skip cases with more scored pairs")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // results appear as they are measured, even in a log
  config.peers = !no_peers;
  config.n = parse_list(n_list);
  config.d_sweep = parse_list(d_sweep);
  config.queries = parse_list(queries);
  set_cpu_threads(config.threads);
  set_verbosity(Verbosity::Quiet);
  try {
    for (const std::size_t n : config.n) run_case(config, "all-pairs", n, config.d, n);
    for (const std::size_t d : config.d_sweep) run_case(config, "all-pairs", config.d_sweep_n, d, config.d_sweep_n);
    for (const std::size_t q : config.queries) run_case(config, "queries", config.queries_n, config.d, q);
  } catch (const cohort::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
