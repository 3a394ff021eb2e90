/* progress.cpp: stderr logging and the progress reporter. */
#include "cohort/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace cohort {
namespace {
std::atomic<Verbosity> g_verbosity{Verbosity::Normal};

std::string human_count(double value) {
  const char* suffix[] = {"", "k", "M", "G", "T"};
  int i = 0;
  while (value >= 1000.0 && i < 4) {
    value /= 1000.0;
    ++i;
  }
  char text[32];
  std::snprintf(text, sizeof text, i == 0 ? "%.0f%s" : "%.2f%s", value, suffix[i]);
  return text;
}
}  // namespace

void set_verbosity(Verbosity verbosity) { g_verbosity = verbosity; }
Verbosity verbosity() { return g_verbosity; }

void log_info(const std::string& message) {
  if (g_verbosity != Verbosity::Quiet) std::fprintf(stderr, "%s\n", message.c_str());
}

void log_verbose(const std::string& message) {
  if (g_verbosity == Verbosity::Verbose) std::fprintf(stderr, "%s\n", message.c_str());
}

void log_warning(const std::string& message) { std::fprintf(stderr, "warning: %s\n", message.c_str()); }

Progress::Progress(std::string label, std::uint64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      terminal_(::isatty(STDERR_FILENO) == 1),
      enabled_(g_verbosity != Verbosity::Quiet) {}

Progress::~Progress() { finish(); }

void Progress::add(std::uint64_t done) {
  done_ += done;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const auto interval = terminal_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || now - last_draw_ < interval) return;
  last_draw_ = now;
  draw(false);
}

void Progress::set_status(const std::string& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  status_ = status;
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (enabled_) draw(true);
}

void Progress::draw(bool final_draw) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::uint64_t done = done_;
  std::string counts = human_count(static_cast<double>(done));
  if (total_ > 0) counts += "/" + human_count(static_cast<double>(total_));
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.1fs, %s %s/s", seconds,
                human_count(seconds > 0 ? static_cast<double>(done) / seconds : 0.0).c_str(), unit_.c_str());
  std::string line = label_ + " ";
  if (terminal_ && total_ > 0) {
    const int width = 30;
    const int filled = static_cast<int>(width * std::min(1.0, static_cast<double>(done) / static_cast<double>(total_)));
    line += "[" + std::string(static_cast<std::size_t>(filled), '#') + std::string(static_cast<std::size_t>(width - filled), ' ') + "] ";
  }
  line += counts + " " + unit_ + " (" + rate + ")";
  if (!status_.empty()) line += " " + status_;
  if (terminal_) std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), final_draw ? "\n" : "");
  else std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace cohort
