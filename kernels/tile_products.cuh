/*
 * tile_products.cuh: the block-level product tiles that the fused kernels share
 * (similar_fused.cu: scores filtered in place; segment_fused.cu: nearest centroids).
 * A block of 256 threads computes the dot products of 128 rows of one row-major matrix
 * with 128 rows of another, over d dimensions staged through shared memory 32 at a
 * time, zero-padded past the ends.
 *
 * FP32 layout: thread (ty, tx) = (threadIdx.x / 16, threadIdx.x % 16) holds rows
 * ty * 8 + i of the first matrix and rows product_column(tx, j) of the second, i, j < 8.
 * Lanes 0-15 and 16-31 of a warp thus each share their first-matrix rows, which the
 * kernels' per-row reductions and appends rely on.
 */
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace cohort::cuda::tile {

constexpr int kRows = 128;    // rows of either matrix per block
constexpr int kThreads = 256;
constexpr int kStepK = 32;    // dimensions staged per step
constexpr int kFp32Ld = kRows + 4;  // FP32 tiles are staged dimension-major
static_assert(kFp32Ld % 4 == 0 && kFp32Ld % 32 == 4, "16-byte rows, and stage()'s conflict-free stores");
static_assert(kRows % 4 == 0 && kStepK % 8 == 0, "stage() gives a warp 4 rows x 8 dimensions");

/// Stages rows [first, first + kRows) x dimensions [k0, k0 + kStepK) of a row-major
/// rows x d matrix into `out` (row-major with row stride ld, or dimension-major with
/// Transposed), zeros outside. With `vectors`, d is a multiple of 16 bytes' worth of T
/// and the matrix 16-byte aligned, so whole 16-byte vectors are in or out.
template <typename T, bool Transposed>
__device__ void stage(const T* matrix, std::size_t rows, std::size_t d, std::size_t first, std::size_t k0,
                      bool vectors, T* out, int ld) {
  constexpr int kVector = 16 / static_cast<int>(sizeof(T));
  if (!Transposed && vectors) {
    constexpr int kPerRow = kStepK / kVector;
    for (int v = threadIdx.x; v < kRows * kPerRow; v += blockDim.x) {
      const int r = v / kPerRow, kk = (v % kPerRow) * kVector;
      const std::size_t row = first + static_cast<std::size_t>(r), dim = k0 + static_cast<std::size_t>(kk);
      uint4 value = make_uint4(0u, 0u, 0u, 0u);
      if (row < rows && dim < d) value = *reinterpret_cast<const uint4*>(matrix + row * d + dim);
      *reinterpret_cast<uint4*>(out + r * ld + kk) = value;
    }
    return;
  }
  for (int e = threadIdx.x; e < kRows * kStepK; e += blockDim.x) {
    // Transposed, a warp takes 4 rows x 8 dimensions: from global memory four 32-byte
    // runs, as many sectors as one 128-byte run; into the dimension-major tile, whose
    // stride is 4 words past a multiple of 32, 32 distinct banks (a warp along one row's
    // 32 dimensions would hit each bank 4 times).
    const int lane = e % 32, group = e / 32;
    const int r = Transposed ? group / (kStepK / 8) * 4 + lane / 8 : e / kStepK;
    const int kk = Transposed ? group % (kStepK / 8) * 8 + lane % 8 : e % kStepK;
    const std::size_t row = first + static_cast<std::size_t>(r), dim = k0 + static_cast<std::size_t>(kk);
    T value = static_cast<T>(0.0f);
    if (row < rows && dim < d) value = matrix[row * d + dim];
    if (Transposed)
      out[kk * ld + r] = value;
    else
      out[r * ld + kk] = value;
  }
}

/// The second matrix's row (within the tile) of a thread's column j: two runs of 4, so
/// each dimension step reads 4 float4s for 64 FMAs.
__device__ inline int product_column(int tx, int j) { return (j < 4 ? 0 : 64) + tx * 4 + (j & 3); }

/// acc[i][j] = sum over dimensions of a[a_first + ty*8 + i] * b[b_first + product_column(tx, j)]
/// as an FMA chain (any order is within the callers' error bounds). a_s and b_s are
/// kStepK * kFp32Ld floats of shared memory each, 16-byte aligned. Every thread of the
/// block must call it (it synchronizes).
__device__ inline void fp32_products(const float* a, std::size_t a_rows, std::size_t a_first, const float* b,
                                     std::size_t b_rows, std::size_t b_first, std::size_t d, float* a_s, float* b_s,
                                     float (&acc)[8][8]) {
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;
  for (std::size_t k0 = 0; k0 < d; k0 += kStepK) {
    stage<float, true>(a, a_rows, d, a_first, k0, false, a_s, kFp32Ld);
    stage<float, true>(b, b_rows, d, b_first, k0, false, b_s, kFp32Ld);
    __syncthreads();
    for (int kk = 0; kk < kStepK && k0 + static_cast<std::size_t>(kk) < d; ++kk) {
      const float4 a_lo = *reinterpret_cast<const float4*>(a_s + kk * kFp32Ld + ty * 8);
      const float4 a_hi = *reinterpret_cast<const float4*>(a_s + kk * kFp32Ld + ty * 8 + 4);
      const float av[8] = {a_lo.x, a_lo.y, a_lo.z, a_lo.w, a_hi.x, a_hi.y, a_hi.z, a_hi.w};
      const float4 b_lo = *reinterpret_cast<const float4*>(b_s + kk * kFp32Ld + product_column(tx, 0));
      const float4 b_hi = *reinterpret_cast<const float4*>(b_s + kk * kFp32Ld + product_column(tx, 4));
      const float bv[8] = {b_lo.x, b_lo.y, b_lo.z, b_lo.w, b_hi.x, b_hi.y, b_hi.z, b_hi.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
}

}  // namespace cohort::cuda::tile
