/*
 * segment_element.hpp: per-element k-means math shared by the CPU backend (g++) and the
 * CUDA kernels (nvcc), so the CPU tests run the exact code the GPU runs.
 *
 *   expanded_distance  ||x||^2 + ||c||^2 - 2 x.c from a GEMM dot product, clamped at 0
 *                      (rounding can make it slightly negative for x close to c).
 *   nearest_centroid   argmin over one point's k dots, ties to the smaller index.
 *   exact_squared_distance  sum (x - c)^2 accumulated in double: the inertia and the
 *                      "farthest row" of empty-cluster re-seeding use it.
 *   squared_norm / inverse_norm  for the cosine (spherical) normalisation.
 *   row_uniform / oversample_keep / closer_candidate  k-means|| initialisation.
 */
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "cohort/config.hpp"

namespace cohort::segment {

COHORT_HD inline float expanded_distance(float x_norm2, float c_norm2, float dot) {
  const float value = x_norm2 + c_norm2 - 2.0f * dot;
  return value > 0.0f ? value : 0.0f;
}

/// One step of the argmin over centroids, taken in increasing j: strict, so an equal
/// distance keeps the smaller index. nearest_centroid runs it along one row; the CPU
/// backend runs it for a block of rows at once, centroid by centroid (which vectorises
/// across the rows), with the same result.
COHORT_HD inline void nearest_step(float value, std::int32_t j, float& best_value, std::int32_t& best) {
  const bool closer = value < best_value;
  best_value = closer ? value : best_value;
  best = closer ? j : best;
}

/// dots[j * stride] = x.c_j, c_norm2[j] = ||c_j||^2; returns the nearest j (ties -> smaller
/// j) and its clamped expanded distance in *best_distance.
COHORT_HD inline std::int32_t nearest_centroid(float x_norm2, const float* dots, std::size_t stride,
                                               const float* c_norm2, int k, float* best_distance) {
  std::int32_t best = 0;
  float best_value = expanded_distance(x_norm2, c_norm2[0], dots[0]);
  for (int j = 1; j < k; ++j) nearest_step(expanded_distance(x_norm2, c_norm2[j], dots[j * stride]), j, best_value, best);
  *best_distance = best_value;
  return best;
}

COHORT_HD inline float squared_norm(const float* x, std::size_t d) {
  float sum = 0.0f;
  for (std::size_t i = 0; i < d; ++i) sum += x[i] * x[i];
  return sum;
}

COHORT_HD inline double exact_squared_distance(const float* x, const float* c, std::size_t d) {
  double sum = 0.0;
  for (std::size_t i = 0; i < d; ++i) {
    const double diff = static_cast<double>(x[i]) - static_cast<double>(c[i]);
    sum += diff * diff;
  }
  return sum;
}

/// 1 / ||v|| computed in double from the row; 0 for a zero row (the caller rejects those).
COHORT_HD inline double inverse_norm(const float* v, std::size_t d) {
  double sum = 0.0;
  for (std::size_t i = 0; i < d; ++i) sum += static_cast<double>(v[i]) * static_cast<double>(v[i]);
  return sum > 0.0 ? 1.0 / sqrt(sum) : 0.0;
}

/// k-means|| oversampling: row i joins the candidates with probability
/// min(1, scale * closest_i), scale = oversampling / potential, decided by a uniform in
/// [0, 1) hashed from (seed, row) with splitmix64, so every backend and thread count
/// picks the same rows for the same distances.
COHORT_HD inline double row_uniform(std::uint64_t seed, std::uint64_t row) {
  std::uint64_t z = seed + (row + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

COHORT_HD inline bool oversample_keep(std::uint64_t seed, std::uint64_t row, double scale, float closest) {
  return row_uniform(seed, row) < scale * static_cast<double>(closest);
}

/// k-means|| candidate update: the nearest of a batch of new candidates (first index
/// first_index) replaces the row's closest one only when strictly nearer, so ties keep
/// the earlier candidate.
COHORT_HD inline void closer_candidate(float batch_distance, std::int32_t batch_index, std::int32_t first_index,
                                       float& closest, std::int32_t& nearest) {
  if (batch_distance < closest) {
    closest = batch_distance;
    nearest = first_index + batch_index;
  }
}

/// The per-row inertia term: squared distance, or for unit vectors the cosine distance
/// 1 - x.c = ||x - c||^2 / 2.
COHORT_HD inline double inertia_term(double squared_distance, bool spherical) {
  return spherical ? 0.5 * squared_distance : squared_distance;
}

}  // namespace cohort::segment
