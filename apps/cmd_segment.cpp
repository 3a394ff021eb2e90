/*
 * cmd_segment.cpp: `cohort segment`: k-means segments of embeddings, model selection by
 * silhouette over --k-range, and segment profiles (joined with a `cohort matrix` output
 * when --matrix is given). Writes DIR/labels.csv, centroids.npy, model_selection.csv,
 * profiles.csv and attribute_profiles.csv (header only without attributes), and prints
 * the model-selection and profile tables.
 */
#include <cmath>
#include <cstdio>
#include <tuple>

#include "apps/command.hpp"
#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/matrix.hpp"
#include "cohort/npy.hpp"
#include "cohort/progress.hpp"
#include "cohort/segment.hpp"
#include "cohort/similar.hpp"

namespace cohort::app {
namespace {

CommonOptions common;
std::string embeddings_path, ids_path, k_range, metric = "euclidean", init = "auto", matrix_dir, out_dir, conversion;
int k = 0, n_init = 1, max_iter = 300, top_items = 3;
const CLI::Option* k_option = nullptr;  // given or not (a given --k 0 is an error, not "absent")
double tol = 1e-4;
std::size_t silhouette_max_exact = 50000;

std::string number(double value) {
  if (std::isnan(value)) return "";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

void write_labels(const std::string& path, const std::vector<std::string>& ids, const std::vector<std::int32_t>& labels) {
  AtomicFile out(path);
  out.write("id,segment\n");
  std::string line;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    line = csv_escape(ids[i]);
    line += ',';
    line += std::to_string(labels[i]);
    line += '\n';
    out.write(line);
  }
  out.commit();
}

void write_model_selection(const std::string& path, const ModelSelection& selection) {
  bool sampled = false;
  for (const auto& row : selection.rows) sampled = sampled || row.sampled;
  AtomicFile out(path);
  out.write(sampled ? "k,silhouette,inertia,silhouette_sample_size\n" : "k,silhouette,inertia\n");
  for (const auto& row : selection.rows) {
    std::string line = std::to_string(row.k) + "," + number(row.silhouette) + "," + number(row.inertia);
    if (sampled) line += "," + std::to_string(row.silhouette_sample_size);
    out.write(line + "\n");
  }
  out.commit();
}

// "A:B" -> (A, B)
std::pair<int, int> parse_range(const std::string& text) {
  const auto colon = text.find(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument(text);
    std::size_t used_a = 0, used_b = 0;
    const int a = std::stoi(text.substr(0, colon), &used_a);
    const int b = std::stoi(text.substr(colon + 1), &used_b);
    if (used_a != colon || used_b != text.size() - colon - 1) throw std::invalid_argument(text);
    return {a, b};
  } catch (const std::logic_error&) {
    throw InvalidInput("--k-range must be A:B with integers A <= B (got '" + text + "')");
  }
}

void run_segment() {
  SegmentOptions options;
  options.device = apply_common(common);
  options.seed = common.seed;
  options.metric = parse_metric(metric);
  options.init = parse_init(init);
  options.n_init = n_init;
  options.max_iter = max_iter;
  options.tol = tol;
  const bool k_given = k_option->count() > 0;
  if (k_given == !k_range.empty()) throw InvalidInput("give exactly one of --k K and --k-range A:B");
  if (k_given && k < 1) throw InvalidInput("--k must be at least 1 (got " + std::to_string(k) + ")");
  ProfileOptions profile_options;
  profile_options.top_items = top_items;
  if (!conversion.empty())
    std::tie(profile_options.conversion_numerator, profile_options.conversion_denominator) = split_conversion(conversion);
  check_profile_options(matrix_dir, profile_options);  // a misspelt event fails before k-means
  const Embeddings embeddings = read_embeddings(embeddings_path, ids_path);
  SilhouetteOptions silhouette_options;
  silhouette_options.max_exact = silhouette_max_exact;
  silhouette_options.seed = common.seed;

  ModelSelection selection;
  if (!k_range.empty()) {
    const auto [a, b] = parse_range(k_range);
    selection = select_k(embeddings.data.data(), embeddings.rows, embeddings.dim, a, b, options, silhouette_options);
  } else {
    options.k = k;
    selection.best = kmeans(embeddings.data.data(), embeddings.rows, embeddings.dim, options, embeddings.path);
    selection.best_k = k;
    ModelSelectionRow row;
    row.k = k;
    row.inertia = selection.best.inertia;
    row.iterations = selection.best.iterations;
    const SilhouetteResult s = silhouette(embeddings.data.data(), embeddings.rows, embeddings.dim,
                                          selection.best.labels.data(), k, options.metric, silhouette_options);
    row.silhouette = s.score;
    row.silhouette_sample_size = s.sample_size;
    row.sampled = s.sampled;
    selection.rows.push_back(row);
  }
  const KMeansResult& best = selection.best;
  // Everything that reads input (the matrix, for the profiles) before any file is
  // written: a failed run leaves no part of a result, nor mixes with an earlier one.
  const SegmentProfiles profiles = profile_segments(embeddings.ids, best.labels, best.k, matrix_dir, profile_options);
  ensure_directory(out_dir);
  write_labels(out_dir + "/labels.csv", embeddings.ids, best.labels);
  write_npy(out_dir + "/centroids.npy", best.centroids.data(),
            {static_cast<std::size_t>(best.k), embeddings.dim});
  write_model_selection(out_dir + "/model_selection.csv", selection);
  write_profiles_csv(out_dir + "/profiles.csv", profiles);
  write_attribute_profiles_csv(out_dir + "/attribute_profiles.csv", profiles);
  if (common.quiet) return;  // --quiet: warnings and errors only (the files say it all)
  std::printf("%s: %zu vectors x %zu dims, metric %s, init %s, on %s\n", embeddings.path.c_str(), embeddings.rows,
              embeddings.dim, metric_name(options.metric), init_name(options.init), device_name(options.device));
  std::printf("%4s  %10s  %14s  %5s\n", "k", "silhouette", "inertia", "iters");
  for (const auto& row : selection.rows)
    std::printf("%4d  %10.4f  %14.6g  %5d%s\n", row.k, row.silhouette, row.inertia, row.iterations,
                row.k == selection.best_k && selection.rows.size() > 1 ? "  <- best silhouette" : "");
  for (const auto& row : selection.rows)
    if (row.sampled) {
      std::printf("note: Euclidean silhouette sampled: %zu of %zu rows (seed %llu); exact up to %zu rows "
                  "(--silhouette-max-exact)\n",
                  row.silhouette_sample_size, embeddings.rows, static_cast<unsigned long long>(common.seed),
                  silhouette_max_exact);
      break;
    }
  std::printf("\nsegments (k = %d):\n%s", best.k, format_profiles(profiles).c_str());
  std::printf("wrote %s/{labels.csv,centroids.npy,model_selection.csv,profiles.csv,attribute_profiles.csv}\n", out_dir.c_str());
}

void setup(CLI::App& app) {
  auto* c = app.add_subcommand("segment", "k-means segments of embeddings, silhouette model selection, profiles");
  c->add_option("--embeddings", embeddings_path, "Embeddings: .npy (N x d) or .csv (id, then the values)")
      ->required();
  c->add_option("--ids", ids_path, "Row ids, one per line (default: row numbers)");
  k_option = c->add_option("--k", k, "Number of segments");
  c->add_option("--k-range", k_range, "A:B: try every k in [A, B], keep the best silhouette");
  c->add_option("--metric", metric, "euclidean or cosine (spherical k-means)")->capture_default_str();
  c->add_option("--init", init,
                "auto, k-means++ or k-means-parallel (k-means||; auto picks it when N x k >= 1e8, where k-means++'s k passes "
                "over the data dominate)")
      ->capture_default_str();
  c->add_option("--n-init", n_init, "Restarts from different initial draws; the lowest inertia wins")
      ->capture_default_str();
  c->add_option("--max-iter", max_iter, "Maximum Lloyd iterations")->capture_default_str();
  c->add_option("--tol", tol, "Stop when the centroid shift <= tol x mean variance")->capture_default_str();
  c->add_option("--silhouette-max-exact", silhouette_max_exact,
                "Euclidean silhouette exact up to this many rows, sampled to this many beyond")
      ->capture_default_str();
  c->add_option("--matrix", matrix_dir, "A `cohort matrix` output directory to profile segments with");
  c->add_option("--conversion", conversion,
                "NUM/DEN event stems (or events.txt names) of the conversion KPI; default: purchase-like over view-like");
  c->add_option("--top-items", top_items, "Top items by lift per segment in the profiles")->capture_default_str();
  c->add_option("--out", out_dir, "Output directory")->required();
  add_common_flags(c, common);
  c->callback(run_segment);
}

}  // namespace
COHORT_REGISTER_COMMAND(60, setup);
}  // namespace cohort::app
