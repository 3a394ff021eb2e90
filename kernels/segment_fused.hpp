/*
 * segment_fused.hpp: launcher of the fused k-means E-step (kernels/segment_fused.cu),
 * used by the CUDA k-means steps (kernels/segment.cu). Device pointers, stream last.
 */
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace cohort::cuda {

/// nearest[i] = the centroid with the smallest expanded_distance(x_norm2[i], c_norm2[j],
/// x_i . c_j) over j < k, ties to the smaller j (nearest_centroid's rule), for the n rows
/// of x (n x d, row-major) against centroids (k x d, row-major).
void nearest_centroids(const float* d_x, const float* d_x_norm2, std::size_t n, std::size_t d,
                       const float* d_centroids, const float* d_c_norm2, int k, std::int32_t* d_nearest,
                       cudaStream_t stream);

}  // namespace cohort::cuda
