/*
 * test_util.hpp: helpers shared by the test files: a per-test temporary directory,
 * whole-file reads/writes, and running the `cohort` CLI (COHORT_BINARY, overridable by
 * the environment variable of the same name, e.g. on a GPU machine).
 */
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cohort/progress.hpp"

namespace cohort::testing {

namespace fs = std::filesystem;

/// A fresh directory named after the running test, removed at the end.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("cohort_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }
  std::size_t entries() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(path_), fs::directory_iterator()));
  }

 private:
  fs::path path_;
};

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string cohort_binary() {
  const char* from_env = std::getenv("COHORT_BINARY");
  return from_env && *from_env ? from_env : COHORT_BINARY;
}

struct CliResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs `cohort ARGS` through the shell, capturing its output.
inline CliResult run_cli(const std::string& args) {
  CliResult result;
  const std::string command = cohort_binary() + " " + args + " 2>&1";
  std::FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) result.output += buffer;
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// Quiet log output (warnings included) for a scope.
struct QuietScope {
  QuietScope() { set_verbosity(Verbosity::Quiet); }
  ~QuietScope() { set_verbosity(Verbosity::Normal); }
};

}  // namespace cohort::testing
