/*
 * dictionary.cu: group_strings_cuda (see kernels/dictionary.hpp).
 *   1. hash_strings_kernel: hash[i] = string_hash(row i) & mask, index[i] = i
 *   2. cub::DeviceRadixSort::SortPairs by hash (stable: equal hashes keep row order, so
 *      a run's head is its first row)
 *   3. run_heads_kernel marks where a new hash starts; cub::DeviceScan::InclusiveSum
 *      turns the marks into group numbers + 1
 *   4. group_firsts_kernel: each group's first row and hash, from its head
 *   5. assign_groups_kernel: group[row] for every row, and each row compared byte for
 *      byte with its group's first row (a difference is a hash collision)
 * The hash and the comparison are kernels/dictionary_element.hpp, which the host
 * dictionary uses too. Memory on the device: the column's bytes, 8 bytes of offset and
 * about 40 more per row.
 */
#include "kernels/dictionary.hpp"

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>

#include "cohort/error.hpp"
#include "host/cuda/runtime.hpp"
#include "kernels/launch.cuh"
#include "kernels/dictionary_element.hpp"

namespace cohort::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(std::size_t n) {
  return static_cast<unsigned>(std::min<std::size_t>(ceil_div<std::size_t>(n, kThreads), 65535));
}

__global__ void hash_strings_kernel(const char* bytes, const std::size_t* offsets, std::size_t n, std::uint64_t mask,
                                    std::uint64_t* hash, std::uint32_t* index) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    hash[i] = string_hash(bytes + offsets[i], offsets[i + 1] - offsets[i]) & mask;
    index[i] = static_cast<std::uint32_t>(i);
  }
}

__global__ void run_heads_kernel(const std::uint64_t* sorted_hash, std::size_t n, std::uint32_t* head) {
  for (std::size_t p = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; p < n; p += std::size_t(gridDim.x) * blockDim.x)
    head[p] = (p == 0 || sorted_hash[p] != sorted_hash[p - 1]) ? 1u : 0u;
}

// group_plus1[p]: the inclusive sum of the heads, so the group of sorted position p + 1.
__global__ void group_firsts_kernel(const std::uint32_t* head, const std::uint32_t* group_plus1,
                                    const std::uint32_t* sorted_index, const std::uint64_t* sorted_hash, std::size_t n,
                                    std::uint32_t* first, std::uint64_t* group_hash) {
  for (std::size_t p = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; p < n; p += std::size_t(gridDim.x) * blockDim.x)
    if (head[p]) {
      const std::uint32_t g = group_plus1[p] - 1;
      first[g] = sorted_index[p];
      group_hash[g] = sorted_hash[p];
    }
}

__global__ void assign_groups_kernel(const char* bytes, const std::size_t* offsets, const std::uint32_t* sorted_index,
                                     const std::uint32_t* group_plus1, const std::uint32_t* first, std::size_t n,
                                     std::uint32_t* group, unsigned* collision) {
  for (std::size_t p = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; p < n; p += std::size_t(gridDim.x) * blockDim.x) {
    const std::uint32_t row = sorted_index[p], g = group_plus1[p] - 1, head = first[g];
    group[row] = g;
    if (row != head && !same_string(bytes + offsets[row], offsets[row + 1] - offsets[row], bytes + offsets[head],
                                    offsets[head + 1] - offsets[head]))
      atomicOr(collision, 1u);
  }
}

}  // namespace

StringGroups group_strings_cuda(const char* bytes, const std::size_t* offsets, std::size_t n, std::uint64_t hash_mask) {
  StringGroups out;
  if (n == 0) return out;
  COHORT_EXPECTS(n < (std::size_t(1) << 31), "group_strings_cuda: at most 2^31 - 1 rows");
  Stream stream;
  cudaStream_t s = stream.get();
  const std::size_t byte_count = offsets[n];
  DeviceBuffer<char> d_bytes(std::max<std::size_t>(byte_count, 1), s);
  if (byte_count > 0) d_bytes.copy_from_host(bytes, byte_count, s);
  DeviceBuffer<std::size_t> d_offsets(n + 1, s);
  d_offsets.copy_from_host(offsets, n + 1, s);
  DeviceBuffer<std::uint64_t> d_hash(n, s), d_sorted_hash(n, s), d_group_hash(n, s);
  DeviceBuffer<std::uint32_t> d_index(n, s), d_sorted_index(n, s), d_head(n, s), d_group_plus1(n, s), d_first(n, s),
      d_group(n, s);
  DeviceBuffer<unsigned> d_collision(1, s);
  COHORT_CUDA_TRY(cudaMemsetAsync(d_collision.data(), 0, sizeof(unsigned), s));
  const int count = static_cast<int>(n);
  std::size_t sort_bytes = 0, scan_bytes = 0;
  COHORT_CUDA_TRY(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, d_hash.data(), d_sorted_hash.data(),
                                                  d_index.data(), d_sorted_index.data(), count, 0, 64, s));
  COHORT_CUDA_TRY(cub::DeviceScan::InclusiveSum(nullptr, scan_bytes, d_head.data(), d_group_plus1.data(), count, s));
  DeviceBuffer<char> d_temp(std::max(sort_bytes, scan_bytes), s);

  COHORT_LAUNCH(hash_strings_kernel, grid_for(n), kThreads, 0, s)(d_bytes.data(), d_offsets.data(), n, hash_mask,
      d_hash.data(), d_index.data());
  COHORT_CHECK_LAUNCH(s);
  COHORT_CUDA_TRY(cub::DeviceRadixSort::SortPairs(d_temp.data(), sort_bytes, d_hash.data(), d_sorted_hash.data(),
                                                  d_index.data(), d_sorted_index.data(), count, 0, 64, s));
  COHORT_LAUNCH(run_heads_kernel, grid_for(n), kThreads, 0, s)(d_sorted_hash.data(), n, d_head.data());
  COHORT_CHECK_LAUNCH(s);
  COHORT_CUDA_TRY(cub::DeviceScan::InclusiveSum(d_temp.data(), scan_bytes, d_head.data(), d_group_plus1.data(), count, s));
  COHORT_LAUNCH(group_firsts_kernel, grid_for(n), kThreads, 0, s)(d_head.data(), d_group_plus1.data(),
      d_sorted_index.data(), d_sorted_hash.data(), n, d_first.data(), d_group_hash.data());
  COHORT_CHECK_LAUNCH(s);
  COHORT_LAUNCH(assign_groups_kernel, grid_for(n), kThreads, 0, s)(d_bytes.data(), d_offsets.data(),
      d_sorted_index.data(), d_group_plus1.data(), d_first.data(), n, d_group.data(), d_collision.data());
  COHORT_CHECK_LAUNCH(s);

  std::uint32_t groups = 0;
  unsigned collision = 0;
  d_group_plus1.copy_to_host(&groups, 1, s, n - 1);
  d_collision.copy_to_host(&collision, 1, s);
  out.group.resize(n);
  d_group.copy_to_host(out.group.data(), n, s);
  stream.synchronize();
  out.collision = collision != 0;
  out.first.resize(groups);
  out.hash.resize(groups);
  d_first.copy_to_host(out.first.data(), groups, s);
  d_group_hash.copy_to_host(out.hash.data(), groups, s);
  stream.synchronize();
  return out;
}

}  // namespace cohort::cuda
