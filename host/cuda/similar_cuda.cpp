/*
 * similar_cuda.cpp: exact cosine top-k on the GPU.
 *
 * Memory (all within the budget, never the Q x N score matrix):
 *   corpus chunk  C rows x d (the whole corpus when it fits in half the budget; else
 *                 chunks streamed once per query batch), normalized on the device
 *   query batch   B x d, normalized on the device
 *   candidates    B x cap slots of (fast, index, exact), cap = T + 2k + 1024, for
 *                 tiles of T <= 8192 corpus rows
 *   score tile    B x T, only with cublas_scores
 * Per query batch: for each tile, fused_scores_and_filter computes the fast scores (FP32
 * FMAs by default; TF32 tensor cores, or BF16 copies of the normalized rows, when
 * SimilarOptions::precision asks, with the window widened to match) and appends the rows
 * reaching the running threshold, without writing the scores. With cublas_scores, a
 * cuBLAS GEMM (SGEMM, or cublasGemmEx on the BF16 copies) writes the tile and
 * filter_candidates appends from it. Then prune_candidates (radix select of the k-th
 * best) when a query could overflow on the next tile, and always after the batch's
 * first tile, which is short (max(1024, 4k) rows): before it no threshold exists and
 * every row is appended. At each chunk's end: prune all,
 * then re-score the chunk's candidates with cosine_score. If ties inside the window
 * overflowed a buffer, the batch is redone with twice the slots. Finally the candidates
 * come back to the host and finish_candidates (shared with the CPU) orders them.
 */
#include "host/cuda/similar_cuda.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "cohort/error.hpp"
#include "cohort/progress.hpp"
#include "host/cuda/runtime.hpp"
#include "kernels/similar.hpp"
#include "kernels/similar_element.hpp"

namespace cohort::cuda {
namespace {

constexpr std::size_t kMaxTile = 8192;
constexpr std::size_t kMaxBatch = 4096;        // with cublas_scores: 128 MiB score tiles
constexpr std::size_t kMaxFusedBatch = 16384;  // a fused launch then scores 16384 x 8192 pairs
constexpr std::size_t kSlotBytes = sizeof(float) * 2 + sizeof(std::int64_t);

struct Candidates {
  DeviceBuffer<float> fast, exact, threshold;
  DeviceBuffer<std::int64_t> index;
  DeviceBuffer<unsigned> count;
  DeviceBuffer<int> overflow;
  CandidateBuffers view;

  Candidates(std::size_t queries, std::size_t cap, cudaStream_t stream)
      : fast(queries * cap, stream),
        exact(queries * cap, stream),
        threshold(queries, stream),
        index(queries * cap, stream),
        count(queries, stream),
        overflow(1, stream) {
    view = CandidateBuffers{fast.data(), index.data(), exact.data(), count.data(), threshold.data(), overflow.data(), cap};
  }
};

std::string mib(std::size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

TopK similar_cuda(const detail::SimilarProblem& p) {
  const std::size_t n = p.corpus.rows, d = p.dim(), q = p.query_count, k = p.k;
  TopK result = detail::empty_topk(q, k);
  if (q == 0 || n == 0 || k == 0) return result;
  const bool bf16 = p.precision == GemmPrecision::Bf16, fused = !p.cublas_scores;
  const FusedScores fused_kind = bf16 ? FusedScores::Bf16
                                 : p.precision == GemmPrecision::Tf32 ? FusedScores::Tf32
                                                                      : FusedScores::Fp32;
  const float window = candidate_window(d, p.precision == GemmPrecision::Tf32 ? kTf32InputRounding
                                           : bf16                             ? kBf16InputRounding
                                                                              : 0.0f);

  // ---- plan the memory ----
  const std::size_t budget = p.gpu_memory ? p.gpu_memory : free_device_memory() / 10 * 8;
  const std::size_t row_bytes = d * (sizeof(float) + (bf16 ? sizeof(std::uint16_t) : 0));  // + the BF16 copy
  std::size_t chunk = p.chunk_rows ? std::min(p.chunk_rows, n) : n;
  chunk = std::max<std::size_t>(1, std::min(chunk, budget / 2 / row_bytes));
  const std::size_t tile = std::min(chunk, kMaxTile);
  const std::size_t opening_tile = std::min(tile, std::max<std::size_t>(1024, 4 * k));
  const std::size_t fixed = chunk * row_bytes + (p.allowed ? n : 0);
  std::size_t cap = tile + 2 * k + 1024;
  // Device bytes per query in a batch: its row(s), its candidate slots (and with
  // cublas_scores its score tile row).
  auto per_query_bytes = [&](std::size_t slots) {
    return row_bytes + (fused ? 0 : tile * sizeof(float)) + slots * kSlotBytes + 3 * sizeof(std::int64_t);
  };
  const std::size_t per_query = per_query_bytes(cap);
  std::size_t batch = p.query_batch;
  if (batch == 0) batch = budget > fixed ? (budget - fixed) / per_query : 0;
  batch = std::min({batch, fused ? kMaxFusedBatch : kMaxBatch, q});
  if (batch == 0)
    throw Error("--gpu-memory " + mib(budget) + " is too small: one query needs " + mib(fixed + per_query) +
                " (corpus chunk, " + (fused ? "" : "score tile, ") + std::to_string(cap) + " candidate slots)");
  const std::size_t chunks = (n + chunk - 1) / chunk;

  Stream stream;
  const cudaStream_t s = stream.get();
  std::optional<CublasHandle> blas;  // only for cublas_scores: its start-up is not free
  if (!fused) {
    blas.emplace(s);
    // The window above is derived for this precision: FP32 SGEMM unless asked otherwise.
    COHORT_CUBLAS_TRY(cublasSetMathMode(
        blas->get(), p.precision == GemmPrecision::Tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  }

  DeviceBuffer<float> d_chunk(chunk * d, s), d_queries(batch * d, s), d_scores(fused ? 0 : batch * tile, s);
  DeviceBuffer<std::uint16_t> d_chunk16(bf16 ? chunk * d : 0, s), d_queries16(bf16 ? batch * d : 0, s);
  DeviceBuffer<std::int64_t> d_excluded(p.excluded ? batch : 0, s);
  DeviceBuffer<std::uint8_t> d_allowed(p.allowed ? n : 0, s);
  if (p.allowed) d_allowed.copy_from_host(p.allowed, n, s);
  auto candidates = std::make_unique<Candidates>(batch, cap, s);

  auto load_chunk = [&](std::size_t c) {
    const std::size_t first = c * chunk, rows = std::min(chunk, n - first);
    d_chunk.copy_from_host(p.corpus.data + first * d, rows * d, s);
    normalize_rows(d_chunk.data(), rows, d, s);
    if (bf16) to_bf16(d_chunk.data(), rows * d, d_chunk16.data(), s);
  };
  if (chunks == 1) load_chunk(0);

  std::vector<float> h_queries(batch * d);
  std::vector<unsigned> h_counts(batch);
  std::vector<std::uint64_t> h_offsets(batch + 1);
  std::vector<float> h_fast, h_exact;
  std::vector<std::int64_t> h_index;
  const float alpha = 1.0f, beta = 0.0f;

  for (std::size_t q0 = 0; q0 < q; q0 += batch) {
    const std::size_t qn = std::min(batch, q - q0);
    for (std::size_t i = 0; i < qn; ++i) std::copy(p.query(q0 + i), p.query(q0 + i) + d, h_queries.data() + i * d);
    d_queries.copy_from_host(h_queries.data(), qn * d, s);
    normalize_rows(d_queries.data(), qn, d, s);
    if (bf16) to_bf16(d_queries.data(), qn * d, d_queries16.data(), s);
    if (p.excluded) d_excluded.copy_from_host(p.excluded + q0, qn, s);

    for (;;) {  // redone with more slots if exact ties overflowed a buffer
      const CandidateBuffers& buffers = candidates->view;
      reset_candidates(buffers, qn, s);
      for (std::size_t c = 0; c < chunks; ++c) {
        const std::size_t chunk_first = c * chunk, chunk_rows = std::min(chunk, n - chunk_first);
        if (chunks > 1) load_chunk(c);
        for (std::size_t t = 0, m = 0; t < chunk_rows; t += m) {
          // A batch opens with a short tile: with no threshold yet, every row of it is
          // appended; pruning right after it sets the threshold for the full tiles.
          const bool opening = c == 0 && t == 0;
          m = std::min(opening ? opening_tile : tile, chunk_rows - t);
          const auto first_row = static_cast<std::int64_t>(chunk_first + t);
          const std::int64_t* excluded = p.excluded ? d_excluded.data() : nullptr;
          const std::uint8_t* allowed = p.allowed ? d_allowed.data() : nullptr;
          if (fused) {
            const void* queries = bf16 ? static_cast<const void*>(d_queries16.data()) : d_queries.data();
            const void* rows = bf16 ? static_cast<const void*>(d_chunk16.data() + t * d) : d_chunk.data() + t * d;
            fused_scores_and_filter(fused_kind, queries, rows, qn, m, d, first_row, excluded, allowed, buffers, s);
          } else {
            // Column-major view: scores^T (m x qn) = chunk_tile (d x m)^T * queries (d x qn),
            // i.e. row-major scores (qn x m) with query i at d_scores + i * m.
            if (bf16)
              COHORT_CUBLAS_TRY(cublasGemmEx(blas->get(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m),
                                             static_cast<int>(qn), static_cast<int>(d), &alpha,
                                             d_chunk16.data() + t * d, CUDA_R_16BF, static_cast<int>(d),
                                             d_queries16.data(), CUDA_R_16BF, static_cast<int>(d), &beta,
                                             d_scores.data(), CUDA_R_32F, static_cast<int>(m), CUBLAS_COMPUTE_32F,
                                             CUBLAS_GEMM_DEFAULT));
            else
              COHORT_CUBLAS_TRY(cublasSgemm(blas->get(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m),
                                            static_cast<int>(qn), static_cast<int>(d), &alpha, d_chunk.data() + t * d,
                                            static_cast<int>(d), d_queries.data(), static_cast<int>(d), &beta,
                                            d_scores.data(), static_cast<int>(m)));
            filter_candidates(d_scores.data(), qn, m, first_row, excluded, allowed, buffers, s);
          }
          prune_candidates(buffers, qn, k, window, opening ? 0 : buffers.cap - tile, s);
        }
        prune_candidates(buffers, qn, k, window, 0, s);
        rescore_candidates(buffers, qn, d_queries.data(), d_chunk.data(), static_cast<std::int64_t>(chunk_first),
                           chunk_rows, d, s);
      }
      int overflow = 0;
      COHORT_CUDA_TRY(cudaMemcpyAsync(&overflow, buffers.overflow, sizeof overflow, cudaMemcpyDeviceToHost, s));
      stream.synchronize();
      if (!overflow) break;
      cap *= 2;
      if (fixed + batch * per_query_bytes(cap) > budget)
        throw Error("more than " + std::to_string(cap / 2) +
                    " rows tie within float rounding of a query's k-th best score; raise --gpu-memory (now " +
                    mib(budget) + ") or use --device cpu");
      log_verbose("similar: exact ties filled the candidate buffers; retrying with " + std::to_string(cap) + " slots");
      candidates.reset();
      candidates = std::make_unique<Candidates>(batch, cap, s);
    }

    // ---- bring the candidates back and finish on the host (shared with the CPU) ----
    const CandidateBuffers& buffers = candidates->view;
    COHORT_CUDA_TRY(cudaMemcpyAsync(h_counts.data(), buffers.count, qn * sizeof(unsigned), cudaMemcpyDeviceToHost, s));
    stream.synchronize();
    h_offsets[0] = 0;
    for (std::size_t i = 0; i < qn; ++i) h_offsets[i + 1] = h_offsets[i] + h_counts[i];
    const std::size_t total = h_offsets[qn];
    DeviceBuffer<std::uint64_t> d_offsets(qn, s);
    DeviceBuffer<float> d_fast(total, s), d_exact(total, s);
    DeviceBuffer<std::int64_t> d_index(total, s);
    d_offsets.copy_from_host(h_offsets.data(), qn, s);
    gather_candidates(buffers, qn, d_offsets.data(), d_fast.data(), d_index.data(), d_exact.data(), s);
    h_fast.resize(total);
    h_exact.resize(total);
    h_index.resize(total);
    d_fast.copy_to_host(h_fast.data(), total, s);
    d_exact.copy_to_host(h_exact.data(), total, s);
    d_index.copy_to_host(h_index.data(), total, s);
    stream.synchronize();
#pragma omp parallel
    {
      std::vector<detail::Candidate> items;
#pragma omp for schedule(dynamic, 64)
      for (std::int64_t ii = 0; ii < static_cast<std::int64_t>(qn); ++ii) {
        const auto i = static_cast<std::size_t>(ii);
        items.clear();
        for (std::uint64_t at = h_offsets[i]; at < h_offsets[i + 1]; ++at)
          items.push_back(detail::Candidate{h_fast[at], h_exact[at], h_index[at]});
        const std::size_t qi = q0 + i;
        result.counts[qi] = static_cast<std::int64_t>(detail::finish_candidates(
            items, k, window, [](detail::Candidate&) {}, result.indices.data() + qi * k, result.scores.data() + qi * k));
      }
    }
    if (p.progress) p.progress->add(qn);
  }
  return result;
}

}  // namespace cohort::cuda
