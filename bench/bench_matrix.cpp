/*
 * bench_matrix.cpp: events/s of the matrix engine.
 *
 * Per size n (generated: n/20 users, --items items, --event-types types, random times
 * and integer weights):
 *   memory   aggregate_events on encoded arrays (count, sum, first, last per cell), on
 *            the CPU (all threads) and on CUDA when present (transfers included);
 *            checked first (CPU == CUDA, total count == n), then the best of --repeats.
 *            memory-dev: the CUDA device work alone (CUDA events), events resident in
 *            device memory.
 *   counts   the same with counts only, against the scipy peer (coo -> csr, duplicates
 *            summed) on the same ids (written as .npy).
 *   file     build_matrix end to end from a CSV (user,item,event,time,weight: parse,
 *            dictionary-encode, aggregate, renumber), against pandas read_csv + crosstab
 *            (user x item counts) on the same file.
 * Prints size, device, best wall seconds, events/s, peak RSS, the least process CPU time
 * (user + system, all threads) and the ratios; --json appends one JSON line per result.
 * The scipy peer (single-threaded) warms up untimed like ours and runs --repeats times
 * (best wall, least CPU time); its timed region builds a CSR of int32 indices + int64
 * counts (12 bytes per cell), ours a counts-only CellTable (row, col, event, count:
 * 18 bytes per cell), both from the same integer ids.
 */
#include <CLI/CLI.hpp>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "bench/bench_util.hpp"
#include "cohort/matrix.hpp"
#include "cohort/npy.hpp"
#include "cohort/progress.hpp"
#ifdef COHORT_WITH_CUDA
#include "kernels/matrix.hpp"
#endif

namespace cohort::bench {
namespace {

struct Config {
  std::vector<std::size_t> sizes;
  std::uint32_t items = 200, event_types = 3;
  std::string device = "auto", json;
  int repeats = 3;
  bool peers = true, file = true;
  std::size_t file_max = 10'000'000, crosstab_max = 2'000'000;
};

struct Generated {
  std::vector<std::uint32_t> row, col;
  std::vector<std::uint16_t> event;
  std::vector<double> time, weight;
  std::uint32_t rows = 0;
};

Generated generate(std::size_t n, const Config& c, std::uint64_t seed) {
  Generated g;
  g.rows = static_cast<std::uint32_t>(std::max<std::size_t>(1, n / 20));
  g.row.resize(n);
  g.col.resize(n);
  g.event.resize(n);
  g.time.resize(n);
  g.weight.resize(n);
#pragma omp parallel
  {
    std::mt19937_64 rng(seed + 7919 * static_cast<std::uint64_t>(omp_get_thread_num()));
#pragma omp for schedule(static)
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t r = rng();
      g.row[i] = static_cast<std::uint32_t>(r % g.rows);
      // items skewed: a few popular categories (min of two uniforms)
      g.col[i] = static_cast<std::uint32_t>(std::min((r >> 32) % c.items, (r >> 16) % c.items));
      g.event[i] = static_cast<std::uint16_t>((r >> 8) % c.event_types);
      g.time[i] = 1.39e9 + static_cast<double>((r >> 40) % 2'600'000);
      g.weight[i] = static_cast<double>(1 + (r >> 50) % 100);
    }
  }
  return g;
}

EventArrays view(const Generated& g, const Config& c, bool full) {
  EventArrays a;
  a.row = g.row.data();
  a.col = g.col.data();
  a.event = full ? g.event.data() : nullptr;
  a.time = full ? g.time.data() : nullptr;
  a.weight = full ? g.weight.data() : nullptr;
  a.size = g.row.size();
  a.rows = g.rows;
  a.cols = c.items;
  a.events = full ? c.event_types : 1;
  return a;
}

void emit_json(const Config& c, const std::string& line) {
  if (c.json.empty()) return;
  std::ofstream(c.json, std::ios::app) << line << "\n";
}

// Process CPU time (user + system, all threads), seconds.
double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

struct Timing {
  double wall = 1e300, cpu = 1e300;  ///< best wall time and least CPU time over the repeats
};

Timing best_of(int repeats, const std::function<void()>& work) {
  Timing best;
  for (int r = 0; r < repeats; ++r) {
    const double cpu0 = process_cpu_seconds();
    Timer t;
    work();
    best.wall = std::min(best.wall, t.seconds());
    best.cpu = std::min(best.cpu, process_cpu_seconds() - cpu0);
  }
  return best;
}

void report(const Config& c, const std::string& kind, std::size_t n, Device device, double seconds,
            double cpu_seconds, double cpu_time = 0) {
  std::printf("%-7s n=%-11zu %-26s %9.4f s %10.2f Mevents/s  peak RSS %6.0f MiB", kind.c_str(), n,
              describe(device).c_str(), seconds, static_cast<double>(n) / seconds * 1e-6, peak_rss_mib());
  if (cpu_time > 0) std::printf("  cpu time %.4f s", cpu_time);
  if (device == Device::Cuda && cpu_seconds > 0) std::printf("  (%.1fx cpu)", cpu_seconds / seconds);
  std::printf("\n");
  std::ostringstream json;
  json << "{\"bench\": \"matrix\", \"kind\": \"" << kind << "\", \"n\": " << n << ", \"device\": \"" << describe(device)
       << "\", \"seconds\": " << seconds << ", \"cpu_time_s\": " << cpu_time << ", \"events_per_s\": " << static_cast<double>(n) / seconds
       << ", \"peak_rss_mib\": " << peak_rss_mib() << "}";
  emit_json(c, json.str());
}

// The peer runs `repeats` times (each warms up untimed first, as ours does): best wall
// time and least CPU time, when the peer reports its CPU time ("cpu_seconds").
void peer_line(const std::string& kind, std::size_t n, const std::string& name, Timing ours, int repeats,
               const char* peer_script, const std::string& args) {
  Timing best;
  for (int r = 0; r < repeats; ++r) {
    const auto peer = run_peer(peer_script, args);
    if (!peer) return;
    best.wall = std::min(best.wall, peer->seconds);
    const auto at = peer->json.find("\"cpu_seconds\": ");
    if (at != std::string::npos) best.cpu = std::min(best.cpu, std::stod(peer->json.substr(at + 15)));
  }
  std::printf("%-7s n=%-11zu peer %-22s %9.4f s %10.2f Mevents/s", kind.c_str(), n, name.c_str(), best.wall,
              static_cast<double>(n) / best.wall * 1e-6);
  if (best.cpu < 1e300) std::printf("  cpu time %.4f s", best.cpu);
  std::printf("  -> cohort cpu is %.2fx the peer's speed", best.wall / ours.wall);
  if (best.cpu < 1e300 && ours.cpu < 1e300) std::printf(" (%.2fx per CPU second)", best.cpu / ours.cpu);
  std::printf("\n");
}

// The device work alone (events already in device memory), timed with CUDA events.
void report_device_only(const Config& c, const std::string& kind, std::size_t n, const Generated& g, bool full,
                        double cpu_seconds) {
#ifdef COHORT_WITH_CUDA
  float best_ms = 1e30f;
  for (int r = 0; r < c.repeats; ++r) {
    float ms = 0;
    cuda::aggregate_events_cuda(view(g, c, full), &ms);
    best_ms = std::min(best_ms, ms);
  }
  report(c, kind + "-dev", n, Device::Cuda, best_ms * 1e-3, cpu_seconds);
#else
  (void)c, (void)kind, (void)n, (void)g, (void)full, (void)cpu_seconds;
#endif
}

bool same(const CellTable& a, const CellTable& b) {
  return a.row == b.row && a.col == b.col && a.event == b.event && a.count == b.count && a.first == b.first &&
         a.last == b.last && a.sum == b.sum;
}

void run_size(const Config& c, std::size_t n) {
  const Generated g = generate(n, c, 1000 + n);
  const bool gpu = !cuda_devices().empty();
  std::vector<Device> devices;
  if (c.device != "cuda") devices.push_back(Device::Cpu);
  if (c.device != "cpu" && gpu) devices.push_back(Device::Cuda);
  if (c.device == "cuda" && !gpu) std::printf("cuda: skipped (%s)\n", cuda_unavailable_reason().c_str());

  // Check before timing: total count == n, and CUDA == CPU.
  const CellTable cpu_cells = aggregate_events(view(g, c, true), Device::Cpu);
  long long total = 0;
  for (const auto k : cpu_cells.count) total += k;
  if (static_cast<std::size_t>(total) != n) {
    std::printf("n=%zu: counts sum to %lld, not n; not timing\n", n, total);
    return;
  }
  if (gpu && c.device != "cpu") {
    const CellTable gpu_cells = aggregate_events(view(g, c, true), Device::Cuda);
    std::printf("n=%zu: %zu cells; CUDA %s the CPU\n", n, cpu_cells.size(), same(gpu_cells, cpu_cells) ? "matches" : "DIFFERS FROM");
  } else {
    std::printf("n=%zu: %zu cells, counts check out\n", n, cpu_cells.size());
  }

  for (const bool full : {true, false}) {
    const std::string kind = full ? "memory" : "counts";
    double cpu_seconds = 0;
    Timing cpu_timing;
    for (const Device d : devices) {
      aggregate_events(view(g, c, full), d);  // warm-up
      const Timing s = best_of(c.repeats, [&] { aggregate_events(view(g, c, full), d); });
      if (d == Device::Cpu) cpu_seconds = s.wall, cpu_timing = s;
      report(c, kind, n, d, s.wall, cpu_seconds, s.cpu);
      if (d == Device::Cuda) report_device_only(c, kind, n, g, full, cpu_seconds);
    }
    if (!full && c.peers && cpu_seconds > 0) {
      const std::string prefix = (std::filesystem::temp_directory_path() / ("cohort_bench_matrix_" + std::to_string(n))).string();
      std::vector<std::int32_t> ids(g.row.begin(), g.row.end());
      write_npy(prefix + ".row.npy", ids.data(), {n});
      ids.assign(g.col.begin(), g.col.end());
      write_npy(prefix + ".col.npy", ids.data(), {n});
      peer_line(kind, n, "scipy coo->csr", cpu_timing, c.repeats, "matrix_peer.py", "scipy " + prefix);
      std::filesystem::remove(prefix + ".row.npy");
      std::filesystem::remove(prefix + ".col.npy");
    }
  }

  if (!c.file || n > c.file_max) return;
  const std::string csv = (std::filesystem::temp_directory_path() / ("cohort_bench_matrix_" + std::to_string(n) + ".csv")).string();
  {
    std::FILE* f = std::fopen(csv.c_str(), "w");
    std::fprintf(f, "user,item,event,time,weight\n");
    for (std::size_t i = 0; i < n; ++i)
      std::fprintf(f, "u%u,cat%u,ev%u,%.0f,%.0f\n", g.row[i], g.col[i], static_cast<unsigned>(g.event[i]), g.time[i],
                   g.weight[i]);
    std::fclose(f);
  }
  for (const bool full : {true, false}) {
    MatrixOptions o;
    o.reader.user_col = "user";
    o.reader.item_col = "item";
    if (full) {
      o.reader.event_col = "event";
      o.reader.time_col = "time";
      o.reader.weight_col = "weight";
    }
    const std::string kind = full ? "file" : "file-ui";
    double cpu_seconds = 0;
    Timing cpu_timing;
    for (const Device d : devices) {
      o.device = d;
      const Timing s = best_of(std::min(c.repeats, 2), [&] { build_matrix(csv, o); });
      if (d == Device::Cpu) cpu_seconds = s.wall, cpu_timing = s;
      report(c, kind, n, d, s.wall, cpu_seconds, s.cpu);
      if (d == Device::Cuda) report_device_only(c, kind, n, g, full, cpu_seconds);
    }
    if (!full && c.peers && cpu_seconds > 0) {
      if (n <= c.crosstab_max)
        peer_line(kind, n, "pandas crosstab", cpu_timing, 1, "matrix_peer.py", "crosstab " + csv);
      peer_line(kind, n, "pandas groupby.size", cpu_timing, 1, "matrix_peer.py", "groupby " + csv);
    }
  }
  std::filesystem::remove(csv);
}

}  // namespace
}  // namespace cohort::bench

int main(int argc, char** argv) {
  using namespace cohort;
  using namespace cohort::bench;
  Config config;
  std::string sizes = "1e6,1e7";
  int threads = 0;
  CLI::App app{"bench_matrix: events/s of the user x item aggregation (memory, counts vs scipy, file vs pandas)"};
  app.add_option("--sizes", sizes, "Event counts, comma-separated (1e6,1e7,1e8)")->capture_default_str();
  app.add_option("--items", config.items, "Items (categories)")->capture_default_str();
  app.add_option("--event-types", config.event_types, "Event types")->capture_default_str();
  app.add_option("--device", config.device, "cpu, cuda or auto (both when a GPU is present)")->capture_default_str();
  app.add_option("--threads", threads, "CPU threads (0 = all)");
  app.add_option("--repeats", config.repeats, "Timed repeats (best is reported)")->capture_default_str();
  app.add_option("--file-max", config.file_max, "Largest n for the end-to-end CSV runs")->capture_default_str();
  app.add_option("--crosstab-max", config.crosstab_max, "Largest n for pandas crosstab")->capture_default_str();
  bool no_peers = false, no_file = false;
  app.add_flag("--no-peers", no_peers, "Skip the Python peers");
  app.add_flag("--no-file", no_file, "Skip the end-to-end CSV runs");
  app.add_option("--json", config.json, "Append one JSON line per result to this file");
  CLI11_PARSE(app, argc, argv);
  config.peers = !no_peers;
  config.file = !no_file;
  config.sizes = parse_list(sizes);
  set_cpu_threads(threads);
  set_verbosity(Verbosity::Quiet);
  std::printf("bench_matrix: %s; items %u, event types %u, users n/20\n", describe(Device::Cpu).c_str(), config.items,
              config.event_types);
  for (const std::size_t n : config.sizes) run_size(config, n);
  return 0;
}
