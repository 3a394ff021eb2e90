/*
 * silhouette.cpp: the mean silhouette on the host.
 *
 * s(i) = (b - a) / max(a, b), a = mean distance to the other rows of i's cluster,
 * b = the smallest mean distance to another non-empty cluster; s = 0 when i is alone.
 *
 * Cosine (x unit rows): with S_C = sum of the unit rows of cluster C,
 *   mean_{y in C} (1 - x.y) = 1 - x.S_C / |C|, and for x's own cluster, leaving x out,
 *   a = (|C| - x.S_C) / (|C| - 1)   (x.x = 1).
 * One dgemm per block of rows gives x.S_C for every C: O(N k d), exact for any N.
 * Euclidean: pairwise distances by blocks (sgemm on mean-centred rows, a pair whose
 * expanded distance is small is recomputed exactly in double to avoid cancellation),
 * accumulated per (row, cluster): O(N^2 d) time, O(block * (block + k)) memory. Beyond
 * options.max_exact rows it runs on a uniform sample of that many rows (scikit-learn's
 * sample_size semantics), drawn from the seed.
 */
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "host/cpu/segment_cpu.hpp"
#include "kernels/segment_element.hpp"

namespace cohort::segment {
namespace {

double silhouette_value(double a, double b) {
  const double denominator = std::max(a, b);
  return denominator > 0.0 ? (b - a) / denominator : 0.0;
}

double silhouette_cosine(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels, int k) {
  std::vector<double> sums(static_cast<std::size_t>(k) * d, 0.0);
  std::vector<std::int64_t> counts(k, 0);
  for (std::size_t i = 0; i < n; ++i) {
    ++counts[labels[i]];
    for (std::size_t e = 0; e < d; ++e) sums[labels[i] * d + e] += x[i * d + e];
  }
  const std::size_t block = 4096;
  std::vector<double> rows(block * d), dots(block * k);
  double total = 0.0;
  for (std::size_t first = 0; first < n; first += block) {
    const std::size_t count = std::min(block, n - first);
    for (std::size_t e = 0; e < count * d; ++e) rows[e] = x[first * d + e];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(count), k, static_cast<int>(d), 1.0,
                rows.data(), static_cast<int>(d), sums.data(), static_cast<int>(d), 0.0, dots.data(), k);
    double block_total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : block_total) if (count * k > 65536)
    for (std::int64_t r = 0; r < static_cast<std::int64_t>(count); ++r) {
      const int own = labels[first + r];
      const double* dot = dots.data() + r * k;
      if (counts[own] < 2) continue;  // alone in its cluster: s = 0
      const double a = (static_cast<double>(counts[own]) - dot[own]) / static_cast<double>(counts[own] - 1);
      double b = std::numeric_limits<double>::infinity();
      for (int c = 0; c < k; ++c)
        if (c != own && counts[c] > 0) b = std::min(b, 1.0 - dot[c] / static_cast<double>(counts[c]));
      if (std::isinf(b)) continue;
      block_total += silhouette_value(a, b);
    }
    total += block_total;
  }
  return total / static_cast<double>(n);
}

double silhouette_euclidean(const float* x_in, std::size_t n, std::size_t d, const std::int32_t* labels, int k) {
  // Centre the rows: smaller norms, less cancellation in ||x||^2 + ||y||^2 - 2 x.y.
  std::vector<double> mean(d, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t e = 0; e < d; ++e) mean[e] += x_in[i * d + e];
  for (auto& m : mean) m /= static_cast<double>(n);
  std::vector<float> x(n * d);
  std::vector<float> norm2(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t e = 0; e < d; ++e) x[i * d + e] = static_cast<float>(x_in[i * d + e] - mean[e]);
    norm2[i] = squared_norm(x.data() + i * d, d);
  }
  std::vector<std::int64_t> counts(k, 0);
  for (std::size_t i = 0; i < n; ++i) ++counts[labels[i]];

  // Threads take blocks of rows; each multiplies its block by every column block with
  // single-threaded sgemm and accumulates per (row, cluster) distance sums.
  const std::size_t row_block = 256, col_block = 2048;
  const std::int64_t blocks = static_cast<std::int64_t>((n + row_block - 1) / row_block);
  SingleThreadedBlas blas;
  std::vector<double> block_totals(blocks, 0.0);
#pragma omp parallel if (n > 2048)
  {
    std::vector<float> dots(row_block * col_block);
    std::vector<double> per_cluster(row_block * k);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t block = 0; block < blocks; ++block) {
      const std::size_t r0 = block * row_block, rows = std::min(row_block, n - r0);
      std::fill(per_cluster.begin(), per_cluster.end(), 0.0);
      for (std::size_t c0 = 0; c0 < n; c0 += col_block) {
        const std::size_t cols = std::min(col_block, n - c0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), static_cast<int>(cols),
                    static_cast<int>(d), 1.0f, x.data() + r0 * d, static_cast<int>(d), x.data() + c0 * d,
                    static_cast<int>(d), 0.0f, dots.data(), static_cast<int>(cols));
        for (std::size_t r = 0; r < rows; ++r) {
          const std::size_t i = r0 + r;
          double* acc = per_cluster.data() + r * k;
          const float* dot = dots.data() + r * cols;
          for (std::size_t c = 0; c < cols; ++c) {
            const std::size_t j = c0 + c;
            if (j == i) continue;
            double dist2 = expanded_distance(norm2[i], norm2[j], dot[c]);
            if (dist2 < 1e-2f * (norm2[i] + norm2[j]))  // cancellation-prone: recompute exactly
              dist2 = exact_squared_distance(x.data() + i * d, x.data() + j * d, d);
            acc[labels[j]] += std::sqrt(dist2);
          }
        }
      }
      double sum = 0.0;
      for (std::size_t r = 0; r < rows; ++r) {
        const int own = labels[r0 + r];
        if (counts[own] < 2) continue;
        const double* acc = per_cluster.data() + r * k;
        const double a = acc[own] / static_cast<double>(counts[own] - 1);
        double b = std::numeric_limits<double>::infinity();
        for (int c = 0; c < k; ++c)
          if (c != own && counts[c] > 0) b = std::min(b, acc[c] / static_cast<double>(counts[c]));
        if (std::isinf(b)) continue;
        sum += silhouette_value(a, b);
      }
      block_totals[block] = sum;
    }
  }
  const double total = std::accumulate(block_totals.begin(), block_totals.end(), 0.0);
  return total / static_cast<double>(n);
}

}  // namespace

SilhouetteResult silhouette_cpu(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels, int k,
                                Metric metric, const SilhouetteOptions& options) {
  SilhouetteResult result;
  result.sample_size = n;
  if (k < 2 || n == 0) {
    result.score = std::numeric_limits<double>::quiet_NaN();
    return result;
  }
  if (metric == Metric::Cosine) {
    result.score = silhouette_cosine(x, n, d, labels, k);
    return result;
  }
  if (n <= options.max_exact) {
    result.score = silhouette_euclidean(x, n, d, labels, k);
    return result;
  }
  // Partial Fisher-Yates draw of max_exact rows, then sorted for locality.
  const std::size_t m = options.max_exact;
  std::vector<std::int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  SplitMix64 rng(options.seed ^ 0x5111u);
  for (std::size_t i = 0; i < m; ++i) std::swap(order[i], order[i + rng.below(n - i)]);
  std::sort(order.begin(), order.begin() + m);
  std::vector<float> sample(m * d);
  std::vector<std::int32_t> sample_labels(m);
  for (std::size_t i = 0; i < m; ++i) {
    std::copy_n(x + order[i] * d, d, sample.data() + i * d);
    sample_labels[i] = labels[order[i]];
  }
  result.score = silhouette_euclidean(sample.data(), m, d, sample_labels.data(), k);
  result.sample_size = m;
  result.sampled = true;
  return result;
}

}  // namespace cohort::segment
