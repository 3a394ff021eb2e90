/*
 * similar.hpp: exact cosine top-k ("look-alikes") on the CPU and CUDA backends.
 *
 * For each query vector, the k corpus rows with the largest cosine similarity.
 * Algorithm (both backends): every row is normalized once in float32 by the shared
 * normalize_row (kernels/similar_element.hpp). Fast scores come from a float32 GEMM
 * (cblas_sgemm on the CPU; on the GPU a fused kernel that filters each score where it
 * computes it, with TF32 or BF16 tensor cores when asked) over tiles of queries x
 * corpus rows, never the whole Q x N matrix.
 * A candidate is kept while its fast score is within candidate_window of the running
 * k-th best fast score: that window is twice
 * a proven bound on |fast - exact| for any summation order, so the final candidate set
 * always contains the true top k. Candidates are then re-scored with the shared
 * cosine_score (products of floats accumulated in double in index order, rounded once
 * to float and clamped to [-1, 1]) and ordered by (score desc, index asc). The CPU and
 * CUDA backends therefore return the same indices and bit-identical scores.
 *
 * Memory: the CPU backend holds a normalized copy of the corpus (so 2x the corpus) plus
 * per-thread B x C score blocks; the CUDA backend keeps device memory within
 * SimilarOptions::gpu_memory (corpus chunks, candidate slots; a B x T score tile only
 * with cublas_scores),
 * streaming the corpus in chunks when it does not fit. Both hold the results
 * (queries x k) on the host.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cohort/backend.hpp"

namespace cohort {

/// A dense row-major float32 matrix owned elsewhere.
struct MatrixView {
  const float* data = nullptr;
  std::size_t rows = 0, cols = 0;
};

struct SimilarOptions {
  Device device = Device::Auto;
  /// Neighbours per query, >= 1. k >= the number of eligible rows returns them all.
  std::int64_t k = 10;
  /// similar_rows only: leave out the query's own corpus row. Other rows holding the
  /// same vector (duplicates) stay.
  bool exclude_self = false;
  /// All-zero vectors score 0 against everything instead of being an error.
  bool allow_zero = false;
  /// Corpus rows per block (CPU) / per resident chunk (CUDA); 0 = automatic.
  /// Tiny values force the streaming path; results do not depend on it.
  std::size_t chunk_rows = 0;
  /// Queries per batch; 0 = automatic. Results do not depend on it.
  std::size_t query_batch = 0;
  /// CUDA: device memory budget in bytes; 0 = 80% of the free memory.
  std::size_t gpu_memory = 0;
  /// CUDA: precision of the fast score products. The ids and scores returned are the
  /// same in every mode: a lower precision widens the candidate window
  /// (candidate_window) and more candidates are re-scored exactly. Tf32 lets the
  /// hardware round; Bf16 rounds the normalized rows to nearest itself.
  GemmPrecision precision = GemmPrecision::Fp32;
  /// CUDA: take the fast scores from cuBLAS into a score tile in device memory, then
  /// filter the tile, instead of the default fused kernel that filters the scores where
  /// it computes them (never writing them). For comparisons; results do not depend on it.
  bool cublas_scores = false;
  /// Candidate filter: when not empty (size = corpus rows), only rows with a non-zero
  /// entry can be returned.
  std::vector<std::uint8_t> allowed;
  /// For error messages only: the corpus file and its row ids (may be empty).
  std::string corpus_name = "embeddings";
  const std::vector<std::string>* corpus_ids = nullptr;
  std::string queries_name = "queries";
};

/// Result of a top-k search: `queries` rows of `k` slots, best first.
struct TopK {
  std::size_t queries = 0;
  /// Slots per query: min(options.k, corpus rows).
  std::size_t k = 0;
  /// Corpus row of each slot (queries x k); -1 in unused slots.
  std::vector<std::int64_t> indices;
  /// Cosine score of each slot (queries x k); NaN in unused slots.
  std::vector<float> scores;
  /// Filled slots per query: k, or fewer when fewer rows are eligible
  /// (exclude_self, the candidate filter, a corpus smaller than k).
  std::vector<std::int64_t> counts;

  std::int64_t index(std::size_t query, std::size_t rank) const { return indices[query * k + rank]; }
  float score(std::size_t query, std::size_t rank) const { return scores[query * k + rank]; }
};

/// Top k of each query given as a corpus row (`cohort similar --query/--all`).
/// @pre every value finite (NaN/inf -> InvalidInput naming the row); no all-zero row
///      unless allow_zero; k >= 1; 0 <= query_rows[i] < corpus.rows; corpus.cols >= 1.
/// @note Order: score descending; equal scores (bitwise equal floats after rounding and
///       clamping) by the smaller corpus row first. k >= eligible rows returns all of
///       them in that order. Scores lie in [-1, 1]. Empty queries give an empty result.
TopK similar_rows(MatrixView corpus, const std::vector<std::int64_t>& query_rows, const SimilarOptions& options);

/// Top k of each query vector (`cohort similar --queries FILE.npy`); same contract.
/// @pre queries.cols == corpus.cols; options.exclude_self is false (vectors have no id).
TopK similar_vectors(MatrixView corpus, MatrixView queries, const SimilarOptions& options);

/// Embeddings with their row ids, as read by `cohort similar` and `cohort segment`.
struct Embeddings {
  std::vector<float> data;  ///< rows x dim, row-major
  std::size_t rows = 0, dim = 0;
  std::vector<std::string> ids;  ///< one per row
  std::string path;
  MatrixView view() const { return MatrixView{data.data(), rows, dim}; }
};

/// Reads .npy (N x d float32/float16/float64) with an ids file (one id per line;
/// row numbers "0".."N-1" when ids_path is empty), or CSV (header; first column the id,
/// the rest floats; ids_path must then be empty). Throws InvalidInput for NaN/inf
/// (naming the line or row), an ids file whose length differs from the rows, duplicate
/// ids, or a shape that is not 2-d.
Embeddings read_embeddings(const std::string& path, const std::string& ids_path = "");

}  // namespace cohort
