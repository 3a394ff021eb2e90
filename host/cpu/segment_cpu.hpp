/*
 * segment_cpu.hpp: the k-means driver and its backend steps (internal).
 *
 * KMeansSteps is what a backend provides over data it holds (x: n x d float32, on the
 * host or the device); the drivers below (k-means++ and Lloyd) are written once on top
 * of it, so the CPU and CUDA backends differ only in how a step is computed, as faiss's
 * Clustering runs on any Index.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "cohort/segment.hpp"

namespace cohort::segment {

class KMeansSteps {
 public:
  virtual ~KMeansSteps() = default;
  virtual std::size_t rows() const = 0;
  virtual std::size_t dims() const = 0;

  // ---- k-means++ (the "closest" array holds each row's squared distance to the chosen centres) ----
  /// closest = distance to this one centre; returns the potential (sum of closest).
  virtual double pp_start(const float* center) = 0;
  /// For each r (ascending not required) the first row whose cumulative closest sum
  /// reaches r (numpy searchsorted, side left), clipped to n - 1.
  virtual void pp_sample(const std::vector<double>& thresholds, std::vector<std::int64_t>& rows) = 0;
  /// For t candidate centres (t x d): potential sum_i min(closest_i, dist(i, cand)).
  virtual void pp_trial(const float* candidates, int t, std::vector<double>& potentials) = 0;
  /// closest = min(closest, dist to candidate j of the last pp_trial).
  virtual void pp_accept(int j) = 0;
  /// Copies row i of x to out (d floats).
  virtual void copy_row(std::int64_t row, float* out) = 0;
  /// Copies the given rows of x to out (rows.size() x d).
  virtual void copy_rows(const std::vector<std::int64_t>& rows, float* out) {
    for (std::size_t i = 0; i < rows.size(); ++i) copy_row(rows[i], out + i * dims());
  }

  // ---- k-means|| (after pp_start: closest as above, nearest = candidate 0 for every row) ----
  /// The rows that oversample_keep(seed, row, scale, closest) picks, ascending.
  virtual void pp_oversample(double scale, std::uint64_t seed, std::vector<std::int64_t>& rows) = 0;
  /// m new candidates (m x d), numbered from first_index: closest and nearest follow
  /// closer_candidate; returns the potential.
  virtual double pp_add(const float* candidates, int m, std::int32_t first_index) = 0;
  /// counts[j] = rows whose nearest candidate is j, for candidates 0..m-1.
  virtual void pp_nearest_counts(int m, std::vector<std::int64_t>& counts) = 0;

  // ---- Lloyd ----
  /// E-step against centroids (k x d): labels, per-row exact squared distance; returns the
  /// number of labels that changed since the previous assign (n the first time) and
  /// sets *inertia (sum of inertia_term).
  virtual std::size_t assign(const float* centroids, int k, bool spherical, double* inertia) = 0;
  /// Per-cluster sums of rows (k x d, double, fixed order) and counts of the current labels.
  virtual void cluster_sums(int k, std::vector<double>& sums, std::vector<std::int64_t>& counts) = 0;
  /// Per-row exact squared distances to their centroid from the last assign.
  virtual void row_distances(std::vector<double>& out) = 0;
  virtual void labels(std::vector<std::int32_t>& out) = 0;
};

/// nearest_centroid for each of `rows` rows at once, with the centroid loop outside (so
/// it vectorises across rows): dots_t[j * rows + r] = x_r.c_j, x_norm2[r] = ||x_r||^2.
/// Same steps in the same order per row as nearest_centroid, so the same labels.
void nearest_in_block(const float* x_norm2, const float* dots_t, const float* c_norm2, int k, std::size_t rows,
                      float* best_value, std::int32_t* best);

/// weights (n, optional): k-means++ potentials and draws weigh row i by weights[i].
std::unique_ptr<KMeansSteps> make_cpu_steps(const float* x, std::size_t n, std::size_t d,
                                            std::vector<double> weights = {});

/// Greedy k-means++ (scikit-learn's variant) from a splitmix64 stream of seed; the first
/// centre is a uniform row, or first_row when given (>= 0).
std::vector<float> kmeanspp_init(KMeansSteps& steps, int k, std::uint64_t seed, std::int64_t first_row = -1);

/// k-means|| (Bahmani et al. 2012): one random row, then kParallelRounds rounds that
/// each add about 2k rows drawn with probability proportional to their squared distance
/// to the candidates so far (oversample_keep), in one GEMM pass per round; the
/// candidates, weighted by the rows nearest to each, are reduced to k centres by greedy
/// k-means++ on the host. Falls back to kmeanspp_init when fewer than k rows are drawn
/// (data with fewer distinct rows than k).
std::vector<float> kmeans_parallel_init(KMeansSteps& steps, int k, std::uint64_t seed);
/// Two rounds, as Spark MLlib's default (the paper's experiments show little gain from
/// more); measured here: 5 rounds cost 2.5x the time for the same final inertia.
constexpr int kParallelRounds = 2;

struct LloydSettings {
  int max_iter = 300;
  double tol_abs = 0.0;  ///< absolute bound on the summed squared centroid shift
  bool spherical = false;
};

/// Lloyd iterations from the given centroids (k x d).
KMeansResult run_lloyd(KMeansSteps& steps, std::vector<float> centroids, int k, const LloydSettings& settings);

/// New centroids from sums and counts; empty clusters re-seeded with the farthest rows
/// (row_distance, ties to the smaller row); spherical re-normalises. Shared by backends.
void finish_centroids(const std::vector<double>& sums, const std::vector<std::int64_t>& counts,
                      const std::vector<double>& row_distance, KMeansSteps& steps, int k, bool spherical,
                      std::vector<float>& centroids);

/// splitmix64 stream: deterministic on every platform (no std:: distributions).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform in [0, n) (n < 2^53), exact scaling of 53 bits.
  std::uint64_t below(std::uint64_t n) { return static_cast<std::uint64_t>(uniform() * static_cast<double>(n)); }

 private:
  std::uint64_t state_;
};

/// Makes OpenBLAS single-threaded for a scope (callers parallelise with OpenMP) and
/// restores the previous thread count after.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int previous_;
};

/// Silhouette on the host (both metrics). x is already unit-normalised for Cosine.
SilhouetteResult silhouette_cpu(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels, int k,
                                Metric metric, const SilhouetteOptions& options);

}  // namespace cohort::segment
