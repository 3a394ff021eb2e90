/*
 * similar.cu: the device side of `similar`: row normalization, candidate filtering of a
 * GEMM score tile (warp-aggregated appends), pruning by per-query radix select of the
 * k-th best fast score, exact re-scoring with the shared cosine_score, and gathering.
 * The GEMM itself is cuBLAS (host/cuda/similar_cuda.cpp); the arithmetic that decides
 * results (normalize_row, cosine_score) is kernels/similar_element.hpp, shared with the
 * CPU backend, so both return the same bits.
 */
#include "kernels/similar.hpp"

#include <cuda_bf16.h>

#include <algorithm>

#include "host/cuda/runtime.hpp"
#include "kernels/launch.cuh"
#include "kernels/similar_element.hpp"

namespace cohort::cuda {
namespace {

constexpr unsigned kBlock = 256;

__device__ inline unsigned ordered_key(float f) {
  const unsigned u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ inline float key_to_float(unsigned key) {
  return __uint_as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
}

__global__ void normalize_rows_kernel(float* rows, std::size_t count, std::size_t d) {
  for (std::size_t r = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; r < count;
       r += std::size_t(gridDim.x) * blockDim.x)
    normalize_row(rows + r * d, d, rows + r * d);
}

__global__ void to_bf16_kernel(const float* in, std::size_t count, std::uint16_t* out) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < count;
       i += std::size_t(gridDim.x) * blockDim.x)
    out[i] = __bfloat16_as_ushort(__float2bfloat16_rn(in[i]));
}

__global__ void reset_kernel(float* threshold, unsigned* count, int* overflow, std::size_t queries) {
  for (std::size_t q = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; q < queries;
       q += std::size_t(gridDim.x) * blockDim.x) {
    threshold[q] = -3.0f;
    count[q] = 0;
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) *overflow = 0;
}

// grid.y = query; blocks stride over the tile's columns. Whole warps iterate together,
// so one atomicAdd per warp reserves the slots of all its passing lanes.
__global__ void filter_kernel(const float* scores, std::size_t m, std::int64_t first_row, const std::int64_t* excluded,
                              const std::uint8_t* allowed, CandidateBuffers buffers) {
  const std::size_t q = blockIdx.y;
  const float threshold = buffers.threshold[q];
  const std::int64_t skip = excluded ? excluded[q] : -1;
  const float* row = scores + q * m;
  const unsigned lane = threadIdx.x & 31u;
  for (std::size_t base = blockIdx.x * std::size_t(blockDim.x); base < m; base += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t j = base + threadIdx.x;
    bool pass = false;
    float f = 0.0f;
    std::int64_t index = 0;
    if (j < m) {
      f = row[j];
      index = first_row + static_cast<std::int64_t>(j);
      pass = f >= threshold && index != skip && (!allowed || allowed[index]);
    }
    const unsigned mask = __ballot_sync(0xffffffffu, pass);
    if (mask == 0) continue;
    const int leader = __ffs(mask) - 1;
    unsigned first = 0;
    if (lane == static_cast<unsigned>(leader)) first = atomicAdd(buffers.count + q, static_cast<unsigned>(__popc(mask)));
    first = __shfl_sync(0xffffffffu, first, leader);
    if (!pass) continue;
    const std::size_t slot = first + static_cast<unsigned>(__popc(mask & ((1u << lane) - 1u)));
    if (slot < buffers.cap) {
      const std::size_t at = q * buffers.cap + slot;
      buffers.fast[at] = f;
      buffers.index[at] = index;
      buffers.exact[at] = __int_as_float(0x7fc00000);  // NaN: not re-scored yet
    } else {
      atomicExch(buffers.overflow, 1);
    }
  }
}

// One block per query. Radix select (4 passes of 8 bits over order-preserving keys)
// finds the k-th largest fast score; then an in-place compaction keeps the rows within
// the window (writes never pass the chunk being read: kept <= read).
__global__ void prune_kernel(CandidateBuffers buffers, std::size_t k, float window, std::size_t trigger) {
  __shared__ unsigned histogram[256];
  __shared__ unsigned prefix, remaining, kept;
  const std::size_t q = blockIdx.x;
  const std::size_t n = min(static_cast<std::size_t>(buffers.count[q]), buffers.cap);
  if (n <= k || n <= trigger) return;
  float* fast = buffers.fast + q * buffers.cap;
  std::int64_t* index = buffers.index + q * buffers.cap;
  float* exact = buffers.exact + q * buffers.cap;
  if (threadIdx.x == 0) {
    prefix = 0;
    remaining = static_cast<unsigned>(k);  // rank of the wanted key counted from the top
  }
  unsigned high_mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (unsigned b = threadIdx.x; b < 256; b += blockDim.x) histogram[b] = 0;
    __syncthreads();
    const unsigned want = prefix;
    for (std::size_t i = threadIdx.x; i < n; i += blockDim.x) {
      const unsigned key = ordered_key(fast[i]);
      if ((key & high_mask) == want) atomicAdd(&histogram[(key >> shift) & 0xffu], 1u);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      unsigned above = 0;
      for (int b = 255; b >= 0; --b) {
        if (above + histogram[b] >= remaining) {
          prefix |= static_cast<unsigned>(b) << shift;
          remaining -= above;
          break;
        }
        above += histogram[b];
      }
    }
    high_mask |= 0xffu << shift;
    __syncthreads();
  }
  const float threshold = fmaxf(buffers.threshold[q], key_to_float(prefix) - window);
  if (threadIdx.x == 0) kept = 0;
  __syncthreads();
  for (std::size_t base = 0; base < n; base += blockDim.x) {
    const std::size_t i = base + threadIdx.x;
    const bool keep = i < n && fast[i] >= threshold;
    float f = 0.0f, e = 0.0f;
    std::int64_t row = 0;
    if (keep) {
      f = fast[i];
      e = exact[i];
      row = index[i];
    }
    __syncthreads();
    if (keep) {
      const unsigned slot = atomicAdd(&kept, 1u);
      fast[slot] = f;
      exact[slot] = e;
      index[slot] = row;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    buffers.count[q] = kept;
    buffers.threshold[q] = threshold;
  }
}

__global__ void rescore_kernel(CandidateBuffers buffers, const float* queries_hat, const float* chunk_hat,
                               std::int64_t first_row, std::size_t rows, std::size_t d) {
  const std::size_t q = blockIdx.y;
  const std::size_t n = min(static_cast<std::size_t>(buffers.count[q]), buffers.cap);
  for (std::size_t s = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; s < n; s += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t at = q * buffers.cap + s;
    const std::int64_t local = buffers.index[at] - first_row;
    if (local < 0 || local >= static_cast<std::int64_t>(rows) || !isnan(buffers.exact[at])) continue;
    buffers.exact[at] = cosine_score(queries_hat + q * d, chunk_hat + static_cast<std::size_t>(local) * d, d);
  }
}

__global__ void gather_kernel(CandidateBuffers buffers, const std::uint64_t* offsets, float* fast, std::int64_t* index,
                              float* exact) {
  const std::size_t q = blockIdx.y;
  const std::size_t n = min(static_cast<std::size_t>(buffers.count[q]), buffers.cap);
  for (std::size_t s = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; s < n; s += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t from = q * buffers.cap + s, to = offsets[q] + s;
    fast[to] = buffers.fast[from];
    index[to] = buffers.index[from];
    exact[to] = buffers.exact[from];
  }
}

unsigned grid_for(std::size_t n, std::size_t max_blocks) {
  return static_cast<unsigned>(std::max<std::size_t>(1, std::min(ceil_div<std::size_t>(n, kBlock), max_blocks)));
}

}  // namespace

void normalize_rows(float* d_rows, std::size_t rows, std::size_t d, cudaStream_t stream) {
  if (rows == 0) return;
  COHORT_LAUNCH(normalize_rows_kernel, grid_for(rows, 65535), kBlock, 0, stream)(d_rows, rows, d);
  COHORT_CHECK_LAUNCH(stream);
}

void to_bf16(const float* d_in, std::size_t count, std::uint16_t* d_out, cudaStream_t stream) {
  if (count == 0) return;
  COHORT_LAUNCH(to_bf16_kernel, grid_for(count, 65535), kBlock, 0, stream)(d_in, count, d_out);
  COHORT_CHECK_LAUNCH(stream);
}

void reset_candidates(const CandidateBuffers& buffers, std::size_t queries, cudaStream_t stream) {
  COHORT_LAUNCH(reset_kernel, grid_for(queries, 1024), kBlock, 0, stream)(buffers.threshold, buffers.count,
                                                                          buffers.overflow, queries);
  COHORT_CHECK_LAUNCH(stream);
}

void filter_candidates(const float* d_scores, std::size_t queries, std::size_t m, std::int64_t first_row,
                       const std::int64_t* d_excluded, const std::uint8_t* d_allowed, const CandidateBuffers& buffers,
                       cudaStream_t stream) {
  if (queries == 0 || m == 0) return;
  const dim3 grid(grid_for(m, 64), static_cast<unsigned>(queries));
  COHORT_LAUNCH(filter_kernel, grid, kBlock, 0, stream)(d_scores, m, first_row, d_excluded, d_allowed, buffers);
  COHORT_CHECK_LAUNCH(stream);
}

void prune_candidates(const CandidateBuffers& buffers, std::size_t queries, std::size_t k, float window,
                      std::size_t trigger, cudaStream_t stream) {
  if (queries == 0) return;
  COHORT_LAUNCH(prune_kernel, static_cast<unsigned>(queries), kBlock, 0, stream)(buffers, k, window, trigger);
  COHORT_CHECK_LAUNCH(stream);
}

void rescore_candidates(const CandidateBuffers& buffers, std::size_t queries, const float* d_queries_hat,
                        const float* d_chunk_hat, std::int64_t first_row, std::size_t rows, std::size_t d,
                        cudaStream_t stream) {
  if (queries == 0 || rows == 0) return;
  const dim3 grid(grid_for(buffers.cap, 16), static_cast<unsigned>(queries));
  COHORT_LAUNCH(rescore_kernel, grid, kBlock, 0, stream)(buffers, d_queries_hat, d_chunk_hat, first_row, rows, d);
  COHORT_CHECK_LAUNCH(stream);
}

void gather_candidates(const CandidateBuffers& buffers, std::size_t queries, const std::uint64_t* d_offsets,
                       float* d_fast, std::int64_t* d_index, float* d_exact, cudaStream_t stream) {
  if (queries == 0) return;
  const dim3 grid(grid_for(buffers.cap, 16), static_cast<unsigned>(queries));
  COHORT_LAUNCH(gather_kernel, grid, kBlock, 0, stream)(buffers, d_offsets, d_fast, d_index, d_exact);
  COHORT_CHECK_LAUNCH(stream);
}

}  // namespace cohort::cuda
