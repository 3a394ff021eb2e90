/*
 * segment_blobs.hpp: seeded test data for k-means (tests/test_segment.cpp and the
 * emulated CUDA steps in tests/emulation/test_segment.cpp): a splitmix64 generator with
 * Box-Muller normals, the same numbers on every platform, and well-separated blobs.
 */
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cohort::testing {

struct Rng {  // splitmix64 + Box-Muller: the same numbers on every platform
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() {
    const double u = uniform() + 1e-300, v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
};

struct Blobs {
  std::size_t n = 0, d = 0;
  int k = 0;
  std::vector<float> x;
  std::vector<std::int32_t> truth;
  std::vector<std::size_t> first_of;  // a row of each blob
};

// k blobs with centres uniform in a box (half-width 10, grown when crowded), at least
// 10 * spread apart: a 5-sigma margin on each side of every boundary.
inline Blobs make_blobs(std::size_t n, std::size_t d, int k, double spread, std::uint64_t seed) {
  Rng rng{seed};
  std::vector<double> centers;
  double half_width = 10.0;
  for (int attempt = 1; static_cast<int>(centers.size() / d) < k; ++attempt) {
    if (attempt % 1000 == 0) half_width *= 1.5;
    std::vector<double> c(d);
    for (auto& v : c) v = half_width * (2.0 * rng.uniform() - 1.0);
    bool far = true;
    for (std::size_t j = 0; j < centers.size() / d && far; ++j) {
      double dist2 = 0.0;
      for (std::size_t e = 0; e < d; ++e) dist2 += (c[e] - centers[j * d + e]) * (c[e] - centers[j * d + e]);
      far = std::sqrt(dist2) > 10.0 * spread;
    }
    if (far) centers.insert(centers.end(), c.begin(), c.end());
  }
  Blobs b;
  b.n = n, b.d = d, b.k = k;
  b.x.resize(n * d);
  b.truth.resize(n);
  b.first_of.assign(k, n);
  for (std::size_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % k);
    b.truth[i] = c;
    if (b.first_of[c] == n) b.first_of[c] = i;
    for (std::size_t e = 0; e < d; ++e) b.x[i * d + e] = static_cast<float>(centers[c * d + e] + spread * rng.normal());
  }
  return b;
}

/// n x d standard normal values.
inline std::vector<float> random_matrix(std::size_t n, std::size_t d, std::uint64_t seed) {
  Rng rng{seed};
  std::vector<float> x(n * d);
  for (auto& v : x) v = static_cast<float>(rng.normal());
  return x;
}

/// Initial centroids for 3 blobs in 4 dimensions: blob 0's and blob 1's first rows, and
/// between them one far from every row, so its cluster is empty after the first E-step.
inline std::vector<float> starts_with_an_empty_cluster(const Blobs& b) {
  std::vector<float> init(3 * 4);
  for (std::size_t e = 0; e < 4; ++e) {
    init[0 * 4 + e] = b.x[b.first_of[0] * 4 + e];
    init[1 * 4 + e] = 1000.0f;
    init[2 * 4 + e] = b.x[b.first_of[1] * 4 + e];
  }
  return init;
}

}  // namespace cohort::testing
