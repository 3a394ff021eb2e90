/*
 * join_cuda.hpp: the CUDA backend of the join, seen from plain C++ (no CUDA types).
 * The grid is uploaded once; join() streams points through the device in batches sized
 * by the memory budget, double buffered on two streams.
 */
#pragma once

#include <cstddef>
#include <memory>

#include "cohort/join.hpp"

namespace cohort::cuda {

class CudaJoiner {
 public:
  /// gpu_memory: bytes for point batches and pairs; 0 = half the free device memory.
  CudaJoiner(const JoinGrid& grid, std::size_t gpu_memory);
  ~CudaJoiner();
  CudaJoiner(const CudaJoiner&) = delete;
  CudaJoiner& operator=(const CudaJoiner&) = delete;
  /// Same contract as cpu::join_cpu.
  JoinPairs join(const double* x, const double* y, std::size_t n, bool first);
  /// For benchmarks: uploads the n points once, then times the device work of a join
  /// with them resident in device memory (count, scan and fill, the pairs left on the
  /// device; CUDA events, best of `repeats`). Returns seconds; *pairs = their number.
  /// Needs n points' x, y, counts and offsets (32 bytes each) plus the pairs on the device.
  double time_resident(const double* x, const double* y, std::size_t n, bool first, int repeats, std::size_t* pairs);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::cuda
