/*
 * bench_train.cpp: `cohort train` throughput: samples/s and seconds per epoch.
 *
 *   notebook   the look-alike notebook's model: 8 categorical columns (cardinalities 7,
 *              3, 5, 4, 12, 50, 200, 30), 2 continuous, --rows rows (22,000), batch 512,
 *              layers 512,256, regression with y_range (0, 1.1)
 *   --ids N    adds an id column with N distinct values (the large case: --rows 10000000
 *              --ids 1000000); --lazy-adam updates only the table rows each batch uses
 * The table is generated (fixed seed) into a temporary CSV; reading/encoding time is
 * reported apart from training. Before timing, the run must beat a mean predictor on
 * the validation rows (the check). The PyTorch peer (bench/peers/train_peer.py, same
 * model, optimiser constants and schedule) runs on the same CSV when torch is installed.
 */
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.hpp"
#include "cohort/progress.hpp"
#include "cohort/train.hpp"

namespace cohort::bench {
namespace {

const int kCardinality[8] = {7, 3, 5, 4, 12, 50, 200, 30};

/// target = sigmoid(sum of per-category effects + 0.5*c0 - 0.3*c1 + noise) * 1.1
double write_table(const std::string& path, std::size_t rows, std::size_t ids, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<std::vector<double>> effect(8);
  for (int c = 0; c < 8; ++c)
    for (int v = 0; v < kCardinality[c]; ++v) effect[static_cast<std::size_t>(c)].push_back(0.4 * normal(rng));
  std::ofstream out(path);
  if (ids) out << "uid,";
  out << "c0,c1,cat0,cat1,cat2,cat3,cat4,cat5,cat6,cat7,target\n";
  double sum = 0, sum2 = 0;
  std::string line;
  for (std::size_t r = 0; r < rows; ++r) {
    line.clear();
    if (ids) line += "u" + std::to_string(rng() % ids) + ",";
    const double c0 = normal(rng), c1 = 10 + 3 * normal(rng);
    double z = 0.5 * c0 - 0.1 * (c1 - 10);
    char num[64];
    std::snprintf(num, sizeof num, "%.4f,%.4f", c0, c1);
    line += num;
    for (int c = 0; c < 8; ++c) {
      const auto v = static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(kCardinality[c]));
      z += effect[static_cast<std::size_t>(c)][v];
      line += ",v" + std::to_string(v);
    }
    const double t = 1.1 / (1 + std::exp(-(z + 0.2 * normal(rng))));
    sum += t, sum2 += t * t;
    std::snprintf(num, sizeof num, ",%.5f\n", t);
    line += num;
    out << line;
  }
  const double mean = sum / static_cast<double>(rows);
  return sum2 / static_cast<double>(rows) - mean * mean;  // the mean predictor's MSE
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) {
  using namespace cohort;
  using namespace cohort::bench;
  CLI::App app{"cohort train benchmark"};
  std::size_t rows = 22000, ids = 0;
  bool lazy_adam = false, no_cuda_graph = false, deterministic = false;
  std::string precision = "fp32";
  std::vector<int> batches{512};
  int epochs = 3, threads = 0;
  std::string device = "auto", json;
  bool peers = true;
  app.add_option("--rows", rows, "table rows")->capture_default_str();
  app.add_option("--ids", ids, "distinct ids in an id column (0: none)")->capture_default_str();
  app.add_option("--batch", batches, "batch sizes")->delimiter(',');
  app.add_option("--epochs", epochs, "epochs")->capture_default_str();
  app.add_option("--device", device, "cpu | cuda | both | auto")->capture_default_str();
  app.add_option("--threads", threads, "CPU threads (0: all)");
  app.add_option("--json", json, "append one JSON line per result to this file");
  app.add_flag("--lazy-adam", lazy_adam, "lazy Adam for the embedding tables");
  app.add_flag("--no-cuda-graph", no_cuda_graph, "CUDA: launch each step's kernels one by one");
  app.add_flag("--deterministic", deterministic, "CUDA: no floating-point atomics (sorted gradient scatters)");
  app.add_option("--precision", precision, "CUDA GEMMs: fp32, tf32 or bf16")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}))
      ->capture_default_str();
  app.add_flag("!--no-peers", peers, "skip the PyTorch peer");
  CLI11_PARSE(app, argc, argv);
  set_cpu_threads(threads);
  set_verbosity(Verbosity::Quiet);

  const auto dir = std::filesystem::temp_directory_path() / ("cohort_bench_train_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string table = (dir / "table.csv").string();
  Timer gen_timer;
  const double mean_mse = write_table(table, rows, ids, 2024);
  std::printf("table: %zu rows, 8 categorical + 2 continuous%s, written in %.2f s\n", rows,
              ids ? (" + id column (" + std::to_string(ids) + " ids)").c_str() : "", gen_timer.seconds());

  std::vector<Device> list;
  const bool gpu = !cuda_devices().empty();
  if (device == "cpu" || device == "both" || (device == "auto" && !gpu)) list.push_back(Device::Cpu);
  if (device == "cuda" || device == "both" || (device == "auto" && gpu)) {
    if (gpu) list.push_back(Device::Cuda);
    else std::printf("cuda: skipped (%s)\n", cuda_unavailable_reason().c_str());
  }
  int status = 0;
  for (int batch : batches) {
    double cpu_rate = 0, last_rate = 0;
    for (Device dev : list) {
      TrainOptions o;
      o.table = table;
      o.target = "target";
      o.cat_cols = {"cat0", "cat1", "cat2", "cat3", "cat4", "cat5", "cat6", "cat7"};
      o.cont_cols = {"c0", "c1"};
      if (ids) o.id_col = "uid";
      o.has_y_range = true, o.y_lo = 0.0, o.y_hi = 1.1;
      o.epochs = epochs, o.batch = batch, o.device = dev, o.progress = false, o.lr = 1e-2, o.wd = 0.05;
      o.lazy_adam = lazy_adam;
      o.cuda_graph = !no_cuda_graph;
      o.deterministic = deterministic;
      o.precision = parse_gemm_precision(precision);
      Timer timer;
      const TrainResult result = train(o);
      const double wall = timer.seconds();
      // result.seconds covers the loop (init + epochs + validation); the rest is reading.
      const double per_epoch = result.seconds / epochs;
      const std::size_t steps = result.train_rows / static_cast<std::size_t>(batch);
      const double rate = static_cast<double>(steps * static_cast<std::size_t>(batch)) / per_epoch;
      const double valid = result.history.back().valid_loss;
      const bool ok = valid < 0.5 * mean_mse;
      if (!ok) status = 1;
      if (dev == Device::Cpu) cpu_rate = rate;
      last_rate = rate;
      std::printf("%-28s batch %5d: %.3f s/epoch, %.0f samples/s, read+encode %.2f s, valid MSE %.5f (mean predictor "
                  "%.5f) %s, peak RSS %.0f MiB",
                  describe(dev).c_str(), batch, per_epoch, rate, wall - result.seconds, valid, mean_mse,
                  ok ? "ok" : "CHECK FAILED", peak_rss_mib());
      if (dev == Device::Cuda && cpu_rate > 0) std::printf(", %.1fx the CPU", rate / cpu_rate);
      std::printf("\n");
      if (!json.empty())
        if (std::FILE* f = std::fopen(json.c_str(), "a")) {
          std::fprintf(f,
                       "{\"bench\":\"train\",\"device\":\"%s\",\"rows\":%zu,\"ids\":%zu,\"batch\":%d,\"epochs\":%d,"
                       "\"precision\":\"%s\",\"cuda_graph\":%s,\"lazy_adam\":%s,\"deterministic\":%s,"
                       "\"seconds_per_epoch\":%.6f,\"samples_per_s\":%.1f,\"valid_loss\":%.6g}\n",
                       describe(dev).c_str(), rows, ids, batch, epochs, precision.c_str(),
                       no_cuda_graph ? "false" : "true", lazy_adam ? "true" : "false",
                       deterministic ? "true" : "false", per_epoch, rate, valid);
          std::fclose(f);
        }
    }
    if (peers) {
      const auto peer = run_peer("train_peer.py", table + " " + std::to_string(batch) + " " + std::to_string(epochs) +
                                                      (ids ? " uid" : ""));
      if (peer) {
        // Same split size, so the same number of samples per epoch.
        const std::size_t train_rows = rows - static_cast<std::size_t>(std::llround(0.2 * static_cast<double>(rows)));
        const double samples = static_cast<double>(train_rows / static_cast<std::size_t>(batch) *
                                                   static_cast<std::size_t>(batch) * static_cast<std::size_t>(epochs));
        const double peer_rate = samples / peer->seconds;
        std::printf("peer (PyTorch) batch %d: %.0f samples/s; cohort %s is %.2fx: %s", batch, peer_rate,
                    describe(list.back()).c_str(), last_rate / peer_rate, peer->json.c_str());
      }
    }
  }
  std::filesystem::remove_all(dir);
  return status;
}
