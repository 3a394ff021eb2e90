/*
 * segment.hpp: the CUDA k-means backend (launchers live in segment.cu). Plain C++: the
 * KMeansSteps interface is shared with the CPU backend (host/cpu/segment_cpu.hpp).
 */
#pragma once

#include <cstddef>
#include <memory>

#include "host/cpu/segment_cpu.hpp"

namespace cohort::cuda {

/// Copies x (n x d, host) to the current device and returns steps that run there:
/// cuBLAS SGEMM for x.c, the shared nearest_centroid per row, deterministic cluster
/// sums (labels radix-sorted with CUB, fixed chunks summed in double, chunks added in
/// order), deterministic reductions (fixed segments, fixed tree).
std::unique_ptr<segment::KMeansSteps> make_segment_steps(const float* x, std::size_t n, std::size_t d);

}  // namespace cohort::cuda
