/*
 * similar_cpu.hpp: the validated problem both `similar` backends receive, the shared
 * candidate bookkeeping, and the CPU backend entry point (internal, not public API).
 */
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "cohort/similar.hpp"

namespace cohort {
class Progress;
}

namespace cohort::detail {

/// A validated top-k problem (host/api/similar.cpp builds it). Values are raw
/// (not normalized); every value is finite and zero rows are allowed only with allow_zero.
struct SimilarProblem {
  MatrixView corpus;
  /// Either query vectors (queries.data != nullptr) or rows of the corpus.
  MatrixView queries;
  const std::int64_t* query_rows = nullptr;
  std::size_t query_count = 0;
  /// Per query: a corpus row that must not be returned (-1: none); nullptr = none at all.
  const std::int64_t* excluded = nullptr;
  /// Corpus rows that may be returned (nullptr = all).
  const std::uint8_t* allowed = nullptr;
  std::size_t k = 0;  ///< slots per query: min(options.k, corpus rows), >= 1 unless the corpus is empty
  std::size_t chunk_rows = 0, query_batch = 0, gpu_memory = 0;
  GemmPrecision precision = GemmPrecision::Fp32;  ///< CUDA only
  bool cublas_scores = false;                     ///< CUDA only
  Progress* progress = nullptr;

  std::size_t dim() const { return corpus.cols; }
  /// Raw vector of query q.
  const float* query(std::size_t q) const {
    return queries.data ? queries.data + q * queries.cols : corpus.data + static_cast<std::size_t>(query_rows[q]) * corpus.cols;
  }
  std::int64_t excluded_row(std::size_t q) const { return excluded ? excluded[q] : -1; }
};

struct Candidate {
  float fast = 0.0f;   ///< GEMM score (approximate)
  float exact = 0.0f;  ///< cosine_score (set before ordering)
  std::int64_t index = 0;
};

/// A query's candidates while the corpus streams past: keeps every row whose fast score
/// is >= (running k-th best fast score) - window, pruning when the list doubles.
class CandidateList {
 public:
  CandidateList(std::size_t k, float window) : k_(k), window_(window), limit_(2 * k + 256) {}
  float threshold() const { return threshold_; }
  std::size_t k() const { return k_; }
  /// Raises the threshold to t (any value <= the k-th best fast score of the rows still
  /// to come plus those already seen, minus the window).
  void raise_threshold(float t) { threshold_ = std::max(threshold_, t); }
  void push(float fast, std::int64_t index) {
    items_.push_back(Candidate{fast, 0.0f, index});
    if (items_.size() >= limit_) prune();
  }
  /// Drops rows below the k-th best fast score minus the window.
  void prune();
  std::vector<Candidate>& items() { return items_; }
  void append(const CandidateList& other) { items_.insert(items_.end(), other.items_.begin(), other.items_.end()); }

 private:
  std::size_t k_;
  float window_;
  std::size_t limit_;
  float threshold_ = -3.0f;  // below every score: keep all until k are seen
  std::vector<Candidate> items_;
};

/// The shared finish: prune with the final threshold, score the survivors with
/// rescore(candidate) when given (else their exact field is already set), order by
/// (exact desc, index asc) and write up to k slots. Returns the number written.
template <typename Rescore>
std::size_t finish_candidates(std::vector<Candidate>& items, std::size_t k, float window, Rescore&& rescore,
                              std::int64_t* out_indices, float* out_scores);

/// The CPU backend: blocked cblas_sgemm + per-query candidate lists, OpenMP threads.
TopK similar_cpu(const SimilarProblem& problem);

/// An empty result of the right shape (unused slots -1 / NaN, counts 0).
TopK empty_topk(std::size_t queries, std::size_t k);

}  // namespace cohort::detail

#include "host/cpu/similar_finish.hpp"
