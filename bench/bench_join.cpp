/*
 * bench_join.cpp: points/s of the point-in-polygon join.
 *
 * Polygon sets: "stores" (small convex store zones clustered around a few centres, like
 * `cohort generate`) or "random" (overlapping stars, holes, big polygons), of ~200 and
 * ~3,000 features. Points: uniform over the extent plus a share near the polygons.
 * For each backend (cpu with all threads, cuda when present):
 *   - in memory: grid build time, then the join (warm-up, best of --repeats); on CUDA
 *     also "resident-dev": the device work alone with the points already in device
 *     memory (the GPU target), timed with CUDA events;
 *   - end to end from a file (CSV and .npy written once): join_files, output written.
 * Results are checked first: the join must equal the brute-force reference on a
 * subsample (the reference's own points/s is reported as the first peer), and CUDA
 * must equal CPU. The GeoPandas peer (bench/peers/join_peer.py, when bench/peers/venv
 * exists) runs sjoin(predicate="within") on the same CSV files; ratios are printed.
 * Prints size, device, time, throughput, peak RSS; a JSON line per measurement.
 */
#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.hpp"
#include "cohort/atomic_file.hpp"
#include "cohort/backend.hpp"
#include "cohort/join.hpp"
#include "cohort/npy.hpp"
#include "cohort/progress.hpp"
#ifdef COHORT_WITH_CUDA
#include "host/cuda/join_cuda.hpp"
#endif

namespace {

using namespace cohort;
using Clock = std::chrono::steady_clock;
using bench::peak_rss_mib;
using bench::peer_python;
constexpr double kPi = 3.14159265358979323846;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Process CPU time: with a loaded machine, points per CPU-second approximates per-core speed.
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Store zones around a few city centres (lon/lat degrees), or random overlapping stars.
PolygonSet make_polygons(const std::string& kind, int count, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  PolygonSet s;
  const double lon0 = -74.3, lat0 = 40.5, extent = 0.6;
  std::vector<std::pair<double, double>> centres;
  for (int c = 0; c < 8; ++c) centres.push_back({lon0 + extent * u(rng), lat0 + extent * u(rng)});
  for (int i = 0; i < count; ++i) {
    std::vector<double> x, y;
    if (kind == "stores") {
      const auto& c = centres[rng() % centres.size()];
      std::normal_distribution<double> spread(0, extent * 0.08);
      const double cx = c.first + spread(rng), cy = c.second + spread(rng);
      const double r = 0.0005 + 0.0015 * u(rng);  // ~50-200 m
      const int n = 6 + static_cast<int>(rng() % 11);
      for (int k = 0; k < n; ++k) {
        x.push_back(cx + r * std::cos(2 * kPi * k / n));
        y.push_back(cy + r * std::sin(2 * kPi * k / n));
      }
    } else {
      // Overlapping stars sized so that together they cover about 30% of the extent.
      const double cx = lon0 + extent * u(rng), cy = lat0 + extent * u(rng);
      const double r = extent * std::sqrt(0.3 / (kPi * count)) * (0.5 + u(rng));
      const int n = 5 + static_cast<int>(rng() % 60);
      for (int k = 0; k < n; ++k) {
        const double rr = r * (0.3 + 0.7 * u(rng));
        x.push_back(cx + rr * std::cos(2 * kPi * k / n));
        y.push_back(cy + rr * std::sin(2 * kPi * k / n));
      }
    }
    s.add_ring(x, y);
    s.end_polygon();
    s.end_feature("p" + std::to_string(i));
  }
  return s;
}

void make_points(const PolygonSet& s, std::size_t n, std::mt19937_64& rng, std::vector<double>& x,
                 std::vector<double>& y) {
  double min_x = 1e300, max_x = -1e300, min_y = 1e300, max_y = -1e300;
  for (std::size_t i = 0; i < s.vertices(); ++i) {
    min_x = std::min(min_x, s.x[i]);
    max_x = std::max(max_x, s.x[i]);
    min_y = std::min(min_y, s.y[i]);
    max_y = std::max(max_y, s.y[i]);
  }
  x.resize(n);
  y.resize(n);
  // Blocks of points, each from its own generator seeded by the block's number: the same
  // points for any thread count, and 10^8 of them in seconds (a GPU session's minutes).
  constexpr std::size_t kBlock = std::size_t(1) << 16;
  const std::uint64_t base = rng();
  const auto blocks = static_cast<std::int64_t>((n + kBlock - 1) / kBlock);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < blocks; ++b) {
    std::mt19937_64 block_rng(base + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(b + 1));
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> near(0, 0.001);
    const std::size_t end = std::min(n, static_cast<std::size_t>(b + 1) * kBlock);
    for (std::size_t i = static_cast<std::size_t>(b) * kBlock; i < end; ++i) {
      if (i % 10 < 3) {  // 30% near a polygon vertex
        const std::size_t v = block_rng() % s.vertices();
        x[i] = s.x[v] + near(block_rng);
        y[i] = s.y[v] + near(block_rng);
      } else {
        x[i] = min_x + (max_x - min_x) * (1.2 * u(block_rng) - 0.1);
        y[i] = min_y + (max_y - min_y) * (1.2 * u(block_rng) - 0.1);
      }
    }
  }
}

// Brute force: even-odd over all edges (the documented rule), one thread.
JoinPairs reference(const PolygonSet& s, const double* x, const double* y, std::size_t n) {
  JoinPairs out;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t f = 0; f < s.features(); ++f) {
      bool inside = false;
      for (auto r = s.polygon_ring_offsets[s.feature_polygon_offsets[f]];
           r < s.polygon_ring_offsets[s.feature_polygon_offsets[f + 1]]; ++r)
        for (auto a = s.ring_offsets[r]; a < s.ring_offsets[r + 1]; ++a) {
          const auto b = a + 1 == s.ring_offsets[r + 1] ? s.ring_offsets[r] : a + 1;
          if ((s.y[a] > y[i]) == (s.y[b] > y[i])) continue;
          const auto lo = s.y[a] < s.y[b] ? a : b, hi = lo == a ? b : a;
          if ((s.x[hi] - s.x[lo]) * (y[i] - s.y[lo]) - (x[i] - s.x[lo]) * (s.y[hi] - s.y[lo]) > 0) inside = !inside;
        }
      if (inside) {
        out.point.push_back(i);
        out.feature.push_back(static_cast<std::uint32_t>(f));
      }
    }
  return out;
}

bool same(const JoinPairs& a, const JoinPairs& b) { return a.point == b.point && a.feature == b.feature; }

std::string polygons_wkt_csv(const PolygonSet& s) {
  std::string text = "id,wkt\n";
  char buffer[64];
  for (std::size_t f = 0; f < s.features(); ++f) {
    text += s.ids[f] + ",\"POLYGON ((";
    const auto r = s.polygon_ring_offsets[s.feature_polygon_offsets[f]];
    for (auto i = s.ring_offsets[r]; i < s.ring_offsets[r + 1]; ++i) {
      std::snprintf(buffer, sizeof buffer, "%s%.17g %.17g", i == s.ring_offsets[r] ? "" : ", ", s.x[i], s.y[i]);
      text += buffer;
    }
    std::snprintf(buffer, sizeof buffer, ", %.17g %.17g", s.x[s.ring_offsets[r]], s.y[s.ring_offsets[r]]);
    text += buffer;
    text += "))\"\n";
  }
  return text;
}

void write_points_csv(const std::string& path, const std::vector<double>& x, const std::vector<double>& y) {
  AtomicFile file(path);
  file.write("id,x,y\n");
  std::string text;
  char buffer[96];
  for (std::size_t i = 0; i < x.size(); ++i) {
    const int len = std::snprintf(buffer, sizeof buffer, "%zu,%.17g,%.17g\n", i, x[i], y[i]);
    text.append(buffer, static_cast<std::size_t>(len));
    if (text.size() > (1 << 22)) {
      file.write(text);
      text.clear();
    }
  }
  file.write(text);
  file.commit();
}

void report(const char* what, const std::string& kind, int polygons, std::size_t n, Device device, double seconds,
            double cpu_time, double ratio_label_value = 0, const char* ratio_label = nullptr) {
  const double rate = static_cast<double>(n) / seconds;
  std::printf("%-16s %-6s polygons %5d points %10zu %-4s %8.4f s %9.3g points/s (%9.3g per cpu-s) RSS %5.0f MiB",
              what, kind.c_str(), polygons, n, device_name(device), seconds, rate,
              cpu_time > 0 ? static_cast<double>(n) / cpu_time : 0.0, peak_rss_mib());
  if (ratio_label) std::printf("  %s %.1fx", ratio_label, ratio_label_value);
  std::printf("\n{\"bench\":\"join\",\"what\":\"%s\",\"kind\":\"%s\",\"polygons\":%d,\"points\":%zu,\"device\":\"%s\","
              "\"threads\":%d,\"seconds\":%.6f,\"cpu_seconds\":%.6f,\"points_per_s\":%.6g,\"peak_rss_mib\":%.1f}\n",
              what, kind.c_str(), polygons, n, device_name(device), cpu_threads(), seconds, cpu_time, rate,
              peak_rss_mib());
  std::fflush(stdout);
}

// The GPU target is for points already in device memory: the device work
// alone (count, scan, fill; pairs stay on the device), timed with CUDA events.
void report_resident(const JoinGrid& grid, const std::vector<double>& x, const std::vector<double>& y, int repeats,
                     const std::string& kind, int polygons, std::size_t expected_pairs) {
#ifdef COHORT_WITH_CUDA
  std::size_t pairs = 0;
  cuda::CudaJoiner joiner(grid, 0);
  const double seconds = joiner.time_resident(x.data(), y.data(), x.size(), false, repeats, &pairs);
  report("resident-dev", kind, polygons, x.size(), Device::Cuda, seconds, 0.0);
  if (pairs != expected_pairs)
    std::printf("  MISMATCH: %zu pairs on the device, %zu from the streamed join\n", pairs, expected_pairs);
#else
  (void)grid, (void)x, (void)y, (void)repeats, (void)kind, (void)polygons, (void)expected_pairs;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("bench_join: point-in-polygon join throughput");
  std::vector<std::size_t> sizes{1000000, 10000000};
  std::vector<int> polygon_counts{200, 3000};
  std::vector<std::string> kinds{"stores", "random"};
  std::size_t file_points = 1000000, reference_points = 2000;
  int repeats = 3, threads = 0;
  std::int64_t cells = 0;
  std::string device = "all", dir = (std::filesystem::temp_directory_path() / "cohort_bench_join").string();
  bool peer = true;
  std::uint64_t seed = 7;
  app.add_option("--sizes", sizes, "In-memory point counts")->capture_default_str();
  app.add_option("--polygons", polygon_counts, "Polygon counts")->capture_default_str();
  app.add_option("--kinds", kinds, "Polygon layouts: stores, random")->capture_default_str();
  app.add_option("--file-points", file_points, "Points for the end-to-end file runs (0: skip)")->capture_default_str();
  app.add_option("--reference-points", reference_points, "Subsample checked against brute force")
      ->capture_default_str();
  app.add_option("--repeats", repeats, "Timed repeats (best kept)")->capture_default_str();
  app.add_option("--threads", threads, "CPU threads (0: all)");
  app.add_option("--device", device, "cpu, cuda or all")->capture_default_str();
  app.add_option("--dir", dir, "Scratch directory for the files")->capture_default_str();
  app.add_option("--peer", peer, "Run the GeoPandas peer when bench/peers/venv exists")->capture_default_str();
  app.add_option("--seed", seed)->capture_default_str();
  app.add_option("--cells", cells, "Grid cells (0: the automatic resolution)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  set_cpu_threads(threads);
  set_verbosity(Verbosity::Quiet);
  ensure_directory(dir);

  std::vector<Device> devices;
  if (device == "cpu" || device == "all") devices.push_back(Device::Cpu);
  if ((device == "cuda" || device == "all") && !cuda_devices().empty()) devices.push_back(Device::Cuda);
  if (device == "cuda" && devices.empty()) {
    std::fprintf(stderr, "no CUDA device: %s\n", cuda_unavailable_reason().c_str());
    return 1;
  }
  std::printf("bench_join: cpu threads %d, cuda %s\n", cpu_threads(),
              cuda_devices().empty() ? ("none (" + cuda_unavailable_reason() + ")").c_str()
                                     : cuda_devices()[0].name.c_str());
  // This file's directory holds peers/ (CMake passes sources by absolute path).
  const std::string bench_dir = std::filesystem::path(__FILE__).parent_path().string();
  const std::string python = peer_python();
  const std::string peer_script = bench_dir + "/peers/join_peer.py";
  const bool have_peer = peer && !python.empty();
  if (!have_peer) std::printf("GeoPandas peer: skipped (%s)\n", peer ? "run bash bench/peers/setup.sh" : "--peer 0");

  for (const std::string& kind : kinds)
    for (int count : polygon_counts) {
      std::mt19937_64 rng(seed);
      const PolygonSet polygons = make_polygons(kind, count, rng);
      auto t = Clock::now();
      const JoinGrid grid = build_join_grid(polygons, cells);
      std::printf("grid %s %d polygons: %d x %d cells, %zu entries, %zu edge refs, built in %.3f s\n", kind.c_str(),
                  count, grid.cols, grid.rows, grid.entry_count, grid.edge_count, seconds_since(t));
      for (std::size_t n : sizes) {
        std::vector<double> x, y;
        make_points(polygons, n, rng, x, y);
        // Check first: brute force on a subsample, then time the reference itself.
        const std::size_t k = std::min(reference_points, n);
        t = Clock::now();
        const JoinPairs want = reference(polygons, x.data(), y.data(), k);
        const double reference_seconds = seconds_since(t);
        JoinPairs cpu_pairs;
        for (Device d : devices) {
          JoinOptions options;
          options.device = d;
          if (d == Device::Cuda) cuda_pool_peak_bytes(true);
          Joiner joiner(grid, options);
          const JoinPairs sub = joiner.join(x.data(), y.data(), k);
          if (!same(sub, want)) {
            std::fprintf(stderr, "MISMATCH vs brute force (%s, %s, %d polygons)\n", device_name(d), kind.c_str(), count);
            return 1;
          }
          JoinPairs pairs = joiner.join(x.data(), y.data(), n);  // warm-up (and the pairs to compare)
          double best = 1e300, best_cpu = 0;
          for (int r = 0; r < repeats; ++r) {
            const double c0 = cpu_seconds();
            t = Clock::now();
            const JoinPairs timed = joiner.join(x.data(), y.data(), n);
            const double wall = seconds_since(t);
            if (wall < best) {
              best = wall;
              best_cpu = cpu_seconds() - c0;
            }
          }
          if (d == Device::Cpu) cpu_pairs = std::move(pairs);
          else if (devices.front() == Device::Cpu && !same(pairs, cpu_pairs)) {
            std::fprintf(stderr, "MISMATCH cuda vs cpu (%s, %d polygons, %zu points)\n", kind.c_str(), count, n);
            return 1;
          }
          const double reference_rate = static_cast<double>(k) / reference_seconds;
          report("in-memory", kind, count, n, d, best, d == Device::Cpu ? best_cpu : 0.0,
                 static_cast<double>(n) / best / reference_rate,
                 "vs brute force");
          if (d == Device::Cuda) {  // the grid and the batch buffers
            std::printf("  peak device memory of the join: %.0f MiB\n",
                        static_cast<double>(cuda_pool_peak_bytes()) / (1 << 20));
            report_resident(grid, x, y, repeats, kind, count, pairs.size());
          }
        }
        std::printf("  all results match (brute force on %zu points%s); %zu pairs\n", k,
                    devices.size() > 1 ? ", cuda == cpu" : "", cpu_pairs.size());
      }
      if (file_points == 0) continue;
      // End to end from files.
      std::vector<double> x, y;
      make_points(polygons, file_points, rng, x, y);
      const std::string stem = dir + "/" + kind + "_" + std::to_string(count);
      write_text_file(stem + "_polygons.csv", polygons_wkt_csv(polygons));
      write_points_csv(stem + "_points.csv", x, y);
      std::vector<double> xy(2 * x.size());
      for (std::size_t i = 0; i < x.size(); ++i) {
        xy[2 * i] = x[i];
        xy[2 * i + 1] = y[i];
      }
      write_npy(stem + "_points.npy", xy.data(), {x.size(), 2});
      // The file's points joined in memory: the like-for-like peer of sjoin's join time.
      double memory_seconds = 1e300;
      std::size_t memory_pairs = 0;
      {
        JoinOptions options;
        options.device = Device::Cpu;
        Joiner joiner(grid, options);
        for (int r = 0; r < std::max(repeats, 1); ++r) {
          t = Clock::now();
          memory_pairs = joiner.join(x.data(), y.data(), x.size()).size();
          memory_seconds = std::min(memory_seconds, seconds_since(t));
        }
      }
      double cpu_csv_seconds = 0;
      for (Device d : devices)
        for (const char* ext : {".csv", ".npy"}) {
          JoinFileOptions o;
          o.polygons = stem + "_polygons.csv";
          o.points = stem + "_points" + std::string(ext);
          o.out = stem + "_pairs.csv";
          o.counts = stem + "_counts.csv";
          o.device = d;
          o.progress = false;
          const double c0 = cpu_seconds();
          const JoinSummary s = join_files(o);
          report(ext == std::string(".csv") ? "end-to-end csv" : "end-to-end npy", kind, count, s.points, d,
                 s.seconds, d == Device::Cpu ? cpu_seconds() - c0 : 0.0);
          if (d == Device::Cpu && ext == std::string(".csv")) cpu_csv_seconds = s.seconds;
        }
      if (have_peer) {
        const std::string command =
            python + " " + peer_script + " --polygons " + stem + "_polygons.csv --points " + stem + "_points.csv";
        std::FILE* pipe = popen(command.c_str(), "r");
        std::string line;
        char buffer[4096];
        while (pipe && std::fgets(buffer, sizeof buffer, pipe)) line += buffer;
        const int status = pipe ? pclose(pipe) : -1;
        double peer_seconds = 0, peer_total = 0;
        const auto a = line.find("\"seconds\": "), b = line.find("\"seconds_total\": ");
        if (status == 0 && a != std::string::npos && b != std::string::npos) {
          peer_seconds = std::stod(line.substr(a + 11));
          peer_total = std::stod(line.substr(b + 17));
          std::printf("  peer %s", line.c_str());
          std::printf("  GeoPandas sjoin (same %zu points): join %.3f s vs cohort cpu in memory %.4f s (%zu pairs): "
                      "%.1fx; read + join %.3f s vs cohort end to end from CSV %.3f s: %.1fx\n",
                      x.size(), peer_seconds, memory_seconds, memory_pairs, peer_seconds / memory_seconds,
                      peer_total, cpu_csv_seconds, peer_total / cpu_csv_seconds);
          std::printf("{\"bench\":\"join\",\"what\":\"peer\",\"kind\":\"%s\",\"polygons\":%d,\"points\":%zu,"
                      "\"threads\":%d,\"sjoin_seconds\":%.6f,\"cohort_seconds\":%.6f,\"ratio\":%.3f,"
                      "\"sjoin_total_seconds\":%.6f,\"cohort_total_seconds\":%.6f,\"ratio_total\":%.3f}\n",
                      kind.c_str(), count, x.size(), cpu_threads(), peer_seconds, memory_seconds,
                      peer_seconds / memory_seconds, peer_total, cpu_csv_seconds, peer_total / cpu_csv_seconds);
        } else {
          std::printf("  GeoPandas peer failed (status %d): %s\n", status, line.c_str());
        }
      }
    }
  return 0;
}
