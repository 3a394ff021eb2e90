// test_segment.cpp: kernels/segment.cu's CUDA k-means steps (cuda::make_segment_steps)
// on the emulator against the CPU steps (segment::make_cpu_steps), through the shared
// drivers run_lloyd, kmeanspp_init and kmeans_parallel_init: the same labels, iteration
// counts, draws and empty-cluster re-seeding, inertia within 1e-6 relative; and the
// steps themselves (label counts, cluster sums, row distances).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "host/cpu/segment_cpu.hpp"
#include "kernels/segment.hpp"
#include "tests/segment_blobs.hpp"

namespace {

namespace segment = cohort::segment;

using cohort::testing::Blobs;
using cohort::testing::make_blobs;
using cohort::testing::random_matrix;

// Initial centroids near (not on) each blob's first row.
std::vector<float> near_blob_starts(const Blobs& b) {
  std::vector<float> init(static_cast<std::size_t>(b.k) * b.d);
  for (int j = 0; j < b.k; ++j)
    for (std::size_t e = 0; e < b.d; ++e)
      init[j * b.d + e] = b.x[b.first_of[j] * b.d + e] + 0.03f * b.x[((b.first_of[j] + 1) % b.n) * b.d + e];
  return init;
}

void normalise_rows(std::vector<float>& x, std::size_t d) {
  for (std::size_t i = 0; i < x.size() / d; ++i) {
    double norm2 = 0.0;
    for (std::size_t e = 0; e < d; ++e) norm2 += double(x[i * d + e]) * x[i * d + e];
    const double norm = std::sqrt(norm2);
    for (std::size_t e = 0; e < d; ++e) x[i * d + e] = static_cast<float>(x[i * d + e] / norm);
  }
}

void expect_same_lloyd(const std::vector<float>& x, std::size_t n, std::size_t d, const std::vector<float>& init, int k,
                       bool spherical) {
  segment::LloydSettings settings;
  settings.spherical = spherical;
  auto cpu = segment::make_cpu_steps(x.data(), n, d);
  auto gpu = cohort::cuda::make_segment_steps(x.data(), n, d);
  const auto want = segment::run_lloyd(*cpu, init, k, settings);
  const auto got = segment::run_lloyd(*gpu, init, k, settings);
  ASSERT_EQ(got.labels, want.labels);
  EXPECT_EQ(got.iterations, want.iterations);
  EXPECT_EQ(got.converged, want.converged);
  EXPECT_NEAR(got.inertia, want.inertia, 1e-6 * want.inertia);
  ASSERT_EQ(got.inertia_history.size(), want.inertia_history.size());
  for (std::size_t t = 0; t < want.inertia_history.size(); ++t)
    EXPECT_NEAR(got.inertia_history[t], want.inertia_history[t], 1e-6 * want.inertia_history[t]) << "E-step " << t;
  ASSERT_EQ(got.centroids.size(), want.centroids.size());
  for (std::size_t e = 0; e < want.centroids.size(); ++e)
    EXPECT_NEAR(got.centroids[e], want.centroids[e], 1e-5 * (1.0 + std::abs(want.centroids[e]))) << e;
}

// k below kFusedAssignMinK (64): GEMM + assign_kernel; from it the fused E-step.
TEST(EmulatedSegment, LloydMatchesCpuFromTheSameCentroids) {
  struct Case {
    std::size_t n, d;
    int k;
    std::uint64_t seed;
  };
  for (const Case c : {Case{1500, 7, 5, 21}, Case{2100, 9, 70, 22}}) {
    SCOPED_TRACE("n=" + std::to_string(c.n) + " d=" + std::to_string(c.d) + " k=" + std::to_string(c.k) +
                 " seed=" + std::to_string(c.seed));
    const Blobs b = make_blobs(c.n, c.d, c.k, 0.5, c.seed);
    expect_same_lloyd(b.x, b.n, b.d, near_blob_starts(b), b.k, false);
  }
}

TEST(EmulatedSegment, SphericalLloydMatchesCpu) {
  for (const int k : {6, 64}) {
    const std::uint64_t seed = 23 + k;
    SCOPED_TRACE("k=" + std::to_string(k) + " seed=" + std::to_string(seed));
    Blobs b = make_blobs(64 * 30, 12, k, 0.5, seed);
    normalise_rows(b.x, b.d);
    std::vector<float> init = near_blob_starts(b);
    normalise_rows(init, b.d);
    expect_same_lloyd(b.x, b.n, b.d, init, k, true);
  }
}

TEST(EmulatedSegment, EmptyClusterIsReseededAsOnTheCpu) {
  const std::uint64_t seed = 11;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  const Blobs b = make_blobs(600, 4, 3, 0.5, seed);
  const std::vector<float> init = cohort::testing::starts_with_an_empty_cluster(b);
  expect_same_lloyd(b.x, b.n, b.d, init, 3, false);
  // and the re-seeded centroid found the third blob: three clusters, none empty
  auto gpu = cohort::cuda::make_segment_steps(b.x.data(), b.n, b.d);
  const auto got = segment::run_lloyd(*gpu, init, 3, {});
  std::vector<int> sizes(3, 0);
  for (auto label : got.labels) ++sizes.at(label);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(sizes[c], 200) << "cluster " << c;
}

TEST(EmulatedSegment, KMeansPlusPlusDrawsTheCpuRows) {
  for (const std::uint64_t seed : {31u, 32u}) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    const std::size_t n = 700, d = 5;
    const auto x = random_matrix(n, d, seed);
    auto cpu = segment::make_cpu_steps(x.data(), n, d);
    auto gpu = cohort::cuda::make_segment_steps(x.data(), n, d);
    EXPECT_EQ(segment::kmeanspp_init(*gpu, 12, seed), segment::kmeanspp_init(*cpu, 12, seed));
    EXPECT_EQ(segment::kmeanspp_init(*gpu, 7, seed, 123), segment::kmeanspp_init(*cpu, 7, seed, 123));
  }
}

TEST(EmulatedSegment, ParallelInitDrawsTheCpuRows) {
  // Blobs: k-means|| rounds, the oversampling and the host reduction; and the fallback
  // to k-means++ on few distinct rows.
  const Blobs b = make_blobs(3000, 6, 10, 1.0, 41);
  auto cpu = segment::make_cpu_steps(b.x.data(), b.n, b.d);
  auto gpu = cohort::cuda::make_segment_steps(b.x.data(), b.n, b.d);
  for (const std::uint64_t seed : {5u, 6u}) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    EXPECT_EQ(segment::kmeans_parallel_init(*gpu, 10, seed), segment::kmeans_parallel_init(*cpu, 10, seed));
  }
  std::vector<float> few;
  for (int i = 0; i < 30; ++i) few.push_back(static_cast<float>(i % 3));
  auto cpu_few = segment::make_cpu_steps(few.data(), 30, 1);
  auto gpu_few = cohort::cuda::make_segment_steps(few.data(), 30, 1);
  EXPECT_EQ(segment::kmeans_parallel_init(*gpu_few, 30, 9), segment::kmeans_parallel_init(*cpu_few, 30, 9));
}

// One k-means|| round step by step: potentials, oversampled rows, nearest counts.
TEST(EmulatedSegment, ParallelRoundStepsMatchCpu) {
  const std::size_t n = 3000, d = 8;
  const auto x = random_matrix(n, d, 91);
  auto cpu = segment::make_cpu_steps(x.data(), n, d);
  auto gpu = cohort::cuda::make_segment_steps(x.data(), n, d);
  const double start_cpu = cpu->pp_start(x.data() + 17 * d), start_gpu = gpu->pp_start(x.data() + 17 * d);
  EXPECT_NEAR(start_gpu, start_cpu, 1e-6 * start_cpu);
  std::vector<std::int64_t> drawn_cpu, drawn_gpu;
  cpu->pp_oversample(40.0 / start_cpu, 1234, drawn_cpu);
  gpu->pp_oversample(40.0 / start_cpu, 1234, drawn_gpu);
  ASSERT_EQ(drawn_gpu, drawn_cpu);
  ASSERT_GT(drawn_cpu.size(), 20u);
  std::vector<float> rows(drawn_cpu.size() * d), gpu_rows(rows.size());
  cpu->copy_rows(drawn_cpu, rows.data());
  gpu->copy_rows(drawn_gpu, gpu_rows.data());
  ASSERT_EQ(gpu_rows, rows);
  const int m = static_cast<int>(drawn_cpu.size());
  const double potential_cpu = cpu->pp_add(rows.data(), m, 1), potential_gpu = gpu->pp_add(rows.data(), m, 1);
  EXPECT_NEAR(potential_gpu, potential_cpu, 1e-6 * potential_cpu);
  std::vector<std::int64_t> counts_cpu, counts_gpu;
  cpu->pp_nearest_counts(m + 1, counts_cpu);
  gpu->pp_nearest_counts(m + 1, counts_gpu);
  EXPECT_EQ(counts_gpu, counts_cpu);
}

// The Lloyd steps after one E-step: labels, row distances (bitwise: the shared exact
// distance), label counts and cluster sums (double, different grouping: 1e-12).
TEST(EmulatedSegment, AssignCountsSumsAndDistancesMatchCpu) {
  for (const int k : {9, 80}) {
    SCOPED_TRACE("k=" + std::to_string(k));
    const std::size_t n = 2500, d = 6;
    const auto x = random_matrix(n, d, 50 + k);
    const std::vector<float> centroids(x.begin() + 100 * d, x.begin() + (100 + k) * d);
    auto cpu = segment::make_cpu_steps(x.data(), n, d);
    auto gpu = cohort::cuda::make_segment_steps(x.data(), n, d);
    double inertia_cpu = 0, inertia_gpu = 0;
    EXPECT_EQ(gpu->assign(centroids.data(), k, false, &inertia_gpu), cpu->assign(centroids.data(), k, false, &inertia_cpu));
    EXPECT_NEAR(inertia_gpu, inertia_cpu, 1e-9 * inertia_cpu);
    std::vector<std::int32_t> labels_cpu, labels_gpu;
    cpu->labels(labels_cpu);
    gpu->labels(labels_gpu);
    ASSERT_EQ(labels_gpu, labels_cpu);
    std::vector<double> distance_cpu, distance_gpu;
    cpu->row_distances(distance_cpu);
    gpu->row_distances(distance_gpu);
    EXPECT_EQ(distance_gpu, distance_cpu);
    std::vector<double> sums_cpu, sums_gpu;
    std::vector<std::int64_t> counts_cpu, counts_gpu;
    cpu->cluster_sums(k, sums_cpu, counts_cpu);
    gpu->cluster_sums(k, sums_gpu, counts_gpu);
    EXPECT_EQ(counts_gpu, counts_cpu);
    ASSERT_EQ(sums_gpu.size(), sums_cpu.size());
    for (std::size_t e = 0; e < sums_cpu.size(); ++e)
      EXPECT_NEAR(sums_gpu[e], sums_cpu[e], 1e-12 * (1.0 + std::abs(sums_cpu[e]))) << e;
    // A second E-step from shifted centroids counts the changed labels alike.
    std::vector<float> moved(centroids);
    for (auto& v : moved) v *= 0.9f;
    EXPECT_EQ(gpu->assign(moved.data(), k, false, &inertia_gpu), cpu->assign(moved.data(), k, false, &inertia_cpu));
  }
}

}  // namespace
