/*
 * pipeline_stages.cpp: the bodies of the pipeline's engine stages (see pipeline.hpp).
 * Each reads its inputs from files (the config's inputs or earlier stages' artifacts),
 * so a skipped stage's artifacts serve the next one exactly as a fresh run's would.
 */
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <tuple>

#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/join.hpp"
#include "cohort/matrix.hpp"
#include "cohort/npy.hpp"
#include "cohort/progress.hpp"
#include "cohort/segment.hpp"
#include "cohort/similar.hpp"
#include "cohort/sparse.hpp"
#include "cohort/train.hpp"
#include "host/api/pipeline_internal.hpp"

namespace cohort::detail {

std::string fmt(const char* format, double a, double b, double c) {
  char text[256];
  std::snprintf(text, sizeof text, format, a, b, c);
  return text;
}

namespace {

namespace fs = std::filesystem;

double count(std::size_t n) { return static_cast<double>(n); }

}  // namespace

std::vector<std::vector<std::string>> read_csv_columns(const std::string& path, const std::vector<std::string>& columns) {
  CsvReader reader(path);
  std::vector<std::size_t> index;
  for (const auto& name : columns) index.push_back(reader.column(name));
  std::vector<std::vector<std::string>> values(columns.size());
  CsvChunk chunk;
  while (reader.next(chunk))
    for (std::size_t r = 0; r < chunk.rows(); ++r)
      for (std::size_t c = 0; c < index.size(); ++c) values[c].emplace_back(chunk.field(r, index[c]));
  return values;
}

std::vector<double> interaction_counts(const std::string& matrix_dir, std::size_t users, std::size_t items) {
  COHORT_EXPECTS(users * items <= (std::size_t(1) << 28), matrix_dir + ": users x items too large for dense vectors");
  const MatrixCounts m = read_matrix_counts(matrix_dir);  // every event type summed
  COHORT_EXPECTS(m.users.size() == users && m.items.size() == items,
                 matrix_dir + ": shape differs from users.txt x items.txt");
  std::vector<double> dense(users * items, 0.0);
  for (std::size_t u = 0; u < users; ++u)
    for (auto k = m.counts.indptr[u]; k < m.counts.indptr[u + 1]; ++k)
      dense[u * items + static_cast<std::size_t>(m.counts.indices[static_cast<std::size_t>(k)])] +=
          m.counts.values[static_cast<std::size_t>(k)];
  return dense;
}

std::string stage_join(const PipelineConfig& c, const std::string& out, Device device) {
  JoinFileOptions join;
  join.polygons = c.polygons;
  join.polygon_id_column = c.polygon_id_column;
  join.wkt_column = c.wkt_column;
  join.points = c.points;
  join.point_id_column = c.point_id_column;
  join.x_column = c.x_column;
  join.y_column = c.y_column;
  join.first = c.join_first;
  join.out = out + "visits.csv";
  join.counts = out + "store_counts.csv";
  join.device = device;
  const auto s = join_files(join);
  return fmt("%.0f points, %.0f in a polygon, %.1f M points/s", count(s.points), count(s.matched),
             count(s.points) / std::max(s.seconds, 1e-9) / 1e6);
}

std::string stage_matrix(const PipelineConfig& c, const std::string& out, Device device) {
  MatrixOptions options;
  options.reader.user_col = c.user_column;
  options.reader.item_col = c.item_column;
  options.reader.event_col = c.event_column;
  options.reader.time_col = c.time_column;
  options.device = device;
  const MatrixResult matrix = build_matrix(c.events, options);
  MatrixWriteOptions write;
  write.conversion = c.conversion;
  fs::remove_all(out + "matrix");  // no stale event types from an earlier log
  write_matrix(matrix, out + "matrix", write);
  return fmt("%.0f users x %.0f items, %.0f events", count(matrix.users.size()), count(matrix.items.size()),
             count(matrix.events_read));
}

std::string stage_vectors(const PipelineConfig&, const std::string& out) {
  const auto users = read_lines(out + "matrix/users.txt");
  const auto items = read_lines(out + "matrix/items.txt");
  std::vector<double> counts = interaction_counts(out + "matrix", users.size(), items.size());
  std::vector<float> vectors(counts.size());
  const std::size_t dim = items.size();
  for (std::size_t u = 0; u < users.size(); ++u) {
    double sum = 0.0;
    for (std::size_t i = 0; i < dim; ++i) sum += counts[u * dim + i];
    if (sum <= 0.0) throw InvalidInput(out + "matrix/users.txt", u + 1, "user '" + users[u] + "' has no interactions");
    for (std::size_t i = 0; i < dim; ++i) vectors[u * dim + i] = static_cast<float>(counts[u * dim + i] / sum);
  }
  write_npy(out + "user_vectors.npy", vectors.data(), {users.size(), dim});
  write_lines(out + "user_ids.txt", users);
  return fmt("%.0f users x %.0f item shares", count(users.size()), count(dim));
}

std::string stage_train(const PipelineConfig& c, const std::string& out, Device device) {
  TrainOptions options;
  options.table = c.customers;
  options.target = c.train_target;
  options.cat_cols = c.train_cat_columns;
  options.cont_cols = c.train_cont_columns;
  options.id_col = c.customer_id_column;
  options.embed_id = true;
  options.epochs = c.train_epochs;
  options.batch = c.train_batch;
  options.lr = c.train_lr;
  options.layers = c.train_layers;
  if (c.train_bag) options.matrix = out + "matrix";  // the matrix stage's output
  options.device = device;
  options.seed = c.seed;
  const TrainResult result = train(options);
  fs::remove_all(out + "train");
  write_train_outputs(result, out + "train");
  const auto& last = result.history.back();
  return fmt("%.0f epochs, train loss %.4g, valid loss %.4g", count(result.history.size()), last.train_loss,
             last.valid_loss);
}

std::string stage_segment(const PipelineConfig& c, const std::string& out, Device device) {
  const Embeddings e = read_embeddings(out + "user_vectors.npy", out + "user_ids.txt");
  SegmentOptions options;
  options.device = device;
  options.metric = c.metric == "cosine" ? Metric::Cosine : Metric::Euclidean;
  options.n_init = c.n_init;
  options.seed = c.seed;
  const int k_max = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(c.k_max), e.rows));
  COHORT_EXPECTS(c.k_min <= k_max, "segment: k_min " + std::to_string(c.k_min) + " exceeds the " +
                                       std::to_string(e.rows) + " users");
  const auto selection = select_k(e.data.data(), e.rows, e.dim, c.k_min, k_max, options);
  ensure_directory(out + "segments");
  std::string labels = "id,segment\n", table = "k,silhouette,inertia\n";
  for (std::size_t u = 0; u < e.rows; ++u) labels += e.ids[u] + "," + std::to_string(selection.best.labels[u]) + "\n";
  for (const auto& row : selection.rows) table += fmt("%.0f,%.6f,%.6f\n", row.k, row.silhouette, row.inertia);
  write_text_file(out + "segments/labels.csv", labels);
  write_text_file(out + "segments/model_selection.csv", table);
  write_npy(out + "segments/centroids.npy", selection.best.centroids.data(),
            {static_cast<std::size_t>(selection.best_k), e.dim});
  ProfileOptions profile_options;  // the matrix step's conversion events, when named
  if (!c.conversion.empty())
    std::tie(profile_options.conversion_numerator, profile_options.conversion_denominator) =
        split_conversion(c.conversion);
  if (!c.attribute_columns.empty()) {  // the customers' attributes, as the analysis groups them
    profile_options.attributes_csv = c.customers;
    profile_options.attributes_id_column = c.customer_id_column;
    profile_options.attribute_columns = c.attribute_columns;
  }
  const auto profiles =
      profile_segments(e.ids, selection.best.labels, selection.best_k, out + "matrix", profile_options);
  write_profiles_csv(out + "segments/profiles.csv", profiles);
  write_attribute_profiles_csv(out + "segments/attribute_profiles.csv", profiles);
  log_verbose(format_profiles(profiles));
  double silhouette = 0;
  for (const auto& row : selection.rows)
    if (row.k == selection.best_k) silhouette = row.silhouette;
  return fmt("k = %.0f of %.0f..%.0f", selection.best_k, c.k_min, k_max) + fmt(" by silhouette (%.3f)", silhouette);
}

std::string stage_similar(const PipelineConfig& c, const std::string& out, Device device) {
  const Embeddings e = read_embeddings(out + "user_vectors.npy", out + "user_ids.txt");
  SimilarOptions options;
  options.device = device;
  options.k = c.similar_k;
  options.exclude_self = true;
  std::vector<std::int64_t> queries;
  const auto wanted = static_cast<std::size_t>(c.similar_queries);
  const std::size_t step = std::max<std::size_t>(1, e.rows / wanted);
  for (std::size_t u = 0; u < e.rows && queries.size() < wanted; u += step) queries.push_back(static_cast<std::int64_t>(u));
  const TopK top = similar_rows(e.view(), queries, options);
  AtomicFile file(out + "lookalikes.csv");
  file.write("query_id,rank,id,score\n");
  for (std::size_t q = 0; q < top.queries; ++q)
    for (std::size_t r = 0; r < static_cast<std::size_t>(top.counts[q]); ++r)
      file.write(e.ids[static_cast<std::size_t>(queries[q])] + "," + std::to_string(r + 1) + "," +
                 e.ids[static_cast<std::size_t>(top.index(q, r))] + "," + fmt("%.6f", top.score(q, r)) + "\n");
  file.commit();
  return fmt("%.0f queries, top %.0f each", count(queries.size()), static_cast<double>(top.k));
}

}  // namespace cohort::detail
