/* devices.cpp: device discovery through the CUDA runtime. */
#include "host/cuda/devices.hpp"

#include <cstdint>

#include "host/cuda/runtime.hpp"

namespace cohort::cuda {

std::vector<GpuInfo> list_devices() {
  std::vector<GpuInfo> devices;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" status
    return devices;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    GpuInfo info;
    info.index = i;
    info.name = prop.name;
    info.total_memory = prop.totalGlobalMem;
    info.major = prop.major;
    info.minor = prop.minor;
    info.multiprocessors = prop.multiProcessorCount;
    int previous = 0;
    if (cudaGetDevice(&previous) == cudaSuccess && cudaSetDevice(i) == cudaSuccess) {
      std::size_t free_bytes = 0, total_bytes = 0;
      if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) info.free_memory = free_bytes;
      cudaSetDevice(previous);
    }
    devices.push_back(info);
  }
  return devices;
}

int device_count() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) == cudaSuccess) return n;
    cudaGetLastError();  // clear the sticky "no device" status
    return 0;
  }();
  return count;
}

std::string unavailable_reason() {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
  }
  return count == 0 ? "the CUDA runtime reports 0 devices" : "";
}

namespace {
cudaMemPool_t current_pool() {
  int device = 0;
  COHORT_CUDA_TRY(cudaGetDevice(&device));
  cudaMemPool_t pool = nullptr;
  COHORT_CUDA_TRY(cudaDeviceGetDefaultMemPool(&pool, device));
  return pool;
}
}  // namespace

void keep_freed_device_memory() {
  std::uint64_t keep_all = UINT64_MAX;
  COHORT_CUDA_TRY(cudaMemPoolSetAttribute(current_pool(), cudaMemPoolAttrReleaseThreshold, &keep_all));
}

std::size_t pool_peak_bytes(bool reset) {
  const cudaMemPool_t pool = current_pool();
  std::uint64_t high = 0;
  COHORT_CUDA_TRY(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &high));
  if (reset) {
    std::uint64_t zero = 0;  // the only value this attribute may be set to
    COHORT_CUDA_TRY(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &zero));
  }
  return static_cast<std::size_t>(high);
}

std::size_t free_device_memory() {
  COHORT_CUDA_TRY(cudaMemPoolTrimTo(current_pool(), 0));  // what the pool keeps unused is free too
  std::size_t free_bytes = 0, total_bytes = 0;
  COHORT_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  return free_bytes;
}

}  // namespace cohort::cuda
