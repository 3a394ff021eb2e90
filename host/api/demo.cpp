/*
 * demo.cpp: the stages of `cohort demo` (see demo.hpp), each a call into an engine's
 * public API, and the ground-truth scoring of their results.
 */
#include "cohort/demo.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <unordered_map>

#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/generate.hpp"
#include "cohort/join.hpp"
#include "cohort/matrix.hpp"
#include "cohort/metrics.hpp"
#include "cohort/npy.hpp"
#include "cohort/progress.hpp"
#include "cohort/segment.hpp"
#include "cohort/similar.hpp"

namespace cohort {
namespace {

// "key" column -> "value" column of a small CSV, as strings.
std::map<std::string, std::string> read_pairs(const std::string& path, const std::string& key, const std::string& value) {
  CsvReader reader(path);
  const std::size_t k = reader.column(key), v = reader.column(value);
  std::map<std::string, std::string> pairs;
  CsvChunk chunk;
  while (reader.next(chunk))
    for (std::size_t r = 0; r < chunk.rows(); ++r) pairs[std::string(chunk.field(r, k))] = std::string(chunk.field(r, v));
  return pairs;
}

// Runs one stage, timing it and naming it in any error.
template <typename Body>
void stage(DemoReport& report, const std::string& name, Body body) {
  log_info("== " + name);
  const auto start = std::chrono::steady_clock::now();
  std::string detail;
  try {
    detail = body();
  } catch (const Error& e) {
    throw Error("demo stage '" + name + "' failed: " + e.what());
  }
  report.stages.push_back({name, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), detail});
}

std::string fmt(const char* format, double a, double b = 0, double c = 0) {
  char text[256];
  std::snprintf(text, sizeof text, format, a, b, c);
  return text;
}

}  // namespace

DemoReport run_demo(const DemoOptions& options) {
  COHORT_EXPECTS(!options.out_dir.empty(), "demo: --out is required");
  ensure_directory(options.out_dir);
  const std::string out = options.out_dir + "/";
  const std::string world = out + "world";
  DemoReport report;
  report.device = resolve_device(options.device);

  stage(report, "generate", [&] {
    GenerateOptions generate;
    generate.size = options.size;
    generate.out_dir = world;
    generate.seed = options.seed;
    const auto summary = generate_world(generate);
    return fmt("%.0f customers, %.0f stores, %.0f pings", static_cast<double>(summary.customers),
               static_cast<double>(summary.stores), static_cast<double>(summary.pings)) +
           fmt(", %.0f events", static_cast<double>(summary.events));
  });

  stage(report, "join", [&] {
    JoinFileOptions join;
    join.polygons = world + "/stores.csv";
    join.polygon_id_column = "store_id";
    join.wkt_column = "wkt";
    join.points = world + "/pings.csv";
    join.point_id_column = "ping_id";
    join.x_column = "lon";
    join.y_column = "lat";
    join.out = out + "visits.csv";
    join.counts = out + "store_counts.csv";
    join.device = report.device;
    const auto summary = join_files(join);
    const auto truth = read_pairs(world + "/truth_store_counts.csv", "store_id", "pings");
    const auto counts = read_pairs(out + "store_counts.csv", "polygon_id", "count");
    report.stores = truth.size();
    for (const auto& [store, count] : truth) {
      const auto it = counts.find(store);
      if (it != counts.end() && it->second == count) ++report.stores_exact;
    }
    return fmt("%.0f pings, %.0f in a store, %.1f M points/s", static_cast<double>(summary.points),
               static_cast<double>(summary.matched), static_cast<double>(summary.points) / summary.seconds / 1e6);
  });

  MatrixResult matrix;
  stage(report, "matrix", [&] {
    MatrixOptions matrix_options;
    matrix_options.reader.user_col = "user_id";
    matrix_options.reader.item_col = "category";
    matrix_options.reader.event_col = "event";
    matrix_options.reader.time_col = "timestamp";
    matrix_options.device = report.device;
    matrix = build_matrix(world + "/events.csv", matrix_options);
    MatrixWriteOptions write;
    write.conversion = "purchase/view";
    write_matrix(matrix, out + "matrix", write);
    return fmt("%.0f users x %.0f categories, %.0f events", static_cast<double>(matrix.users.size()),
               static_cast<double>(matrix.items.size()), static_cast<double>(matrix.events_read));
  });

  // Each user's vector: the shares of their interactions (all event types) per category.
  std::vector<float> vectors;
  const std::size_t users = matrix.users.size(), dim = matrix.items.size();
  stage(report, "vectors", [&] {
    vectors.assign(users * dim, 0.0f);
    for (std::size_t e = 0; e < matrix.events.size(); ++e) {
      const Csr counts = cell_matrix(matrix, e, CellValue::Count);
      for (std::size_t u = 0; u < users; ++u)
        for (auto i = counts.indptr[u]; i < counts.indptr[u + 1]; ++i)
          vectors[u * dim + static_cast<std::size_t>(counts.indices[static_cast<std::size_t>(i)])] +=
              static_cast<float>(counts.values[static_cast<std::size_t>(i)]);
    }
    for (std::size_t u = 0; u < users; ++u) {
      float sum = 0.0f;
      for (std::size_t c = 0; c < dim; ++c) sum += vectors[u * dim + c];
      for (std::size_t c = 0; c < dim; ++c) vectors[u * dim + c] /= sum;  // every user has >= 1 event
    }
    write_npy(out + "user_vectors.npy", vectors.data(), {users, dim});
    write_lines(out + "user_ids.txt", matrix.users);
    return fmt("%.0f users x %.0f dims", static_cast<double>(users), static_cast<double>(dim));
  });

  const auto truth_text = read_pairs(world + "/truth_segments.csv", "user_id", "segment");
  std::vector<std::int32_t> truth(users);
  for (std::size_t u = 0; u < users; ++u) truth[u] = std::stoi(truth_text.at(matrix.users[u]));
  report.true_k = kSegments;

  stage(report, "segment", [&] {
    SegmentOptions segment;
    segment.device = report.device;
    segment.metric = Metric::Cosine;
    segment.n_init = 3;
    segment.seed = options.seed;
    const auto selection = select_k(vectors.data(), users, dim, 2, 10, segment);
    report.chosen_k = selection.best_k;
    report.segment_ari = adjusted_rand_index(selection.best.labels, truth);
    ensure_directory(out + "segments");
    std::string labels = "id,segment\n", table = "k,silhouette,inertia\n";
    for (std::size_t u = 0; u < users; ++u) labels += matrix.users[u] + "," + std::to_string(selection.best.labels[u]) + "\n";
    for (const auto& row : selection.rows) table += fmt("%.0f,%.6f,%.6f\n", row.k, row.silhouette, row.inertia);
    write_text_file(out + "segments/labels.csv", labels);
    write_text_file(out + "segments/model_selection.csv", table);
    const auto profiles = profile_segments(matrix.users, selection.best.labels, selection.best_k, out + "matrix");
    write_profiles_csv(out + "segments/profiles.csv", profiles);
    log_info(format_profiles(profiles));
    return fmt("k = %.0f by silhouette, ARI %.3f vs truth", selection.best_k, report.segment_ari);
  });

  stage(report, "similar", [&] {
    SimilarOptions similar;
    similar.device = report.device;
    similar.k = 10;
    similar.exclude_self = true;
    std::vector<std::int64_t> queries;
    const std::size_t step = std::max<std::size_t>(1, users / static_cast<std::size_t>(options.lookalike_queries));
    for (std::size_t u = 0; u < users && queries.size() < static_cast<std::size_t>(options.lookalike_queries); u += step)
      queries.push_back(static_cast<std::int64_t>(u));
    const TopK top = similar_rows(MatrixView{vectors.data(), users, dim}, queries, similar);
    std::string csv = "query_id,rank,id,score\n";
    std::size_t same = 0, total = 0;
    for (std::size_t q = 0; q < top.queries; ++q)
      for (std::size_t r = 0; r < static_cast<std::size_t>(top.counts[q]); ++r) {
        const auto row = static_cast<std::size_t>(top.index(q, r));
        csv += matrix.users[static_cast<std::size_t>(queries[q])] + "," + std::to_string(r + 1) + "," +
               matrix.users[row] + "," + fmt("%.6f", top.score(q, r)) + "\n";
        same += truth[row] == truth[static_cast<std::size_t>(queries[q])];
        ++total;
      }
    write_text_file(out + "lookalikes.csv", csv);
    report.lookalike_precision = total ? static_cast<double>(same) / static_cast<double>(total) : 0.0;
    std::map<std::int32_t, double> sizes;
    for (auto s : truth) sizes[s] += 1.0;
    for (const auto& entry : sizes) {
      const double share = entry.second / static_cast<double>(users);
      report.random_precision += share * share;
    }
    return fmt("%.0f queries, top 10: %.1f%% share the query's segment (random: %.1f%%)",
               static_cast<double>(queries.size()), 100 * report.lookalike_precision, 100 * report.random_precision);
  });
  return report;
}

std::string format_demo_report(const DemoReport& report) {
  std::string text = "\ncohort demo (device: " + std::string(device_name(report.device)) + ")\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-9s %9s  %s\n", "stage", "seconds", "result");
  text += line;
  for (const auto& s : report.stages) {
    std::snprintf(line, sizeof line, "%-9s %9.2f  %s\n", s.name.c_str(), s.seconds, s.detail.c_str());
    text += line;
  }
  std::snprintf(line, sizeof line,
                "\nground truth: join counts exact for %zu of %zu stores; segments k = %d (truth %d), ARI %.3f; "
                "look-alike precision %.3f (random %.3f)\n",
                report.stores_exact, report.stores, report.chosen_k, report.true_k, report.segment_ari,
                report.lookalike_precision, report.random_precision);
  return text + line;
}

}  // namespace cohort
