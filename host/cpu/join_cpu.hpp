/* join_cpu.hpp: the CPU (OpenMP) backend of the point-in-polygon join. */
#pragma once

#include <cstddef>

#include "cohort/join.hpp"

namespace cohort::cpu {

/// Pairs (point index, feature index) sorted by point then feature. Checks the
/// coordinates as it reads them: InvalidInput (fail_nonfinite_point) naming the first
/// point with a NaN or infinite coordinate.
JoinPairs join_cpu(const JoinGrid& grid, const double* x, const double* y, std::size_t n, bool first);

/// The first i in [begin, end) with x[i] or y[i] NaN or infinite, else end.
std::size_t first_nonfinite_point(const double* x, const double* y, std::size_t begin, std::size_t end);

/// Throws InvalidInput: point i has a NaN or infinite coordinate.
[[noreturn]] void fail_nonfinite_point(std::size_t i);

}  // namespace cohort::cpu
