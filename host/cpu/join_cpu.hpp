/* join_cpu.hpp: the CPU (OpenMP) backend of the point-in-polygon join. */
#pragma once

#include <cstddef>

#include "cohort/join.hpp"

namespace cohort::cpu {

/// Pairs (point index, feature index) sorted by point then feature; coordinates finite.
JoinPairs join_cpu(const JoinGrid& grid, const double* x, const double* y, std::size_t n, bool first);

}  // namespace cohort::cpu
