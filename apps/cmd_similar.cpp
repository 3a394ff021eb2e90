/*
 * cmd_similar.cpp: `cohort similar`: the k most similar rows (cosine) for queries given
 * by id, by file (ids or vectors), all rows, or the champions of an item in a
 * `cohort matrix` output; exact results on either backend (see cohort/similar.hpp).
 * Output: CSV query_id,rank,id,score (rank from 1), or with a .npy --out the two files
 * <stem>.ids.npy (int64 corpus rows, -1 pads) and <stem>.scores.npy (float32, NaN pads),
 * queries x min(k, N), queries in input order.
 */
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <unordered_map>

#include "apps/command.hpp"
#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/npy.hpp"
#include "cohort/progress.hpp"
#include "cohort/similar.hpp"
#include "cohort/sparse.hpp"

namespace cohort::app {
namespace {

namespace fs = std::filesystem;

CommonOptions common;
std::string embeddings_path, ids_path, query_list, queries_path, out_path, only_ids, exclude_ids;
std::string champions_of, matrix_dir, champions_event;
bool all_queries = false;
std::size_t champions = 1;
double gpu_memory_mib = 0.0;
std::string precision = "fp32";
SimilarOptions options;

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

using IdIndex = std::unordered_map<std::string, std::int64_t>;

std::int64_t lookup(const IdIndex& index, const std::string& id, const std::string& what) {
  const auto it = index.find(id);
  if (it == index.end()) throw InvalidInput(what + " '" + id + "' is not among the embeddings' ids");
  return it->second;
}

// The matrix file to rank champions by: --champions-event, else counts.mtx, else the
// first per-event matrix (a stem without further dots) in name order.
std::string champions_matrix_file() {
  if (!champions_event.empty()) return (fs::path(matrix_dir) / (champions_event + ".mtx")).string();
  if (fs::exists(fs::path(matrix_dir) / "counts.mtx")) return (fs::path(matrix_dir) / "counts.mtx").string();
  std::vector<std::string> plain, any;
  if (fs::is_directory(matrix_dir))
    for (const auto& entry : fs::directory_iterator(matrix_dir)) {
      const std::string name = entry.path().filename().string();
      if (!ends_with(name, ".mtx")) continue;
      any.push_back(name);
      if (name.find('.') == name.size() - 4) plain.push_back(name);
    }
  auto& pick = plain.empty() ? any : plain;
  if (pick.empty()) throw InvalidInput(matrix_dir, 0, "no .mtx matrix in this directory (expected a `cohort matrix` output)");
  std::sort(pick.begin(), pick.end());
  return (fs::path(matrix_dir) / pick.front()).string();
}

// The ids of the M users with the largest value in the item's column (ties: smaller row).
std::vector<std::string> champion_ids() {
  const std::string items_path = (fs::path(matrix_dir) / "items.txt").string();
  const std::string users_path = (fs::path(matrix_dir) / "users.txt").string();
  const auto items = read_lines(items_path);
  const auto users = read_lines(users_path);
  const auto item = std::find(items.begin(), items.end(), champions_of);
  if (item == items.end()) throw InvalidInput(items_path, 0, "no item '" + champions_of + "'");
  const auto column = static_cast<std::int64_t>(item - items.begin());
  const std::string mtx = champions_matrix_file();
  const Csr matrix = read_mtx(mtx);
  if (matrix.rows != static_cast<std::int64_t>(users.size()) || matrix.cols != static_cast<std::int64_t>(items.size()))
    throw InvalidInput(mtx, 0, "is " + std::to_string(matrix.rows) + " x " + std::to_string(matrix.cols) + " but " +
                                   users_path + " and " + items_path + " list " + std::to_string(users.size()) +
                                   " users and " + std::to_string(items.size()) + " items");
  std::vector<std::pair<double, std::int64_t>> ranked;
  for (std::int64_t row = 0; row < matrix.rows; ++row) {
    const double value = matrix.at(row, column);
    if (value > 0.0) ranked.emplace_back(value, row);
  }
  if (ranked.empty()) throw InvalidInput(mtx, 0, "item '" + champions_of + "' has no user with a positive value");
  const std::size_t m = std::min(champions, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(m), ranked.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < m; ++i) ids.push_back(users[static_cast<std::size_t>(ranked[i].second)]);
  log_info("champions of '" + champions_of + "' in " + mtx + ": " + std::to_string(m) + " user(s), top value " +
           std::to_string(ranked.front().first));
  return ids;
}

std::vector<std::uint8_t> candidate_filter(const IdIndex& index, std::size_t rows) {
  std::vector<std::uint8_t> allowed;
  if (only_ids.empty() && exclude_ids.empty()) return allowed;
  allowed.assign(rows, only_ids.empty() ? 1 : 0);
  auto apply = [&](const std::string& path, std::uint8_t value) {
    std::size_t unknown = 0;
    for (const auto& id : read_lines(path)) {
      if (id.empty()) continue;
      const auto it = index.find(id);
      if (it == index.end()) ++unknown;
      else allowed[static_cast<std::size_t>(it->second)] = value;
    }
    if (unknown > 0) log_warning(path + ": " + std::to_string(unknown) + " id(s) are not among the embeddings' ids");
  };
  if (!only_ids.empty()) apply(only_ids, 1);
  if (!exclude_ids.empty()) apply(exclude_ids, 0);
  return allowed;
}

void write_csv(const TopK& top, const std::vector<std::string>& query_ids, const Embeddings& e) {
  AtomicFile out(out_path);
  out.write("query_id,rank,id,score\n");
  std::string text;
  char score[32];
  for (std::size_t q = 0; q < top.queries; ++q) {
    const std::string query = csv_escape(query_ids[q]);
    for (std::size_t r = 0; r < static_cast<std::size_t>(top.counts[q]); ++r) {
      std::snprintf(score, sizeof score, "%.9g", static_cast<double>(top.score(q, r)));
      text += query;
      text += ',';
      text += std::to_string(r + 1);
      text += ',';
      text += csv_escape(e.ids[static_cast<std::size_t>(top.index(q, r))]);
      text += ',';
      text += score;
      text += '\n';
    }
    if (text.size() > (std::size_t(1) << 20)) {
      out.write(text);
      text.clear();
    }
  }
  out.write(text);
  out.commit();
}

void write_npy_pair(const TopK& top) {
  const std::string stem = out_path.substr(0, out_path.size() - 4);
  write_npy(stem + ".ids.npy", top.indices.data(), {top.queries, top.k});
  write_npy(stem + ".scores.npy", top.scores.data(), {top.queries, top.k});
  log_info("wrote " + stem + ".ids.npy and " + stem + ".scores.npy");
}

void run_similar() {
  options.device = apply_common(common);
  const int sources = int(!query_list.empty()) + int(!queries_path.empty()) + int(all_queries) + int(!champions_of.empty());
  if (sources != 1) throw InvalidInput("give exactly one of --query, --queries, --all or --champions-of");
  if (!champions_of.empty() && matrix_dir.empty()) throw InvalidInput("--champions-of needs --matrix DIR");
  if (!ends_with(out_path, ".csv") && !ends_with(out_path, ".npy"))
    throw InvalidInput(out_path, 0, "unknown output format (expected .csv or .npy)");
  options.gpu_memory = static_cast<std::size_t>(gpu_memory_mib * 1024.0 * 1024.0);
  options.precision = parse_gemm_precision(precision);

  const Embeddings e = read_embeddings(embeddings_path, ids_path);
  IdIndex index;
  index.reserve(e.rows);
  for (std::size_t i = 0; i < e.rows; ++i) index.emplace(e.ids[i], static_cast<std::int64_t>(i));
  options.corpus_name = embeddings_path;
  options.corpus_ids = &e.ids;
  options.allowed = candidate_filter(index, e.rows);

  std::vector<std::string> query_ids;
  std::vector<std::int64_t> rows;
  TopK top;
  if (ends_with(queries_path, ".npy")) {
    NpyArray<float> vectors = read_npy<float>(queries_path);
    if (vectors.shape.size() > 2) throw InvalidInput(queries_path, 0, "query vectors must be 1-d or 2-d");
    const std::size_t count = vectors.shape.size() == 2 ? vectors.shape[0] : 1;
    const std::size_t dim = vectors.shape.empty() ? 0 : vectors.shape.back();
    for (std::size_t i = 0; i < count; ++i) query_ids.push_back(std::to_string(i));
    options.queries_name = queries_path;
    top = similar_vectors(e.view(), MatrixView{vectors.data.data(), count, dim}, options);
  } else if (ends_with(queries_path, ".csv") && CsvReader(queries_path).header().size() > 1) {
    // Query vectors as CSV embeddings (header; an id, then the values); one column: ids.
    const Embeddings q = read_embeddings(queries_path);
    query_ids = q.ids;
    options.queries_name = queries_path;
    top = similar_vectors(e.view(), q.view(), options);
  } else {
    std::vector<std::string> ids;
    std::string what = "query id";
    if (all_queries) {
      ids = e.ids;
    } else if (!query_list.empty()) {
      ids = split_list(query_list);
    } else if (!queries_path.empty()) {
      for (auto& id : read_lines(queries_path))
        if (!id.empty()) ids.push_back(std::move(id));
      what = "query id (from " + queries_path + ")";
    } else {
      ids = champion_ids();
      what = "champion user id";
    }
    rows.reserve(ids.size());
    for (const auto& id : ids) rows.push_back(lookup(index, id, what));
    query_ids = std::move(ids);
    top = similar_rows(e.view(), rows, options);
  }
  if (ends_with(out_path, ".csv")) write_csv(top, query_ids, e);
  else write_npy_pair(top);
  if (common.quiet) return;  // --quiet: warnings and errors only
  std::printf("%zu queries x top %zu of %zu vectors (d = %zu) on %s -> %s\n", top.queries, top.k, e.rows, e.dim,
              device_name(options.device), out_path.c_str());
}

void setup(CLI::App& app) {
  auto* c = app.add_subcommand("similar", "Exact cosine top-k: the most similar users (look-alikes) per query");
  c->add_option("--embeddings", embeddings_path, "Embeddings: .npy (N x d float32/float16) or .csv (id, values...)")
      ->required();
  c->add_option("--ids", ids_path, "Ids of the .npy rows, one per line (default: row numbers)");
  c->add_option("--query", query_list, "Query ids, comma-separated");
  c->add_option("--queries", queries_path,
                "Query ids (one per line), or query vectors: .npy, or .csv as the CSV embeddings (header; an id, "
                "then the values)");
  c->add_flag("--all", all_queries, "Every row is a query (all look-alikes)");
  c->add_option("--champions-of", champions_of, "Queries = the top users of this item in --matrix");
  c->add_option("--matrix", matrix_dir, "A `cohort matrix` output directory (users.txt, items.txt, *.mtx)");
  c->add_option("--champions", champions, "How many champions of the item")->capture_default_str();
  c->add_option("--champions-event", champions_event,
                "Matrix to rank champions by: DIR/NAME.mtx (default counts.mtx, else the first event matrix)");
  c->add_option("--k", options.k, "Neighbours per query (k >= N returns all rows, sorted)")->capture_default_str();
  c->add_flag("--exclude-self", options.exclude_self, "Leave out the query's own id (duplicate vectors stay)");
  c->add_flag("--allow-zero", options.allow_zero, "Score all-zero vectors 0 instead of failing");
  c->add_option("--only-ids", only_ids, "Return only ids listed in this file (one per line)");
  c->add_option("--exclude-ids", exclude_ids, "Never return ids listed in this file");
  c->add_option("--out", out_path, "Output: .csv (query_id,rank,id,score) or .npy (<stem>.ids.npy + .scores.npy)")
      ->required();
  c->add_option("--chunk-rows", options.chunk_rows, "Corpus rows per block/chunk (0 = automatic)");
  c->add_option("--query-batch", options.query_batch, "Queries per batch (0 = automatic)");
  c->add_option("--gpu-memory", gpu_memory_mib, "CUDA memory budget in MiB (0 = 80% of free memory)");
  c->add_option("--precision", precision,
                "CUDA score products: fp32, or tf32 / bf16 tensor cores; the results are the same exact ids and "
                "scores (more candidates are re-scored); the CPU always multiplies in fp32")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}))
      ->capture_default_str();
  c->add_flag("--cublas-scores", options.cublas_scores,
              "CUDA: cuBLAS scores into a tile in device memory, then a filter (the unfused path, for comparisons); "
              "the default kernel filters scores where it computes them");
  add_common_flags(c, common);
  c->callback(run_similar);
}

}  // namespace
COHORT_REGISTER_COMMAND(50, setup);
}  // namespace cohort::app
