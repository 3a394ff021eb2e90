/*
 * error.hpp: the exceptions every cohort API throws.
 *   Error        base class; the CLI prints what() as "error: ..." and exits 1.
 *   InvalidInput bad user input, naming the file, line or record, and the problem.
 *   CudaError    a failed CUDA or CUDA-library call, naming the call, file:line and the
 *                library's error name and text (see host/cuda/check.hpp).
 */
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace cohort {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InvalidInput : public Error {
 public:
  /// line == 0 means "no line" (a whole-file or argument problem).
  InvalidInput(const std::string& file, std::uint64_t line, const std::string& problem)
      : Error(format(file, line, problem)), file_(file), line_(line) {}
  explicit InvalidInput(const std::string& problem) : Error(problem) {}

  const std::string& file() const { return file_; }
  std::uint64_t line() const { return line_; }

 private:
  static std::string format(const std::string& file, std::uint64_t line, const std::string& problem) {
    std::string where = file;
    if (line > 0) where += ":" + std::to_string(line);
    return where.empty() ? problem : where + ": " + problem;
  }
  std::string file_;
  std::uint64_t line_ = 0;
};

class CudaError : public Error {
 public:
  using Error::Error;
};

}  // namespace cohort

/// Precondition on user-facing input: throws InvalidInput(message) when cond is false.
#define COHORT_EXPECTS(cond, message)                         \
  do {                                                        \
    if (!(cond)) throw ::cohort::InvalidInput(message);       \
  } while (0)

/// Unconditional failure on bad input.
#define COHORT_FAIL(message) throw ::cohort::InvalidInput(message)
