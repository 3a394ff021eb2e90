/*
 * segment_fused.cu: the k-means E-step's nearest centroid of every row with the dot
 * products kept in registers (kernels/tile_products.cuh), so no rows x k matrix of dots
 * goes through memory, which at large k costs more than the products themselves.
 *
 * Each block takes 128 rows and walks the centroids 128 at a time. Per row, a thread
 * turns its dots into the shared expanded_distance and keeps the smallest (distance,
 * centroid) pair over all tiles; at the end the 16 lanes holding the row combine theirs
 * by shuffles. Comparing (distance, index) pairs picks what
 * nearest_centroid's scan in index order picks: the smallest distance, ties to the
 * smaller index, in any order of combination.
 */
#include "kernels/segment_fused.hpp"

#include <climits>
#include <cmath>

#include "host/cuda/runtime.hpp"
#include "kernels/launch.cuh"
#include "kernels/segment_element.hpp"
#include "kernels/tile_products.cuh"

namespace cohort::cuda {
namespace {

__device__ inline void keep_nearer(float value, std::int32_t index, float& best_value, std::int32_t& best) {
  const bool nearer = value < best_value || (value == best_value && index < best);
  best_value = nearer ? value : best_value;
  best = nearer ? index : best;
}

__global__ void __launch_bounds__(tile::kThreads, 2)
    nearest_centroids_kernel(const float* x, const float* x_norm2, std::size_t n, std::size_t d,
                             const float* centroids, const float* c_norm2, int k, std::int32_t* nearest) {
  __shared__ __align__(16) float a_s[tile::kStepK * tile::kFp32Ld];
  __shared__ __align__(16) float b_s[tile::kStepK * tile::kFp32Ld];
  const std::size_t first = static_cast<std::size_t>(blockIdx.x) * tile::kRows;
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  float row_norm2[8], best_value[8];
  std::int32_t best[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const std::size_t row = first + static_cast<std::size_t>(ty * 8 + i);
    row_norm2[i] = row < n ? x_norm2[row] : 0.0f;
    best_value[i] = INFINITY;
    best[i] = INT_MAX;
  }
  for (int c0 = 0; c0 < k; c0 += tile::kRows) {
    float acc[8][8];
    tile::fp32_products(x, n, first, centroids, static_cast<std::size_t>(k), static_cast<std::size_t>(c0), d, a_s,
                        b_s, acc);
    float centre_norm2[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int c = c0 + tile::product_column(tx, j);
      centre_norm2[j] = c < k ? c_norm2[c] : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const int c = c0 + tile::product_column(tx, j);
        if (c < k)
          keep_nearer(segment::expanded_distance(row_norm2[i], centre_norm2[j], acc[i][j]), c, best_value[i], best[i]);
      }
  }
  // The 16 lanes of this half-warp hold the same rows (xor offsets below 16 stay in it).
#pragma unroll
  for (int i = 0; i < 8; ++i)
    for (int offset = 8; offset > 0; offset >>= 1)
      keep_nearer(__shfl_xor_sync(0xffffffffu, best_value[i], offset), __shfl_xor_sync(0xffffffffu, best[i], offset),
                  best_value[i], best[i]);
  if (tx != 0) return;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const std::size_t row = first + static_cast<std::size_t>(ty * 8 + i);
    if (row < n) nearest[row] = best[i];
  }
}

}  // namespace

void nearest_centroids(const float* d_x, const float* d_x_norm2, std::size_t n, std::size_t d,
                       const float* d_centroids, const float* d_c_norm2, int k, std::int32_t* d_nearest,
                       cudaStream_t stream) {
  if (n == 0 || k <= 0) return;
  COHORT_EXPECTS(k <= INT_MAX - tile::kRows, "nearest_centroids: too many centroids");
  const auto blocks = static_cast<unsigned>(ceil_div<std::size_t>(n, tile::kRows));
  COHORT_LAUNCH(nearest_centroids_kernel, blocks, tile::kThreads, 0, stream)(d_x, d_x_norm2, n, d, d_centroids,
                                                                             d_c_norm2, k, d_nearest);
  COHORT_CHECK_LAUNCH(stream);
}

}  // namespace cohort::cuda
