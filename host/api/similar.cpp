/*
 * similar.cpp: the public `similar` entry points. They validate once (finite values,
 * zero rows, shapes, query rows, k), build a SimilarProblem and dispatch to the CPU or
 * CUDA backend, which may then assume valid input.
 */
#include "cohort/similar.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "cohort/error.hpp"
#include "cohort/progress.hpp"
#include "host/cpu/similar_cpu.hpp"
#ifdef COHORT_WITH_CUDA
#include "host/cuda/similar_cuda.hpp"
#endif

namespace cohort {
namespace {

std::string describe_row(std::size_t row, const std::vector<std::string>* ids) {
  std::string text = "row " + std::to_string(row);
  if (ids && row < ids->size()) text += " (id '" + (*ids)[row] + "')";
  return text;
}

// Throws InvalidInput for the first row (smallest index) holding a non-finite value,
// or, unless allow_zero, the first all-zero row.
void check_rows(MatrixView m, bool allow_zero, const std::string& name, const std::vector<std::string>* ids) {
  const auto rows = static_cast<std::int64_t>(m.rows);
  std::int64_t first_bad = rows, first_zero = rows;
#pragma omp parallel for schedule(static) reduction(min : first_bad, first_zero)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* x = m.data + static_cast<std::size_t>(r) * m.cols;
    bool finite = true, zero = true;
    for (std::size_t c = 0; c < m.cols; ++c) {
      finite = finite && std::isfinite(x[c]);
      zero = zero && x[c] == 0.0f;
    }
    if (!finite) first_bad = std::min(first_bad, r);
    if (zero) first_zero = std::min(first_zero, r);
  }
  if (first_bad < rows) {
    const auto row = static_cast<std::size_t>(first_bad);
    const float* x = m.data + row * m.cols;
    std::size_t col = 0;
    while (col < m.cols && std::isfinite(x[col])) ++col;
    char value[32];
    std::snprintf(value, sizeof value, "%g", static_cast<double>(x[col]));
    throw InvalidInput(name, 0, describe_row(row, ids) + ": value " + value + " in column " + std::to_string(col) +
                                    " is not finite (NaN and infinity have no cosine similarity)");
  }
  if (!allow_zero && first_zero < rows)
    throw InvalidInput(name, 0, describe_row(static_cast<std::size_t>(first_zero), ids) +
                                    " is all zeros: its cosine similarity is undefined (allow_zero / --allow-zero "
                                    "scores it 0 against everything)");
}

TopK run(detail::SimilarProblem& problem, const SimilarOptions& options) {
  const Device device = resolve_device(options.device);
  Progress progress("similar", problem.query_count, "queries");
  problem.progress = &progress;
  TopK result;
#ifdef COHORT_WITH_CUDA
  if (device == Device::Cuda) {
    result = cuda::similar_cuda(problem);
    progress.finish();
    return result;
  }
#endif
  (void)device;
  result = detail::similar_cpu(problem);
  progress.finish();
  return result;
}

detail::SimilarProblem make_problem(MatrixView corpus, const SimilarOptions& options) {
  if (options.k < 1) throw InvalidInput("k must be >= 1 (got " + std::to_string(options.k) + ")");
  if (corpus.rows > 0 && corpus.cols == 0) throw InvalidInput(options.corpus_name, 0, "vectors have 0 dimensions");
  if (corpus.rows > 0 && !corpus.data) throw InvalidInput(options.corpus_name, 0, "no data");
  if (!options.allowed.empty() && options.allowed.size() != corpus.rows)
    throw InvalidInput("candidate filter has " + std::to_string(options.allowed.size()) + " entries but the corpus has " +
                       std::to_string(corpus.rows) + " rows");
  check_rows(corpus, options.allow_zero, options.corpus_name, options.corpus_ids);
  detail::SimilarProblem problem;
  problem.corpus = corpus;
  problem.k = std::min(static_cast<std::size_t>(options.k), corpus.rows);
  problem.allowed = options.allowed.empty() ? nullptr : options.allowed.data();
  problem.chunk_rows = options.chunk_rows;
  problem.query_batch = options.query_batch;
  problem.gpu_memory = options.gpu_memory;
  problem.precision = options.precision;
  problem.cublas_scores = options.cublas_scores;
  return problem;
}

}  // namespace

TopK similar_rows(MatrixView corpus, const std::vector<std::int64_t>& query_rows, const SimilarOptions& options) {
  detail::SimilarProblem problem = make_problem(corpus, options);
  for (std::size_t i = 0; i < query_rows.size(); ++i)
    if (query_rows[i] < 0 || static_cast<std::size_t>(query_rows[i]) >= corpus.rows)
      throw InvalidInput("query " + std::to_string(i) + " names corpus row " + std::to_string(query_rows[i]) +
                         ", outside 0.." + std::to_string(corpus.rows) + "-1");
  problem.query_rows = query_rows.data();
  problem.query_count = query_rows.size();
  if (options.exclude_self) problem.excluded = query_rows.data();
  return run(problem, options);
}

TopK similar_vectors(MatrixView corpus, MatrixView queries, const SimilarOptions& options) {
  if (options.exclude_self)
    throw InvalidInput("exclude_self needs queries given by id (query vectors have no corpus row to exclude)");
  detail::SimilarProblem problem = make_problem(corpus, options);
  if (queries.rows > 0 && queries.cols != corpus.cols)
    throw InvalidInput(options.queries_name, 0,
                       "query vectors have " + std::to_string(queries.cols) + " dimensions but the embeddings have " +
                           std::to_string(corpus.cols));
  if (queries.rows > 0 && !queries.data) throw InvalidInput(options.queries_name, 0, "no data");
  check_rows(queries, options.allow_zero, options.queries_name, nullptr);
  problem.queries = queries;
  problem.query_count = queries.rows;
  return run(problem, options);
}

}  // namespace cohort
