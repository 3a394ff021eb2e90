/*
 * similar.hpp: launchers of the `similar` kernels (kernels/similar.cu). Candidate
 * buffers are per query: slots [q * cap, q * cap + count[q]) of three parallel arrays
 * fast (GEMM score), index (corpus row, int64) and exact (cosine_score; NaN until
 * re-scored). All launchers return at once for empty work and check the launch.
 */
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace cohort::cuda {

struct CandidateBuffers {
  float* fast = nullptr;
  std::int64_t* index = nullptr;
  float* exact = nullptr;
  unsigned* count = nullptr;     ///< per query; may exceed cap after an overflow
  float* threshold = nullptr;    ///< per query: running (k-th best fast) - window
  int* overflow = nullptr;       ///< set to 1 when an append found no free slot
  std::size_t cap = 0;           ///< slots per query
};

/// Normalizes rows x d in place with normalize_row (one thread per row).
void normalize_rows(float* d_rows, std::size_t rows, std::size_t d, cudaStream_t stream);

/// out[i] = in[i] rounded to the nearest BF16 (ties to even), as raw bits: the input
/// rounding kBf16InputRounding assumes.
void to_bf16(const float* d_in, std::size_t count, std::uint16_t* d_out, cudaStream_t stream);

/// Sets thresholds to -3 (below every score), counts to 0 and the overflow flag to 0.
void reset_candidates(const CandidateBuffers& buffers, std::size_t queries, cudaStream_t stream);

/// Appends every element of the score tile (queries x m, row q at d_scores + q * m,
/// corpus rows first_row .. first_row + m - 1) that reaches its query's threshold, is
/// not the query's excluded row (d_excluded[q], -1 = none; nullptr = none) and is
/// allowed (d_allowed[row] != 0; nullptr = all).
void filter_candidates(const float* d_scores, std::size_t queries, std::size_t m, std::int64_t first_row,
                       const std::int64_t* d_excluded, const std::uint8_t* d_allowed, const CandidateBuffers& buffers,
                       cudaStream_t stream);

/// For each query holding more than `trigger` candidates (and more than k): finds the
/// k-th best fast score by radix select, raises the threshold to it minus window and
/// drops the candidates below. trigger = 0 prunes every query with more than k.
void prune_candidates(const CandidateBuffers& buffers, std::size_t queries, std::size_t k, float window,
                      std::size_t trigger, cudaStream_t stream);

/// Computes exact = cosine_score for candidates whose row lies in the resident chunk
/// [first_row, first_row + rows) and whose exact is still NaN.
void rescore_candidates(const CandidateBuffers& buffers, std::size_t queries, const float* d_queries_hat,
                        const float* d_chunk_hat, std::int64_t first_row, std::size_t rows, std::size_t d,
                        cudaStream_t stream);

/// Inputs of fused_scores_and_filter: normalized float rows (FP32 FMAs or TF32 tensor
/// cores) or their to_bf16 copies (BF16 tensor cores).
enum class FusedScores { Fp32, Tf32, Bf16 };

/// filter_candidates without the score tile (kernels/similar_fused.cu): computes the
/// fast scores of queries (queries x d rows) against tile rows (m x d rows; row j is
/// corpus row first_row + j) block by block and appends what filter_candidates would.
void fused_scores_and_filter(FusedScores kind, const void* d_queries, const void* d_tile_rows, std::size_t queries,
                             std::size_t m, std::size_t d, std::int64_t first_row, const std::int64_t* d_excluded,
                             const std::uint8_t* d_allowed, const CandidateBuffers& buffers, cudaStream_t stream);

/// Copies each query's candidates to contiguous arrays at d_offsets[q] (host-computed
/// exclusive scan of the counts, which must not exceed cap).
void gather_candidates(const CandidateBuffers& buffers, std::size_t queries, const std::uint64_t* d_offsets,
                       float* d_fast, std::int64_t* d_index, float* d_exact, cudaStream_t stream);

}  // namespace cohort::cuda
