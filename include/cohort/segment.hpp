/*
 * segment.hpp: customer segmentation by k-means, silhouette model selection and
 * segment profiles (`cohort segment`).
 *
 * Data: x is N x d float32, row-major (one row per customer). Labels are int32 in
 * [0, k); centroids are k x d float32, row-major.
 *
 * Algorithm (both backends): k-means++ initialisation (greedy: 2 + floor(ln k) candidate
 * draws per centre, keep the one with the lowest potential, as scikit-learn does), drawn
 * on the host from a splitmix64 stream of the seed; or k-means|| for large N x k (2
 * rounds that each draw about 2k rows in one GEMM pass, instead of k - 1 passes; the
 * weighted draws are reduced to k by greedy k-means++), then Lloyd iterations:
 *   E-step  distances ||x||^2 + ||c||^2 - 2 x.c with x.c from one GEMM per block of rows
 *           (OpenBLAS sgemm on the CPU, cuBLAS on the GPU), clamped at 0; each row takes
 *           the nearest centroid, ties to the smaller centroid index.
 *   M-step  centroid = mean of its rows, summed in double in a fixed order
 *           (deterministic for any thread count).
 *   Stop    when no label changed, when the summed squared centroid shift is at most
 *           tol * (mean per-dimension variance of x) (scikit-learn's rule), or at max_iter.
 * @note Empty clusters: an empty cluster is re-seeded with the row farthest from its own
 *       centroid (ties to the smaller row index); several empty clusters take the
 *       farthest rows in decreasing order of distance.
 * @note Metric::Cosine is spherical k-means: rows are normalised to unit length (a zero
 *       row is an error), centroids are re-normalised after each update, and inertia is
 *       the sum of cosine distances 1 - cos(x, c).
 * @note Results are deterministic for a seed on each backend. The CPU and CUDA backends
 *       give the same labels when the data are well separated (GEMM rounding differs, and
 *       their double sums run in different fixed orders, so centroids may differ in the
 *       last bit), and inertia within a relative 1e-4.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cohort/backend.hpp"

namespace cohort {

enum class Metric { Euclidean, Cosine };
/// "euclidean" | "cosine" -> Metric; anything else throws InvalidInput.
Metric parse_metric(const std::string& name);
const char* metric_name(Metric metric);

/// Initialisation: Auto is k-means|| when N x k >= kParallelInitWork, else k-means++.
enum class KMeansInit { Auto, PlusPlus, Parallel };
constexpr double kParallelInitWork = 1e8;
/// "auto" | "k-means++" | "k-means-parallel" (k-means||) -> KMeansInit; anything else throws InvalidInput.
KMeansInit parse_init(const std::string& name);
const char* init_name(KMeansInit init);

struct SegmentOptions {
  Device device = Device::Auto;
  int k = 8;
  KMeansInit init = KMeansInit::Auto;
  int n_init = 1;         ///< restarts from different initial draws; the lowest inertia wins
  int max_iter = 300;
  double tol = 1e-4;      ///< relative to the mean per-dimension variance, as in scikit-learn
  Metric metric = Metric::Euclidean;
  std::uint64_t seed = 42;
  /// When non-empty (k x d), Lloyd starts from these centroids (n_init is then 1).
  std::vector<float> initial_centroids;
};

struct KMeansResult {
  int k = 0;
  std::size_t d = 0;
  std::vector<std::int32_t> labels;   ///< N
  std::vector<float> centroids;       ///< k x d
  double inertia = 0.0;               ///< sum of squared distances (cosine: of 1 - cos)
  int iterations = 0;                 ///< centroid updates done
  bool converged = false;             ///< stopped by labels unchanged or tol, not max_iter
  std::vector<double> inertia_history;  ///< inertia after each E-step of the winning run
};

/// k-means of x (n x d). source names the data in errors (e.g. the .npy path).
/// @pre 1 <= k <= n; every value finite; for Cosine no zero row. Else InvalidInput
///      naming the row.
KMeansResult kmeans(const float* x, std::size_t n, std::size_t d, const SegmentOptions& options,
                    const std::string& source = "embeddings");

struct SilhouetteOptions {
  /// Exact up to this many rows (Euclidean); beyond, the silhouette of a uniform sample of
  /// this many rows (without replacement, from the seed), as scikit-learn's sample_size.
  std::size_t max_exact = 50000;
  std::uint64_t seed = 42;
};

struct SilhouetteResult {
  double score = 0.0;           ///< mean silhouette; NaN when k < 2
  std::size_t sample_size = 0;  ///< rows it was computed on (n when exact)
  bool sampled = false;
};

/// Mean silhouette, computed on the host for either device (scikit-learn's definition: s = (b - a) / max(a, b), 0 for a row alone
/// in its cluster). Euclidean: distances, not squared. Cosine: distance 1 - cos, exact in
/// O(N k d) from per-cluster sums of unit vectors for any N.
SilhouetteResult silhouette(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels, int k,
                            Metric metric, const SilhouetteOptions& options = {});

struct ModelSelectionRow {
  int k = 0;
  double silhouette = 0.0;
  double inertia = 0.0;
  int iterations = 0;
  std::size_t silhouette_sample_size = 0;
  bool sampled = false;
};

struct ModelSelection {
  std::vector<ModelSelectionRow> rows;  ///< one per k, ascending
  int best_k = 0;                       ///< best silhouette (ties to the smaller k)
  KMeansResult best;                    ///< the k-means result for best_k
};

/// Runs kmeans for every k in [k_min, k_max] and picks the best silhouette.
/// @pre 2 <= k_min <= k_max <= n.
ModelSelection select_k(const float* x, std::size_t n, std::size_t d, int k_min, int k_max,
                        const SegmentOptions& options, const SilhouetteOptions& silhouette_options = {});

// ---- profiles ----

/// One value of an attribute column within one segment (attribute_profiles.csv).
struct AttributeValueShare {
  std::string value;
  std::size_t users = 0;              ///< segment members found in attributes.csv with this value
  double share_in_segment = 0.0;      ///< users / segment members found in attributes.csv
  double share_in_population = 0.0;   ///< over every labelled user found in attributes.csv
  double lift = 0.0;                  ///< share_in_segment / share_in_population
};

/// One segment's profile; the event/attribute vectors follow SegmentProfiles' names.
struct SegmentProfile {
  int segment = 0;
  std::size_t size = 0;
  double share = 0.0;
  std::size_t matched_users = 0;          ///< members found in the matrix's users.txt
  std::vector<double> event_totals;       ///< per event
  std::vector<double> event_per_user;     ///< per event, total / matched_users
  double conversion = 0.0;                ///< purchases / views (NaN when not applicable)
  std::vector<std::pair<std::string, double>> top_items;  ///< (item, lift), best first
  std::vector<std::pair<std::string, double>> attribute_modes;  ///< per attribute: (value, share)
  /// Per attribute: the values present in the segment, in byte order (absent values: no entry).
  std::vector<std::vector<AttributeValueShare>> attribute_values;
};

struct SegmentProfiles {
  std::vector<std::string> events;      ///< event names (from <event>.mtx)
  std::vector<std::string> attributes;  ///< attribute columns (attributes.csv)
  bool has_conversion = false;
  std::string conversion_label;         ///< e.g. "purchase/view"
  std::vector<SegmentProfile> segments;
};

struct ProfileOptions {
  int top_items = 3;
  /// An item counts for the lift ranking only with at least this many interactions in the segment.
  double min_item_count = 5.0;
  /// Conversion = total of the numerator event / total of the denominator event, each an
  /// event file stem (<stem>.mtx, e.g. "Fund_Project") or a raw name from events.txt.
  /// Both empty: guessed from the names ("purchase"/"buy"/"order" over "view"). An unknown
  /// event, or only one of the two given, throws InvalidInput listing the event stems.
  std::string conversion_numerator, conversion_denominator;
  /// Where the attributes come from: a CSV with an id column and attribute columns
  /// (e.g. a customers table). Empty: MATRIX_DIR/attributes.csv (id column user_id,
  /// else the first), every other column an attribute. attribute_columns empty: every
  /// column but the id; a named column missing from the file throws InvalidInput, and so
  /// does a table without a matrix directory.
  std::string attributes_csv, attributes_id_column;
  std::vector<std::string> attribute_columns;
};

/// Sizes and shares from labels alone; when matrix_dir is non-empty, also KPIs, top items
/// by lift and attribute distributions from a `cohort matrix` output (users.txt, items.txt,
/// <event>.mtx, optional events.txt and attributes.csv). ids[i] names row i (matched
/// against users.txt).
SegmentProfiles profile_segments(const std::vector<std::string>& ids, const std::vector<std::int32_t>& labels,
                                 int k, const std::string& matrix_dir, const ProfileOptions& options = {});

/// Throws what profile_segments would for a missing matrix directory or unknown conversion
/// events (cheap: lists matrix_dir only), so that a typo fails before k-means runs.
void check_profile_options(const std::string& matrix_dir, const ProfileOptions& options);

/// profiles.csv: one row per segment (segment,size,share,... see the implementation).
void write_profiles_csv(const std::string& path, const SegmentProfiles& profiles);
/// attribute_profiles.csv: segment,attribute,value,users,share_in_segment,share_in_population,lift;
/// one row per segment, attribute column and value present in the segment (values in byte order).
void write_attribute_profiles_csv(const std::string& path, const SegmentProfiles& profiles);
/// A readable table for the terminal.
std::string format_profiles(const SegmentProfiles& profiles);

}  // namespace cohort
