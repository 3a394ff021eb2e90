/*
 * segment.cpp: the public k-means, silhouette and model-selection entry points.
 * Validates once (finite values, k range, zero rows for cosine), normalises rows for the
 * cosine metric, then runs the shared drivers over the chosen backend's KMeansSteps.
 */
#include "cohort/segment.hpp"

#include <cmath>
#include <memory>
#include <string>

#include "cohort/error.hpp"
#include "cohort/progress.hpp"
#include "host/cpu/segment_cpu.hpp"
#include "kernels/segment_element.hpp"
#ifdef COHORT_WITH_CUDA
#include "kernels/segment.hpp"
#endif

namespace cohort {
namespace {

void check_finite(const float* x, std::size_t n, std::size_t d, const std::string& source) {
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t e = 0; e < d; ++e)
      if (!std::isfinite(x[i * d + e]))
        throw InvalidInput(source, 0,
                           "row " + std::to_string(i) + " (0-based) has a non-finite value (" +
                               std::to_string(x[i * d + e]) + ") at column " + std::to_string(e));
}

// Unit rows for the cosine metric; a zero row has no direction and is an error.
std::vector<float> normalized_rows(const float* x, std::size_t n, std::size_t d, const std::string& source,
                                   const char* what) {
  std::vector<float> out(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    const double inverse = segment::inverse_norm(x + i * d, d);
    if (inverse == 0.0)
      throw InvalidInput(source, 0, std::string(what) + " " + std::to_string(i) +
                                        " (0-based) is all zeros: it has no direction for the cosine metric");
    for (std::size_t e = 0; e < d; ++e) out[i * d + e] = static_cast<float>(x[i * d + e] * inverse);
  }
  return out;
}

// scikit-learn's tolerance scale: the mean per-dimension variance of the data.
double mean_variance(const float* x, std::size_t n, std::size_t d) {
  std::vector<double> mean(d, 0.0), m2(d, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t e = 0; e < d; ++e) mean[e] += x[i * d + e];
  for (auto& m : mean) m /= static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t e = 0; e < d; ++e) {
      const double diff = x[i * d + e] - mean[e];
      m2[e] += diff * diff;
    }
  double total = 0.0;
  for (double v : m2) total += v / static_cast<double>(n);
  return total / static_cast<double>(d);
}

std::unique_ptr<segment::KMeansSteps> make_steps(Device device, const float* x, std::size_t n, std::size_t d) {
#ifdef COHORT_WITH_CUDA
  if (device == Device::Cuda) return cuda::make_segment_steps(x, n, d);
#endif
  (void)device;
  return segment::make_cpu_steps(x, n, d);
}

std::uint64_t restart_seed(std::uint64_t seed, int restart) {
  segment::SplitMix64 rng(seed + 0x51A7u * static_cast<std::uint64_t>(restart + 1));
  return rng.next();
}

}  // namespace

Metric parse_metric(const std::string& name) {
  if (name == "euclidean") return Metric::Euclidean;
  if (name == "cosine") return Metric::Cosine;
  throw InvalidInput("unknown metric '" + name + "' (expected euclidean or cosine)");
}

const char* metric_name(Metric metric) { return metric == Metric::Cosine ? "cosine" : "euclidean"; }

KMeansInit parse_init(const std::string& name) {
  if (name == "auto") return KMeansInit::Auto;
  if (name == "k-means++") return KMeansInit::PlusPlus;
  if (name == "k-means-parallel") return KMeansInit::Parallel;
  throw InvalidInput("unknown init '" + name + "' (expected auto, k-means++ or k-means-parallel)");
}

const char* init_name(KMeansInit init) {
  switch (init) {
    case KMeansInit::PlusPlus: return "k-means++";
    case KMeansInit::Parallel: return "k-means-parallel";
    case KMeansInit::Auto: break;
  }
  return "auto";
}

namespace {

// What every k-means run over the same rows shares, made once: the rows checked (and
// normalised for the cosine metric), their mean variance, and the backend's steps
// (on the GPU: the rows uploaded once, for every k of a model selection).
struct KMeansData {
  std::vector<float> unit;  // the normalised rows (cosine metric): the steps read them
  std::size_t n = 0, d = 0;
  double variance = 0.0;
  std::unique_ptr<segment::KMeansSteps> steps;
};

KMeansData prepare_kmeans(const float* x, std::size_t n, std::size_t d, const SegmentOptions& options,
                          const std::string& source) {
  COHORT_EXPECTS(n > 0 && d > 0, source + ": no vectors to segment (" + std::to_string(n) + " x " +
                                     std::to_string(d) + ")");
  COHORT_EXPECTS(options.n_init >= 1, "n_init must be at least 1");
  COHORT_EXPECTS(options.max_iter >= 1, "max_iter must be at least 1");
  COHORT_EXPECTS(options.tol >= 0.0 && std::isfinite(options.tol), "tol must be a finite number >= 0");
  check_finite(x, n, d, source);
  KMeansData data;
  data.n = n, data.d = d;
  if (options.metric == Metric::Cosine) {
    data.unit = normalized_rows(x, n, d, source, "row");
    x = data.unit.data();
  }
  data.variance = mean_variance(x, n, d);
  data.steps = make_steps(resolve_device(options.device), x, n, d);
  return data;
}

KMeansResult run_kmeans(KMeansData& data, const SegmentOptions& options, const std::string& source) {
  const std::size_t n = data.n, d = data.d;
  COHORT_EXPECTS(options.k >= 1, "k must be at least 1 (got " + std::to_string(options.k) + ")");
  COHORT_EXPECTS(static_cast<std::size_t>(options.k) <= n,
                 "k = " + std::to_string(options.k) + " is larger than the number of vectors (" +
                     std::to_string(n) + " in " + source + ")");
  const bool given = !options.initial_centroids.empty();
  if (given) {
    COHORT_EXPECTS(options.initial_centroids.size() == static_cast<std::size_t>(options.k) * d,
                   "initial centroids must be k x d = " + std::to_string(options.k) + " x " + std::to_string(d));
    check_finite(options.initial_centroids.data(), options.k, d, "initial centroids");
  }
  const bool spherical = options.metric == Metric::Cosine;
  segment::LloydSettings settings;
  settings.max_iter = options.max_iter;
  settings.spherical = spherical;
  settings.tol_abs = options.tol * data.variance;
  auto& steps = *data.steps;
  const bool parallel_init =
      options.init == KMeansInit::Parallel ||
      (options.init == KMeansInit::Auto && static_cast<double>(n) * options.k >= kParallelInitWork);
  auto draw = [&](std::uint64_t seed) {
    return parallel_init ? segment::kmeans_parallel_init(steps, options.k, seed)
                         : segment::kmeanspp_init(steps, options.k, seed);
  };
  KMeansResult best;
  const int runs = given ? 1 : options.n_init;
  for (int run = 0; run < runs; ++run) {
    std::vector<float> init =
        given ? (spherical ? normalized_rows(options.initial_centroids.data(), options.k, d, "initial centroids",
                                             "centroid")
                           : options.initial_centroids)
              : draw(restart_seed(options.seed, run));
    KMeansResult result = segment::run_lloyd(steps, std::move(init), options.k, settings);
    log_verbose("k-means k=" + std::to_string(options.k) + " run " + std::to_string(run + 1) + "/" +
                std::to_string(runs) + ": inertia " + std::to_string(result.inertia) + " after " +
                std::to_string(result.iterations) + " iterations");
    if (run == 0 || result.inertia < best.inertia) best = std::move(result);
  }
  return best;
}

}  // namespace

KMeansResult kmeans(const float* x, std::size_t n, std::size_t d, const SegmentOptions& options,
                    const std::string& source) {
  KMeansData data = prepare_kmeans(x, n, d, options, source);
  return run_kmeans(data, options, source);
}

SilhouetteResult silhouette(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels, int k,
                            Metric metric, const SilhouetteOptions& options) {
  COHORT_EXPECTS(k >= 1, "k must be at least 1");
  for (std::size_t i = 0; i < n; ++i)
    COHORT_EXPECTS(labels[i] >= 0 && labels[i] < k,
                   "label " + std::to_string(labels[i]) + " of row " + std::to_string(i) + " is outside [0, k)");
  COHORT_EXPECTS(metric != Metric::Euclidean || options.max_exact >= 2, "silhouette sample size must be >= 2");
  if (metric == Metric::Cosine) {
    const auto unit = normalized_rows(x, n, d, "embeddings", "row");
    return segment::silhouette_cpu(unit.data(), n, d, labels, k, metric, options);
  }
  return segment::silhouette_cpu(x, n, d, labels, k, metric, options);
}

ModelSelection select_k(const float* x, std::size_t n, std::size_t d, int k_min, int k_max,
                        const SegmentOptions& options, const SilhouetteOptions& silhouette_options) {
  COHORT_EXPECTS(k_min >= 2, "--k-range must start at 2 or more: the silhouette needs two segments");
  COHORT_EXPECTS(k_min <= k_max, "--k-range A:B needs A <= B");
  COHORT_EXPECTS(static_cast<std::size_t>(k_max) <= n,
                 "k = " + std::to_string(k_max) + " is larger than the number of vectors (" + std::to_string(n) + ")");
  ModelSelection selection;
  double best_score = -2.0;
  KMeansData data = prepare_kmeans(x, n, d, options, "embeddings");  // once for every k
  Progress progress("k-means over k", static_cast<std::uint64_t>(k_max - k_min + 1), "k");
  for (int k = k_min; k <= k_max; ++k) {
    SegmentOptions run = options;
    run.k = k;
    run.initial_centroids.clear();
    KMeansResult result = run_kmeans(data, run, "embeddings");
    const SilhouetteResult s = silhouette(x, n, d, result.labels.data(), k, options.metric, silhouette_options);
    selection.rows.push_back({k, s.score, result.inertia, result.iterations, s.sample_size, s.sampled});
    if (s.score > best_score) {  // strict: ties keep the smaller k
      best_score = s.score;
      selection.best_k = k;
      selection.best = std::move(result);
    }
    progress.add(1);
  }
  progress.finish();
  return selection;
}

}  // namespace cohort
