// host/cuda/runtime.hpp (emulation): stands in for the real one, which needs the CUDA
// toolkit; the kernels take ceil_div, COHORT_CHECK_LAUNCH, COHORT_CUDA_TRY, (through
// check.hpp) cohort/error.hpp and the launchers Stream, Event and DeviceBuffer from it;
// host/cuda/similar_cuda.cpp also CublasHandle (cublas_v2.h's host GEMMs),
// COHORT_CUBLAS_TRY, free_device_memory and cudaMemcpyAsync; host/cuda/join_cuda.cpp
// PinnedBuffer, COHORT_CUDA_LOG and cudaStreamSynchronize; host/cuda/train_cuda.cpp
// CapturedGraph (recorded launches and calls, replayed).
// An emulated launch or call throws at once when it fails, so there is nothing left to
// check. "Device" memory is host memory; copies past a buffer's end fault.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "cohort/error.hpp"
#include "cublas_v2.h"
#include "cuda_runtime.h"

namespace cohort::cuda {

template <typename T>
constexpr T ceil_div(T a, T b) {
  return (a + b - 1) / b;
}

// Work runs when launched, so a stream has nothing to wait for.
class Stream {
 public:
  cudaStream_t get() const { return nullptr; }
  void synchronize() const { emulation::forbid_in_capture("Stream::synchronize"); }
};

// No device clock: elapsed time reads 0.
class Event {
 public:
  void record(cudaStream_t) {}
  void synchronize() const {}
  float elapsed_ms_since(const Event&) const { return 0.f; }
};

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::size_t size, cudaStream_t) {
    emulation::forbid_in_capture("a DeviceBuffer allocation");
    storage_.resize(size);
  }

  T* data() { return storage_.empty() ? nullptr : storage_.data(); }
  const T* data() const { return storage_.empty() ? nullptr : storage_.data(); }
  std::size_t size() const { return storage_.size(); }
  std::size_t bytes() const { return storage_.size() * sizeof(T); }

  void copy_from_host(const T* host, std::size_t count, cudaStream_t, std::size_t offset = 0) {
    emulation::forbid_in_capture("DeviceBuffer::copy_from_host");
    if (count == 0) return;
    check_range(count, offset);
    std::memcpy(storage_.data() + offset, host, count * sizeof(T));
  }
  void copy_to_host(T* host, std::size_t count, cudaStream_t, std::size_t offset = 0) const {
    emulation::forbid_in_capture("DeviceBuffer::copy_to_host");
    if (count == 0) return;
    check_range(count, offset);
    std::memcpy(host, storage_.data() + offset, count * sizeof(T));
  }

 private:
  void check_range(std::size_t count, std::size_t offset) const {
    if (offset > storage_.size() || count > storage_.size() - offset)
      emulation::fail("DeviceBuffer: copy of [" + std::to_string(offset) + ", " + std::to_string(offset + count) +
                      ") out of " + std::to_string(storage_.size()) + " elements");
  }
  std::vector<T> storage_;
};

// Page-locked host memory is host memory; moves as the real one (swap).
template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t size) : storage_(size) {}
  PinnedBuffer(PinnedBuffer&&) noexcept = default;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
    storage_.swap(other.storage_);
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  T* data() { return storage_.empty() ? nullptr : storage_.data(); }
  const T* data() const { return storage_.empty() ? nullptr : storage_.data(); }
  std::size_t size() const { return storage_.size(); }
  T& operator[](std::size_t i) { return storage_.at(i); }
  const T& operator[](std::size_t i) const { return storage_.at(i); }

 private:
  std::vector<T> storage_;
};

class CublasHandle {
 public:
  explicit CublasHandle(cudaStream_t) {}
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  cublasHandle_t get() const { return &context_; }

 private:
  mutable cublasContext context_;
};

// A graph as CUDA records one: capture runs nothing; each launch, memset, copy and GEMM
// work() queues is kept with its arguments as they were then (emulation::capture_list),
// and launch() replays them in order. Work that waits, allocates or reads back faults.
class CapturedGraph {
 public:
  CapturedGraph() = default;
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;

  template <typename Work>
  void capture(cudaStream_t, Work&& work) {
    reset();
    if (emulation::capture_list()) emulation::fail("CapturedGraph: a capture inside a capture");
    std::vector<std::function<void()>> nodes;
    emulation::capture_list() = &nodes;
    try {
      work();
    } catch (...) {
      emulation::capture_list() = nullptr;
      throw;
    }
    emulation::capture_list() = nullptr;
    nodes_ = std::move(nodes);
    ready_ = true;
  }
  bool ready() const { return ready_; }
  void launch(cudaStream_t) {
    if (!ready_) emulation::fail("CapturedGraph: launch of nothing captured");
    ++launches_;
    for (const auto& node : nodes_) node();
  }
  void reset() {
    nodes_.clear();
    ready_ = false;
  }
  /// For the tests: replays so far (a run that never replayed tests nothing).
  static long& launches() { return launches_; }

 private:
  std::vector<std::function<void()>> nodes_;
  bool ready_ = false;
  static inline long launches_ = 0;
};

/// A fixed "free" size: 1 GiB, so default budgets are large and the plan deterministic.
inline std::size_t free_device_memory() { return std::size_t{1} << 30; }

}  // namespace cohort::cuda

enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
// "Device" pointers are host pointers; the bounds are the callers' (DeviceBuffer checks its own).
inline cudaError_t cudaMemcpyAsync(void* to, const void* from, std::size_t bytes, cudaMemcpyKind, cudaStream_t) {
  cohort::emulation::record_or_run([=] {
    if (bytes) std::memcpy(to, from, bytes);
  });
  return cudaSuccess;
}

inline cudaError_t cudaStreamSynchronize(cudaStream_t) {
  cohort::emulation::forbid_in_capture("cudaStreamSynchronize");
  return cudaSuccess;
}

#define COHORT_CUBLAS_TRY(call) static_cast<void>(call)
#define COHORT_CUDA_LOG(call) static_cast<void>(call)
#define COHORT_CHECK_LAUNCH(stream) static_cast<void>(stream)
#define COHORT_CUDA_TRY(call) static_cast<void>(call)
