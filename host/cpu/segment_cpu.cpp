/*
 * segment_cpu.cpp: the CPU k-means backend and the drivers shared by both backends.
 *
 * CpuSteps: OpenMP threads take blocks of rows; for each, x.c is one single-threaded
 * cblas_sgemm (k x d) * (d x block) and the argmin per row takes the shared nearest_step
 * over the centroids, for the whole block at once (faiss's layout: OpenMP outside,
 * sequential BLAS inside, which avoids OpenBLAS's own pthreads fighting the OpenMP team
 * for the cores). Cluster sums are
 * accumulated in double over fixed row chunks (independent of the thread count) and
 * the chunks are added in order, so the result is the same with any --threads.
 * kmeanspp_init and run_lloyd only talk to KMeansSteps (see segment_cpu.hpp).
 */
#include "host/cpu/segment_cpu.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "host/cpu/vector_clones.hpp"
#include "kernels/segment_element.hpp"

namespace cohort::segment {
namespace {

// Rows per GEMM block: each thread multiplies its own blocks with single-threaded BLAS.
constexpr std::size_t kBlockRows = 512;

// Below this many rows a loop runs on one thread: a parallel region costs more.
constexpr std::int64_t kParallelRows = 16384;

// Fixed row chunks for deterministic sums: at most 64, at least 8192 rows each.
std::size_t chunk_rows(std::size_t n) { return std::max<std::size_t>(8192, (n + 63) / 64); }

class CpuSteps final : public KMeansSteps {
 public:
  CpuSteps(const float* x, std::size_t n, std::size_t d, std::vector<double> weights)
      : x_(x), n_(n), d_(d), x_norm2_(n), weight_(std::move(weights)) {
#pragma omp parallel for schedule(static) if (static_cast<std::int64_t>(n_) > kParallelRows)
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(n_); ++i) x_norm2_[i] = squared_norm(x_ + i * d_, d_);
  }
  std::size_t rows() const override { return n_; }
  std::size_t dims() const override { return d_; }

  double pp_start(const float* center) override {
    closest_.assign(n_, 0.0f);
    nearest_.assign(n_, 0);
    trial_t_ = 1;
    return trial(center, 1, true)[0];
  }

  void pp_sample(const std::vector<double>& thresholds, std::vector<std::int64_t>& rows) override {
    cumulative_.resize(n_);
    double running = 0.0;
    for (std::size_t i = 0; i < n_; ++i) cumulative_[i] = running += weight(i) * closest_[i];
    rows.resize(thresholds.size());
    for (std::size_t t = 0; t < thresholds.size(); ++t) {
      const auto at = std::lower_bound(cumulative_.begin(), cumulative_.end(), thresholds[t]);
      rows[t] = std::min<std::int64_t>(at - cumulative_.begin(), static_cast<std::int64_t>(n_) - 1);
    }
  }

  void pp_trial(const float* candidates, int t, std::vector<double>& potentials) override {
    trial_t_ = t;
    potentials = trial(candidates, t, false);
  }

  void pp_accept(int j) override {
#pragma omp parallel for schedule(static) if (static_cast<std::int64_t>(n_) > kParallelRows)
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(n_); ++i) closest_[i] = trial_dots_[i * trial_t_ + j];
  }

  void copy_row(std::int64_t row, float* out) override { std::copy_n(x_ + row * d_, d_, out); }

  void pp_oversample(double scale, std::uint64_t seed, std::vector<std::int64_t>& rows) override {
    std::vector<std::uint8_t> keep(n_);
#pragma omp parallel for schedule(static) if (static_cast<std::int64_t>(n_) > kParallelRows)
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(n_); ++i)
      keep[i] = oversample_keep(seed, static_cast<std::uint64_t>(i), scale, closest_[i]);
    rows.clear();
    for (std::size_t i = 0; i < n_; ++i)
      if (keep[i]) rows.push_back(static_cast<std::int64_t>(i));
  }

  double pp_add(const float* candidates, int m, std::int32_t first_index) override {
    // rows per block: the block's dots (m x block) stay within 8 MiB
    const std::size_t block = std::max<std::size_t>(64, std::min<std::size_t>(kBlockRows, (std::size_t(1) << 21) / m));
    std::vector<double> partial((n_ + block - 1) / block, 0.0);
    nearest_centres(candidates, m, block, [&](std::size_t b, std::size_t i, float distance, std::int32_t nearest) {
      closer_candidate(distance, nearest, first_index, closest_[i], nearest_[i]);
      partial[b] += weight(i) * closest_[i];
    });
    return std::accumulate(partial.begin(), partial.end(), 0.0);  // block order
  }

  void pp_nearest_counts(int m, std::vector<std::int64_t>& counts) override {
    counts.assign(m, 0);
    for (const std::int32_t j : nearest_) ++counts[j];
  }

  std::size_t assign(const float* centroids, int k, bool spherical, double* inertia) override {
    const bool first = labels_.empty();
    labels_.resize(n_, 0);
    distance_.resize(n_);
    const std::size_t blocks = (n_ + kBlockRows - 1) / kBlockRows;
    std::vector<std::size_t> block_changed(blocks, 0);
    std::vector<double> block_inertia(blocks, 0.0);
    nearest_centres(centroids, k, kBlockRows, [&](std::size_t b, std::size_t i, float, std::int32_t label) {
      if (first || label != labels_[i]) ++block_changed[b];
      labels_[i] = label;
      distance_[i] = exact_squared_distance(x_ + i * d_, centroids + label * d_, d_);
      block_inertia[b] += inertia_term(distance_[i], spherical);
    });
    *inertia = std::accumulate(block_inertia.begin(), block_inertia.end(), 0.0);  // block order
    return first ? n_ : std::accumulate(block_changed.begin(), block_changed.end(), std::size_t(0));
  }

  void cluster_sums(int k, std::vector<double>& sums, std::vector<std::int64_t>& counts) override {
    const std::size_t chunk = chunk_rows(n_);
    const std::size_t chunks = (n_ + chunk - 1) / chunk;
    std::vector<double> partial(chunks * k * d_, 0.0);
    std::vector<std::int64_t> partial_counts(chunks * k, 0);
#pragma omp parallel for schedule(dynamic, 1) if (chunks > 1)
    for (std::int64_t c = 0; c < static_cast<std::int64_t>(chunks); ++c) {
      double* s = partial.data() + c * k * d_;
      std::int64_t* counted = partial_counts.data() + c * k;
      const std::size_t end = std::min(n_, (c + 1) * chunk);
      for (std::size_t i = c * chunk; i < end; ++i) {
        const std::int32_t label = labels_[i];
        ++counted[label];
        double* target = s + label * d_;
        const float* row = x_ + i * d_;
        for (std::size_t j = 0; j < d_; ++j) target[j] += row[j];
      }
    }
    sums.assign(static_cast<std::size_t>(k) * d_, 0.0);
    counts.assign(k, 0);
    for (std::size_t c = 0; c < chunks; ++c) {  // fixed order
      const double* s = partial.data() + c * k * d_;
      for (std::size_t e = 0; e < sums.size(); ++e) sums[e] += s[e];
      for (int j = 0; j < k; ++j) counts[j] += partial_counts[c * k + j];
    }
  }

  void row_distances(std::vector<double>& out) override { out = distance_; }
  void labels(std::vector<std::int32_t>& out) override { out = labels_; }

 private:
  // Blocks of `block` rows in parallel: dots_t (m x rows) = C X_block^T by one
  // single-threaded sgemm into a per-thread buffer, centroid-major so the argmin steps
  // through the centres for all the block's rows at once (contiguous, vectorised); then
  // row_done(block index, row, distance, nearest centre) for each row of the block.
  template <typename RowDone>
  void nearest_centres(const float* centres, int m, std::size_t block, RowDone&& row_done) {
    std::vector<float> c_norm2(m);
    for (int j = 0; j < m; ++j) c_norm2[j] = squared_norm(centres + j * d_, d_);
    const std::int64_t blocks = static_cast<std::int64_t>((n_ + block - 1) / block);
#pragma omp parallel if (blocks > 1 && static_cast<std::int64_t>(n_) > kParallelRows)
    {
      std::vector<float> dots_t(block * m), best_value(block);
      std::vector<std::int32_t> best(block);
#pragma omp for schedule(dynamic, 4)
      for (std::int64_t b = 0; b < blocks; ++b) {
        const std::size_t first_row = b * block, rows = std::min(block, n_ - first_row);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, static_cast<int>(rows), static_cast<int>(d_), 1.0f,
                    centres, static_cast<int>(d_), x_ + first_row * d_, static_cast<int>(d_), 0.0f, dots_t.data(),
                    static_cast<int>(rows));
        nearest_in_block(x_norm2_.data() + first_row, dots_t.data(), c_norm2.data(), m, rows, best_value.data(),
                         best.data());
        for (std::size_t r = 0; r < rows; ++r) row_done(static_cast<std::size_t>(b), first_row + r, best_value[r], best[r]);
      }
    }
  }

  // out (n x t) = x * points^T, blocked.
  // One parallel pass: trial_dots_ (n x t) = min(closest, distance to each point) (or
  // the distance itself when start), and each point's potential, summed per block and
  // then over blocks in order (the same value with any thread count).
  std::vector<double> trial(const float* points, int t, bool start) {
    trial_dots_.resize(n_ * t);
    std::vector<float> p_norm2(t);
    for (int j = 0; j < t; ++j) p_norm2[j] = squared_norm(points + j * d_, d_);
    const std::int64_t blocks = static_cast<std::int64_t>((n_ + kBlockRows - 1) / kBlockRows);
    std::vector<double> partial(blocks * t, 0.0);
#pragma omp parallel for schedule(dynamic, 4) if (blocks > 1 && static_cast<std::int64_t>(n_) > kParallelRows)
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::size_t first = b * kBlockRows, rows = std::min(kBlockRows, n_ - first);
      float* out = trial_dots_.data() + first * t;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), t, static_cast<int>(d_), 1.0f,
                  x_ + first * d_, static_cast<int>(d_), points, static_cast<int>(d_), 0.0f, out, t);
      double* sums = partial.data() + b * t;
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t i = first + r;
        for (int j = 0; j < t; ++j) {
          float value = expanded_distance(x_norm2_[i], p_norm2[j], out[r * t + j]);
          if (start)
            closest_[i] = value;
          else
            value = std::min(closest_[i], value);
          out[r * t + j] = value;
          sums[j] += weight(i) * value;
        }
      }
    }
    std::vector<double> potentials(t, 0.0);
    for (std::int64_t b = 0; b < blocks; ++b)
      for (int j = 0; j < t; ++j) potentials[j] += partial[b * t + j];
    return potentials;
  }

  double weight(std::size_t i) const { return weight_.empty() ? 1.0 : weight_[i]; }

  SingleThreadedBlas blas_;
  const float* x_;
  std::size_t n_, d_;
  std::vector<float> x_norm2_, closest_, trial_dots_;
  std::vector<double> weight_, cumulative_, distance_;
  std::vector<std::int32_t> labels_, nearest_;
  int trial_t_ = 0;
};

double centroid_shift(const std::vector<float>& a, const std::vector<float>& b) {
  double shift = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double diff = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    shift += diff * diff;
  }
  return shift;
}

}  // namespace

// Cloned (vector_clones.hpp): only the AVX blends vectorise the select.
COHORT_VECTOR_CLONES
void nearest_in_block(const float* __restrict x_norm2, const float* __restrict dots_t,
                      const float* __restrict c_norm2, int k, std::size_t rows, float* __restrict best_value,
                      std::int32_t* __restrict best) {
  for (std::size_t r = 0; r < rows; ++r) {
    best_value[r] = expanded_distance(x_norm2[r], c_norm2[0], dots_t[r]);
    best[r] = 0;
  }
  for (int j = 1; j < k; ++j) {
    const float* column = dots_t + static_cast<std::size_t>(j) * rows;
    for (std::size_t r = 0; r < rows; ++r)
      nearest_step(expanded_distance(x_norm2[r], c_norm2[j], column[r]), j, best_value[r], best[r]);
  }
}

SingleThreadedBlas::SingleThreadedBlas() : previous_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
SingleThreadedBlas::~SingleThreadedBlas() { openblas_set_num_threads(previous_); }

std::unique_ptr<KMeansSteps> make_cpu_steps(const float* x, std::size_t n, std::size_t d,
                                            std::vector<double> weights) {
  return std::make_unique<CpuSteps>(x, n, d, std::move(weights));
}

std::vector<float> kmeanspp_init(KMeansSteps& steps, int k, std::uint64_t seed, std::int64_t first_row) {
  const std::size_t n = steps.rows(), d = steps.dims();
  SplitMix64 rng(seed);
  std::vector<float> centers(static_cast<std::size_t>(k) * d);
  const auto uniform_row = static_cast<std::int64_t>(rng.below(n));
  steps.copy_row(first_row >= 0 ? first_row : uniform_row, centers.data());
  double potential = steps.pp_start(centers.data());
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  std::vector<double> thresholds(trials), potentials;
  std::vector<std::int64_t> candidates;
  std::vector<float> candidate_rows(static_cast<std::size_t>(trials) * d);
  for (int c = 1; c < k; ++c) {
    for (auto& threshold : thresholds) threshold = rng.uniform() * potential;
    steps.pp_sample(thresholds, candidates);
    for (int t = 0; t < trials; ++t) steps.copy_row(candidates[t], candidate_rows.data() + t * d);
    steps.pp_trial(candidate_rows.data(), trials, potentials);
    const int best = static_cast<int>(std::min_element(potentials.begin(), potentials.end()) - potentials.begin());
    potential = potentials[best];
    steps.pp_accept(best);
    std::copy_n(candidate_rows.data() + best * d, d, centers.data() + c * d);
  }
  return centers;
}

std::vector<float> kmeans_parallel_init(KMeansSteps& steps, int k, std::uint64_t seed) {
  const std::size_t n = steps.rows(), d = steps.dims();
  SplitMix64 rng(seed);
  std::vector<float> candidates(d);
  steps.copy_row(static_cast<std::int64_t>(rng.below(n)), candidates.data());
  double potential = steps.pp_start(candidates.data());
  const double oversampling = 2.0 * k;
  std::vector<std::int64_t> drawn;
  for (int round = 0; round < kParallelRounds && potential > 0.0; ++round) {
    steps.pp_oversample(oversampling / potential, rng.next(), drawn);
    if (drawn.empty()) continue;
    const std::size_t first = candidates.size() / d;
    candidates.resize((first + drawn.size()) * d);
    steps.copy_rows(drawn, candidates.data() + first * d);
    potential = steps.pp_add(candidates.data() + first * d, static_cast<int>(drawn.size()),
                             static_cast<std::int32_t>(first));
  }
  const std::size_t m = candidates.size() / d;
  if (m < static_cast<std::size_t>(k)) return kmeanspp_init(steps, k, seed);
  std::vector<std::int64_t> counts;
  steps.pp_nearest_counts(static_cast<int>(m), counts);
  // The first centre drawn by weight too (a candidate standing for one row is rarely it).
  std::vector<double> cumulative(m);
  std::partial_sum(counts.begin(), counts.end(), cumulative.begin());
  const double threshold = rng.uniform() * cumulative.back();
  const auto first = std::upper_bound(cumulative.begin(), cumulative.end(), threshold) - cumulative.begin();
  auto weighted = make_cpu_steps(candidates.data(), m, d, std::vector<double>(counts.begin(), counts.end()));
  return kmeanspp_init(*weighted, k, rng.next(), std::min<std::int64_t>(first, static_cast<std::int64_t>(m) - 1));
}

void finish_centroids(const std::vector<double>& sums, const std::vector<std::int64_t>& counts,
                      const std::vector<double>& row_distance, KMeansSteps& steps, int k, bool spherical,
                      std::vector<float>& centroids) {
  const std::size_t d = steps.dims();
  std::vector<int> empty;
  for (int j = 0; j < k; ++j) {
    if (counts[j] == 0) {
      empty.push_back(j);
      continue;
    }
    const double* s = sums.data() + j * d;
    double scale = 1.0 / static_cast<double>(counts[j]);
    if (spherical) {
      double norm2 = 0.0;
      for (std::size_t e = 0; e < d; ++e) norm2 += s[e] * s[e];
      if (norm2 == 0.0) continue;  // members cancel out: keep the old direction
      scale = 1.0 / std::sqrt(norm2);
    }
    for (std::size_t e = 0; e < d; ++e) centroids[j * d + e] = static_cast<float>(s[e] * scale);
  }
  if (empty.empty()) return;
  // The farthest rows from their centroids, ties to the smaller row.
  std::vector<std::int64_t> order(row_distance.size());
  std::iota(order.begin(), order.end(), 0);
  const std::size_t take = std::min(empty.size(), order.size());
  std::partial_sort(order.begin(), order.begin() + take, order.end(), [&](std::int64_t a, std::int64_t b) {
    return row_distance[a] > row_distance[b] || (row_distance[a] == row_distance[b] && a < b);
  });
  for (std::size_t e = 0; e < take; ++e) steps.copy_row(order[e], centroids.data() + empty[e] * d);
}

KMeansResult run_lloyd(KMeansSteps& steps, std::vector<float> centroids, int k, const LloydSettings& settings) {
  KMeansResult result;
  result.k = k;
  result.d = steps.dims();
  std::vector<double> sums, distances;
  std::vector<std::int64_t> counts;
  std::vector<float> previous;
  bool stop_after_assign = false;
  for (int iteration = 0;; ++iteration) {
    double inertia = 0.0;
    const std::size_t changed = steps.assign(centroids.data(), k, settings.spherical, &inertia);
    result.inertia_history.push_back(inertia);
    result.inertia = inertia;
    if (stop_after_assign || (iteration > 0 && changed == 0)) {
      result.converged = true;
      break;
    }
    if (result.iterations >= settings.max_iter) break;
    steps.cluster_sums(k, sums, counts);
    if (std::find(counts.begin(), counts.end(), 0) != counts.end()) steps.row_distances(distances);
    previous = centroids;
    finish_centroids(sums, counts, distances, steps, k, settings.spherical, centroids);
    ++result.iterations;
    if (centroid_shift(previous, centroids) <= settings.tol_abs) stop_after_assign = true;
  }
  steps.labels(result.labels);
  result.centroids = std::move(centroids);
  return result;
}

}  // namespace cohort::segment
