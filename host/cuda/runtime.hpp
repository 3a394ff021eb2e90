/*
 * runtime.hpp: RAII owners for CUDA resources (host-side C++, no kernels).
 *
 *   DeviceBuffer<T>  device memory, move-only, uninitialized, stream-ordered
 *                    allocation (cudaMallocAsync); copy_from_host / copy_to_host;
 *                    clone(stream) instead of a copy constructor, so copies are explicit.
 *   PinnedBuffer<T>  page-locked host memory for asynchronous copies.
 *   Stream, Event    owned stream / event; Event::elapsed_ms for kernel timing.
 *   CublasHandle, CusparseHandle  library handles bound to a stream.
 *   CapturedGraph    the work a function queues on a stream, captured once as a CUDA
 *                    graph and replayed with one launch.
 *   DeviceScope      sets the current device for a scope and restores the old one.
 * Destructors never throw: failures are logged (COHORT_CUDA_LOG).
 */
#pragma once

#include <cstddef>
#include <utility>

#include "host/cuda/check.hpp"

namespace cohort::cuda {

/// DeviceBuffers come from the current device's stream-ordered pool. By default the pool
/// hands freed memory back to the driver at every synchronization, so buffers made
/// anew each iteration are mapped anew; this keeps it (free_device_memory trims the
/// pool first, so budgets still see it as free).
void keep_freed_device_memory();

class Stream {
 public:
  Stream() {
    keep_freed_device_memory();
    COHORT_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  ~Stream() {
    if (stream_) COHORT_CUDA_LOG(cudaStreamDestroy(stream_));
  }
  Stream(Stream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}
  Stream& operator=(Stream&& other) noexcept {
    std::swap(stream_, other.stream_);
    return *this;
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const { return stream_; }
  void synchronize() const { COHORT_CUDA_TRY(cudaStreamSynchronize(stream_)); }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event() { COHORT_CUDA_TRY(cudaEventCreate(&event_)); }
  ~Event() {
    if (event_) COHORT_CUDA_LOG(cudaEventDestroy(event_));
  }
  Event(Event&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}
  Event& operator=(Event&& other) noexcept {
    std::swap(event_, other.event_);
    return *this;
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  cudaEvent_t get() const { return event_; }
  void record(cudaStream_t stream) { COHORT_CUDA_TRY(cudaEventRecord(event_, stream)); }
  void synchronize() const { COHORT_CUDA_TRY(cudaEventSynchronize(event_)); }
  /// Milliseconds from start to this event (both recorded and complete).
  float elapsed_ms_since(const Event& start) const {
    float ms = 0.f;
    COHORT_CUDA_TRY(cudaEventElapsedTime(&ms, start.event_, event_));
    return ms;
  }

 private:
  cudaEvent_t event_ = nullptr;
};

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::size_t size, cudaStream_t stream) : size_(size), stream_(stream) {
    if (size_ > 0) COHORT_CUDA_TRY(cudaMallocAsync(reinterpret_cast<void**>(&data_), bytes(), stream_));
  }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        stream_(other.stream_) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      stream_ = other.stream_;
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::size_t bytes() const { return size_ * sizeof(T); }

  void copy_from_host(const T* host, std::size_t count, cudaStream_t stream, std::size_t offset = 0) {
    if (count == 0) return;
    COHORT_CUDA_TRY(cudaMemcpyAsync(data_ + offset, host, count * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
  void copy_to_host(T* host, std::size_t count, cudaStream_t stream, std::size_t offset = 0) const {
    if (count == 0) return;
    COHORT_CUDA_TRY(cudaMemcpyAsync(host, data_ + offset, count * sizeof(T), cudaMemcpyDeviceToHost, stream));
  }
  DeviceBuffer clone(cudaStream_t stream) const {
    DeviceBuffer copy(size_, stream);
    if (size_ > 0)
      COHORT_CUDA_TRY(cudaMemcpyAsync(copy.data_, data_, bytes(), cudaMemcpyDeviceToDevice, stream));
    return copy;
  }

 private:
  void release() noexcept {
    if (data_) COHORT_CUDA_LOG(cudaFreeAsync(data_, stream_));
    data_ = nullptr;
    size_ = 0;
  }
  T* data_ = nullptr;
  std::size_t size_ = 0;
  cudaStream_t stream_ = nullptr;
};

template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t size) : size_(size) {
    if (size_ > 0) COHORT_CUDA_TRY(cudaMallocHost(reinterpret_cast<void**>(&data_), size_ * sizeof(T)));
  }
  ~PinnedBuffer() {
    if (data_) COHORT_CUDA_LOG(cudaFreeHost(data_));
  }
  PinnedBuffer(PinnedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

class CapturedGraph {
 public:
  CapturedGraph() = default;
  ~CapturedGraph() { reset(); }
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;

  /// Captures what work() queues on stream (nothing runs) and instantiates it. work must
  /// not wait for the stream, allocate, or read back.
  template <typename Work>
  void capture(cudaStream_t stream, Work&& work) {
    reset();
    COHORT_CUDA_TRY(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    cudaGraph_t graph = nullptr;
    try {
      work();
    } catch (...) {
      if (cudaStreamEndCapture(stream, &graph) == cudaSuccess && graph) cudaGraphDestroy(graph);
      (void)cudaGetLastError();  // the invalidated capture's error, not a later launch's
      throw;
    }
    COHORT_CUDA_TRY(cudaStreamEndCapture(stream, &graph));
    const cudaError_t status = cudaGraphInstantiate(&exec_, graph, 0);
    COHORT_CUDA_LOG(cudaGraphDestroy(graph));
    COHORT_CUDA_TRY(status);
  }
  bool ready() const { return exec_ != nullptr; }
  void launch(cudaStream_t stream) { COHORT_CUDA_TRY(cudaGraphLaunch(exec_, stream)); }
  void reset() {
    if (exec_) COHORT_CUDA_LOG(cudaGraphExecDestroy(exec_));
    exec_ = nullptr;
  }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

class CublasHandle {
 public:
  explicit CublasHandle(cudaStream_t stream) {
    COHORT_CUBLAS_TRY(cublasCreate(&handle_));
    COHORT_CUBLAS_TRY(cublasSetStream(handle_, stream));
  }
  ~CublasHandle() {
    if (handle_) cublasDestroy(handle_);
  }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

class CusparseHandle {
 public:
  explicit CusparseHandle(cudaStream_t stream) {
    COHORT_CUSPARSE_TRY(cusparseCreate(&handle_));
    COHORT_CUSPARSE_TRY(cusparseSetStream(handle_, stream));
  }
  ~CusparseHandle() {
    if (handle_) cusparseDestroy(handle_);
  }
  CusparseHandle(const CusparseHandle&) = delete;
  CusparseHandle& operator=(const CusparseHandle&) = delete;
  cusparseHandle_t get() const { return handle_; }

 private:
  cusparseHandle_t handle_ = nullptr;
};

class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    COHORT_CUDA_TRY(cudaGetDevice(&previous_));
    COHORT_CUDA_TRY(cudaSetDevice(device));
  }
  ~DeviceScope() { COHORT_CUDA_LOG(cudaSetDevice(previous_)); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

/// Bytes of device memory free right now on the current device.
std::size_t free_device_memory();

/// Ceil-division for grid sizes.
template <typename T>
constexpr T ceil_div(T a, T b) {
  return (a + b - 1) / b;
}

}  // namespace cohort::cuda
