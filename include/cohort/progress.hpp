/*
 * progress.hpp: messages and progress for long work.
 *
 * Verbosity is process-wide (set once by the CLI). Progress draws a bar on stderr when
 * stderr is a terminal, prints a plain line every few seconds otherwise (logs, CI),
 * and prints nothing with Verbosity::Quiet. add() is thread-safe and cheap.
 */
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace cohort {

enum class Verbosity { Quiet, Normal, Verbose };
void set_verbosity(Verbosity verbosity);
Verbosity verbosity();

/// One line on stderr unless quiet ("note: ..." style is up to the caller).
void log_info(const std::string& message);
/// Only with --verbose.
void log_verbose(const std::string& message);
/// Always printed, even with --quiet: "warning: <message>".
void log_warning(const std::string& message);

class Progress {
 public:
  /// total == 0 means unknown: counts are shown without a bar.
  Progress(std::string label, std::uint64_t total, std::string unit);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void add(std::uint64_t done);
  /// Extra text shown after the counts (e.g. "loss 0.123").
  void set_status(const std::string& status);
  /// Prints the final state once; called by the destructor if not before.
  void finish();

 private:
  void draw(bool final_draw);
  std::string label_, unit_, status_;
  std::uint64_t total_;
  std::atomic<std::uint64_t> done_{0};
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool terminal_, enabled_, finished_ = false;
};

}  // namespace cohort
