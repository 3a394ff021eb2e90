/*
 * bench_util.hpp: what every benchmark program shares: a wall-clock timer, peak RSS,
 * the device line, and running a Python peer (bench/peers/run_peer.py) on the same
 * input files to print a ratio.
 */
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cohort/backend.hpp"

namespace cohort::bench {

class Timer {
 public:
  Timer() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

/// Peak resident set size of this process so far, in MiB.
inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

/// "1e6,1e7,30000" -> sizes (a size flag given as a comma-separated list).
inline std::vector<std::size_t> parse_list(const std::string& text) {
  std::vector<std::size_t> values;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ','))
    if (!part.empty()) values.push_back(static_cast<std::size_t>(std::stod(part)));
  return values;
}

/// "cpu (N threads)" or the GPU name, for result lines.
inline std::string describe(Device device) {
  if (device == Device::Cuda) {
    const auto gpus = cuda_devices();
    return gpus.empty() ? "cuda (none)" : "cuda " + gpus[0].name;
  }
  return "cpu (" + std::to_string(cpu_threads()) + " threads)";
}

/// The peers' Python: $COHORT_PEER_PYTHON when set (e.g. a GPU machine's own python3
/// with PyTorch), else bench/peers/venv, else "" (bench/peers/setup.sh not run).
inline std::string peer_python() {
  if (const char* chosen = std::getenv("COHORT_PEER_PYTHON"); chosen && *chosen) return chosen;
  const std::string python = std::string(COHORT_SOURCE_DIR) + "/bench/peers/venv/bin/python";
  std::FILE* file = std::fopen(python.c_str(), "r");
  if (!file) return "";
  std::fclose(file);
  return python;
}

struct PeerResult {
  double seconds = 0.0;
  std::string json;  ///< the whole line the peer printed
};

/// Runs bench/peers/<script> through run_peer.py with args; nullopt when the peers are
/// not installed or the peer failed (its stderr is shown).
inline std::optional<PeerResult> run_peer(const std::string& script, const std::string& args) {
  const std::string python = peer_python();
  if (python.empty()) {
    std::printf("peer %s: skipped (run bash bench/peers/setup.sh to install the peers)\n", script.c_str());
    return std::nullopt;
  }
  const std::string peers = std::string(COHORT_SOURCE_DIR) + "/bench/peers/";
  const std::string command = python + " " + peers + "run_peer.py " + peers + script + " " + args;
  std::FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return std::nullopt;
  std::string output;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
  if (pclose(pipe) != 0) {
    std::printf("peer %s: failed\n", script.c_str());
    return std::nullopt;
  }
  const auto at = output.rfind("\"seconds\": ");
  if (at == std::string::npos) return std::nullopt;
  PeerResult result;
  result.seconds = std::stod(output.substr(at + 11));
  result.json = output;
  return result;
}

}  // namespace cohort::bench
