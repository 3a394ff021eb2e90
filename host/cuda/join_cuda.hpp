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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::cuda
