// test_segment_fused.cpp: kernels/segment_fused.cu's nearest_centroids on the emulator
// against segment::nearest_centroid over the same dots (an FMA chain in dimension
// order, as tile::fp32_products computes them), ties and infinities included.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/segment_element.hpp"
#include "kernels/segment_fused.hpp"

namespace {

using cohort::segment::nearest_centroid;
using cohort::segment::squared_norm;

std::vector<float> uniform(std::size_t count, unsigned seed, float low = -1.0f, float high = 1.0f) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> distribution(low, high);
  std::vector<float> values(count);
  for (auto& v : values) v = distribution(generator);
  return values;
}

std::vector<std::int32_t> reference(const std::vector<float>& x, const std::vector<float>& x_norm2, std::size_t n,
                                    std::size_t d, const std::vector<float>& c, const std::vector<float>& c_norm2,
                                    int k) {
  std::vector<std::int32_t> nearest(n);
  std::vector<float> dots(static_cast<std::size_t>(k));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < dots.size(); ++j) {
      float dot = 0.0f;
      for (std::size_t e = 0; e < d; ++e) dot = std::fma(x[i * d + e], c[j * d + e], dot);
      dots[j] = dot;
    }
    float distance;
    nearest[i] = nearest_centroid(x_norm2[i], dots.data(), 1, c_norm2.data(), k, &distance);
  }
  return nearest;
}

// Runs the kernel on rows x (n x d) and centroids c (k x d) and compares every label.
void expect_reference_labels(const std::string& name, std::size_t n, std::size_t d, int k, const std::vector<float>& x,
                             const std::vector<float>& c) {
  SCOPED_TRACE(name + ": n = " + std::to_string(n) + ", d = " + std::to_string(d) + ", k = " + std::to_string(k));
  std::vector<float> x_norm2(n), c_norm2(static_cast<std::size_t>(k));
  for (std::size_t i = 0; i < n; ++i) x_norm2[i] = squared_norm(x.data() + i * d, d);
  for (std::size_t j = 0; j < c_norm2.size(); ++j) c_norm2[j] = squared_norm(c.data() + j * d, d);
  constexpr std::int32_t kUntouched = -7;
  std::vector<std::int32_t> labels(n + 8, kUntouched);  // the kernel must not write past n
  cohort::cuda::nearest_centroids(x.data(), x_norm2.data(), n, d, c.data(), c_norm2.data(), k, labels.data(), nullptr);
  const auto want = reference(x, x_norm2, n, d, c, c_norm2, k);
  std::size_t wrong = 0;
  std::string examples;
  for (std::size_t i = 0; i < n; ++i)
    if (labels[i] != want[i] && ++wrong <= 5)
      examples +=
          " row " + std::to_string(i) + ": " + std::to_string(labels[i]) + " != " + std::to_string(want[i]) + ";";
  EXPECT_EQ(wrong, 0u) << examples;
  for (std::size_t i = n; i < labels.size(); ++i) EXPECT_EQ(labels[i], kUntouched) << "written past n at " << i;
}

struct Shape {
  std::size_t n, d;
  int k;
};

TEST(SegmentFusedEmulation, RandomRowsMatchNearestCentroid) {
  // Partial row tiles, centroid tiles and dimension steps around the 128 and 32 sizes.
  for (const Shape s : {Shape{1, 1, 1}, Shape{127, 1, 257}, Shape{128, 5, 129}, Shape{129, 33, 128},
                        Shape{257, 32, 127}, Shape{129, 65, 257}, Shape{257, 130, 129}, Shape{200, 8, 100}}) {
    const unsigned seed = static_cast<unsigned>(s.n * 131 + s.d * 17 + static_cast<std::size_t>(s.k));
    const auto x = uniform(s.n * s.d, seed), c = uniform(static_cast<std::size_t>(s.k) * s.d, seed + 1);
    expect_reference_labels("random, seeds " + std::to_string(seed) + "/" + std::to_string(seed + 1), s.n, s.d, s.k, x,
                            c);
  }
}

TEST(SegmentFusedEmulation, TiesGoToTheSmallerCentroid) {
  // Centroids repeat within and across lanes and tiles; a third of the rows equal one.
  const std::size_t n = 400, d = 6;
  const int k = 300;
  const auto base = uniform(20 * d, 5);
  std::vector<float> c(static_cast<std::size_t>(k) * d), x(n * d);
  for (std::size_t j = 0; j < static_cast<std::size_t>(k); ++j)
    for (std::size_t e = 0; e < d; ++e) c[j * d + e] = base[((j * 7) % 20) * d + e];
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t e = 0; e < d; ++e)
      x[i * d + e] = base[(i % 20) * d + e] + (i % 3 == 0 ? 0.0f : 0.01f * static_cast<float>(i % 5));
  expect_reference_labels("duplicated centroids, seed 5", n, d, k, x, c);

  const std::vector<float> same(200 * 4, 0.5f);
  expect_reference_labels("identical centroids, seed 9", 300, 4, 200, uniform(300 * 4, 9), same);
}

TEST(SegmentFusedEmulation, InfiniteDistancesMatchNearestCentroid) {
  {  // overflowing norms and dots (NaN before the clamp)
    const std::size_t n = 130, d = 4;
    const int k = 150;
    auto x = uniform(n * d, 11, -1e19f, 1e19f);
    const auto c = uniform(static_cast<std::size_t>(k) * d, 12, -1e19f, 1e19f);
    for (std::size_t e = 0; e < 4 * d; ++e) x[e] = 3e38f;
    expect_reference_labels("overflow, seeds 11/12", n, d, k, x, c);
  }
  {  // rows 0-9 at +inf from every centroid, the others finite from the last 50
    const std::size_t n = 140, d = 3;
    const int k = 200;
    auto x = uniform(n * d, 21);
    std::vector<float> c(static_cast<std::size_t>(k) * d, -3e38f);
    for (std::size_t e = 0; e < 10 * d; ++e) x[e] = 3e38f;
    for (std::size_t j = 150; j < 200; ++j)
      for (std::size_t e = 0; e < d; ++e) c[j * d + e] = 0.1f * static_cast<float>(j % 7);
    expect_reference_labels("infinite rows, seed 21", n, d, k, x, c);
  }
}

}  // namespace
