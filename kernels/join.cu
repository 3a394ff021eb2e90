/*
 * join.cu: the point-in-polygon join on the device. Thin grid-stride kernels around
 * join_point (kernels/join_element.hpp, the code the CPU backend runs), and a CUB
 * exclusive scan between the count and fill passes: count -> scan -> fill.
 * Built with --fmad=false so the crossing test rounds exactly as on the host.
 */
#include "kernels/join.hpp"

#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <cstdint>

#include "host/cuda/runtime.hpp"
#include "kernels/launch.cuh"

namespace cohort::cuda {
namespace {

constexpr unsigned kThreads = 256;

unsigned blocks_for(std::size_t n) {
  return static_cast<unsigned>(std::min<std::size_t>(ceil_div<std::size_t>(n, kThreads), 65535 * 8));
}

__global__ void join_count_kernel(JoinGridView grid, const double* __restrict__ x, const double* __restrict__ y,
                                  std::size_t n, bool first, std::uint64_t* __restrict__ counts) {
  const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i <= n; i += stride) {
    if (i == n) {
      counts[n] = 0;  // so the exclusive scan of n + 1 items ends with the total
      continue;
    }
    counts[i] = join_point(grid, x[i], y[i], first, [](std::uint32_t) {});
  }
}

__global__ void join_fill_kernel(JoinGridView grid, const double* __restrict__ x, const double* __restrict__ y,
                                 std::size_t n, bool first, const std::uint64_t* __restrict__ offsets,
                                 std::uint64_t base, std::uint64_t pair_base, std::uint64_t* __restrict__ point,
                                 std::uint32_t* __restrict__ feature) {
  const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += stride) {
    std::uint64_t out = offsets[i] - pair_base;
    if (offsets[i + 1] == offsets[i]) continue;  // no match: skip the edge tests
    join_point(grid, x[i], y[i], first, [&](std::uint32_t f) {
      point[out] = base + i;
      feature[out] = f;
      ++out;
    });
  }
}

}  // namespace

void join_count(const JoinGridView& grid, const double* d_x, const double* d_y, std::size_t n, bool first,
                std::uint64_t* d_counts, cudaStream_t stream) {
  COHORT_LAUNCH(join_count_kernel, blocks_for(n + 1), kThreads, 0, stream)(grid, d_x, d_y, n, first, d_counts);
  COHORT_CHECK_LAUNCH(stream);
}

std::size_t join_scan_temp_bytes(std::size_t n) {
  COHORT_EXPECTS(n < std::size_t(INT32_MAX), "join_scan: CUB counts items in int");
  std::size_t bytes = 0;
  COHORT_CUDA_TRY(cub::DeviceScan::ExclusiveSum(nullptr, bytes, static_cast<const std::uint64_t*>(nullptr),
                                                static_cast<std::uint64_t*>(nullptr), static_cast<int>(n + 1)));
  return bytes;
}

void join_scan(const std::uint64_t* d_counts, std::uint64_t* d_offsets, std::size_t n, void* d_temp,
               std::size_t temp_bytes, cudaStream_t stream) {
  COHORT_EXPECTS(n < std::size_t(INT32_MAX), "join_scan: CUB counts items in int");
  COHORT_CUDA_TRY(
      cub::DeviceScan::ExclusiveSum(d_temp, temp_bytes, d_counts, d_offsets, static_cast<int>(n + 1), stream));
}

void join_fill(const JoinGridView& grid, const double* d_x, const double* d_y, std::size_t n, bool first,
               const std::uint64_t* d_offsets, std::uint64_t base, std::uint64_t pair_base, std::uint64_t* d_point,
               std::uint32_t* d_feature, cudaStream_t stream) {
  if (n == 0) return;
  COHORT_LAUNCH(join_fill_kernel, blocks_for(n), kThreads, 0, stream)(grid, d_x, d_y, n, first, d_offsets, base,
                                                                      pair_base, d_point, d_feature);
  COHORT_CHECK_LAUNCH(stream);
}

}  // namespace cohort::cuda
