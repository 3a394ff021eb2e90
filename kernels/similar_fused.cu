/*
 * similar_fused.cu: the fast scores of a query batch against a corpus tile and the
 * candidate filter in one kernel, so no score ever goes to memory.
 *
 * Each block computes a 128-query x 128-row score tile (kernels/tile_products.cuh):
 * tensor cores through WMMA for BF16 and TF32 inputs, or plain FP32 FMAs (each thread an
 * 8 x 8 block). The epilogue
 * applies filter_candidates' rule (score >= the query's threshold, not its excluded row,
 * allowed) to every element. Thresholds only rise during a search, so most tiles hold no
 * passing element: a warp first compares its accumulators with the lowest threshold of
 * their rows and skips the tile when none reaches it. Passing elements are appended with
 * one atomicAdd per half-warp: in both layouts below, lanes 0-15 and 16-31 each hold
 * elements of a single query row at a time.
 *
 * The products' summation order differs from cuBLAS's; candidate_window bounds the error
 * of any order, and the exact re-scoring (cosine_score) decides the results.
 */
#include <cuda_bf16.h>
#include <mma.h>

#include <cmath>
#include <cstdint>

#include "host/cuda/runtime.hpp"
#include "kernels/launch.cuh"
#include "kernels/similar.hpp"
#include "kernels/tile_products.cuh"

namespace cohort::cuda {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kTileRows = tile::kRows;  // queries per block
constexpr int kTileCols = tile::kRows;  // corpus rows per block
constexpr int kThreads = tile::kThreads;
constexpr int kStepK = tile::kStepK;
constexpr unsigned kFullMask = 0xffffffffu;
static_assert(kTileRows == tile::kRows && kTileCols == tile::kRows, "tile::stage stages tile::kRows rows");

// What the epilogue needs to decide and append one element.
struct TileFilter {
  std::size_t q0, c0, queries, m;
  std::int64_t first_row;
  const std::int64_t* excluded_rows;  // per query (-1 = none); nullptr = none at all
  const std::uint8_t* allowed;
  CandidateBuffers buffers;
  const float* threshold = nullptr;         // shared: per tile row; +inf past the last query
  const std::int64_t* excluded = nullptr;   // shared: per tile row; -1 = none

  // Sets the block's tile origin and fills the shared per-row threshold and excluded row.
  __device__ void start_block(float* threshold_s, std::int64_t* excluded_s) {
    q0 = static_cast<std::size_t>(blockIdx.y) * kTileRows;
    c0 = static_cast<std::size_t>(blockIdx.x) * kTileCols;
    for (int r = threadIdx.x; r < kTileRows; r += blockDim.x) {
      const std::size_t q = q0 + static_cast<std::size_t>(r);
      threshold_s[r] = q < queries ? buffers.threshold[q] : INFINITY;
      excluded_s[r] = q < queries && excluded_rows ? excluded_rows[q] : -1;
    }
    threshold = threshold_s;
    excluded = excluded_s;
  }

  __device__ bool passes(float score, int row, int col) const {
    if (c0 + col >= m || !(score >= threshold[row])) return false;  // rows past the end never pass
    const std::int64_t index = first_row + static_cast<std::int64_t>(c0 + col);
    return index != excluded[row] && (!allowed || allowed[index]);
  }

  // Called by all 32 lanes; lanes 0-15 hold elements of one tile row, lanes 16-31 of
  // one (possibly other) row. Same slot bookkeeping as filter_kernel in similar.cu.
  __device__ void append(bool pass, float score, int row, int col) const {
    const unsigned ballot = __ballot_sync(kFullMask, pass);
    if (ballot == 0) return;
    const unsigned lane = threadIdx.x & 31u, half = lane & 16u, me = lane & 15u;
    const unsigned mask = (ballot >> half) & 0xffffu;
    const unsigned leader = mask ? static_cast<unsigned>(__ffs(mask) - 1) : 0u;
    const std::size_t q = q0 + static_cast<std::size_t>(row);
    unsigned first = 0;
    if (pass && me == leader) first = atomicAdd(buffers.count + q, static_cast<unsigned>(__popc(mask)));
    first = __shfl_sync(kFullMask, first, static_cast<int>(half + leader));
    if (!pass) return;
    const std::size_t slot = first + static_cast<unsigned>(__popc(mask & ((1u << me) - 1u)));
    if (slot < buffers.cap) {
      const std::size_t at = q * buffers.cap + slot;
      buffers.fast[at] = score;
      buffers.index[at] = first_row + static_cast<std::int64_t>(c0 + col);
      buffers.exact[at] = __int_as_float(0x7fc00000);  // NaN: not re-scored yet
    } else {
      atomicExch(buffers.overflow, 1);
    }
  }
};

// ---- tensor cores (WMMA): 8 warps as 4 (queries) x 2 (corpus rows), 32 x 64 each ----

template <typename T>
struct WmmaInput;
template <>
struct WmmaInput<__nv_bfloat16> {
  using Fragment = __nv_bfloat16;
  static constexpr int kK = 16;
  static constexpr int kPad = 8;  // row stride 80 bytes: the fragment loads hit distinct banks
  template <typename F>
  __device__ static void convert(F&) {}  // to_bf16 rounded the rows already
};
template <>
struct WmmaInput<float> {
  using Fragment = wmma::precision::tf32;
  static constexpr int kK = 8;
  static constexpr int kPad = 4;  // row stride 144 bytes
  template <typename F>
  __device__ static void convert(F& fragment) {
#pragma unroll
    for (int e = 0; e < fragment.num_elements; ++e) fragment.x[e] = wmma::__float_to_tf32(fragment.x[e]);
  }
};

template <typename T>
__global__ void __launch_bounds__(kThreads, 2)
    fused_wmma_kernel(const T* queries, const T* tile_rows, std::size_t d, bool vectors, TileFilter filter) {
  using Input = WmmaInput<T>;
  constexpr int kK = Input::kK, kLd = kStepK + Input::kPad;
  __shared__ __align__(128) T a_s[kTileRows * kLd];
  __shared__ __align__(128) T b_s[kTileCols * kLd];
  __shared__ __align__(128) float scratch_s[kThreads / 32][16 * 16];
  __shared__ float threshold_s[kTileRows];
  __shared__ std::int64_t excluded_s[kTileRows];

  filter.start_block(threshold_s, excluded_s);
  const int warp = threadIdx.x / 32;
  const int warp_row = (warp / 2) * 32, warp_col = (warp % 2) * 64;

  wmma::fragment<wmma::accumulator, 16, 16, kK, float> acc[2][4];
#pragma unroll
  for (auto& row : acc)
#pragma unroll
    for (auto& f : row) wmma::fill_fragment(f, 0.0f);
  for (std::size_t k0 = 0; k0 < d; k0 += kStepK) {
    tile::stage<T, false>(queries, filter.queries, d, filter.q0, k0, vectors, a_s, kLd);
    tile::stage<T, false>(tile_rows, filter.m, d, filter.c0, k0, vectors, b_s, kLd);
    __syncthreads();
    for (int kk = 0; kk < kStepK && k0 + static_cast<std::size_t>(kk) < d; kk += kK) {
      wmma::fragment<wmma::matrix_a, 16, 16, kK, typename Input::Fragment, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, kK, typename Input::Fragment, wmma::col_major> b[4];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        wmma::load_matrix_sync(a[i], a_s + (warp_row + i * 16) * kLd + kk, kLd);
        Input::convert(a[i]);
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        // Column n of B (d x rows) is corpus row n: row-major rows are B in column-major.
        wmma::load_matrix_sync(b[j], b_s + (warp_col + j * 16) * kLd + kk, kLd);
        Input::convert(b[j]);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }

  float* scratch = scratch_s[warp];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int row0 = warp_row + i * 16;
    float lowest = threshold_s[row0 + (threadIdx.x & 15)];  // the same 16 rows in each half
    for (int offset = 8; offset > 0; offset >>= 1) lowest = fminf(lowest, __shfl_xor_sync(kFullMask, lowest, offset));
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      bool maybe = false;
#pragma unroll
      for (int e = 0; e < acc[i][j].num_elements; ++e) maybe |= acc[i][j].x[e] >= lowest;
      if (!__any_sync(kFullMask, maybe)) continue;
      wmma::store_matrix_sync(scratch, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int s = 0; s < 8; ++s) {
        const int r = 2 * s + (threadIdx.x & 31) / 16, c = threadIdx.x & 15;
        const int row = row0 + r, col = warp_col + j * 16 + c;
        const float score = scratch[r * 16 + c];
        filter.append(filter.passes(score, row, col), score, row, col);
      }
      __syncwarp();
    }
  }
}

// ---- FP32 FMAs: tile::fp32_products (each thread an 8 x 8 block) ----

__global__ void __launch_bounds__(kThreads, 2)
    fused_fp32_kernel(const float* queries, const float* tile_rows, std::size_t d, TileFilter filter) {
  __shared__ __align__(16) float a_s[kStepK * tile::kFp32Ld];
  __shared__ __align__(16) float b_s[kStepK * tile::kFp32Ld];
  __shared__ float threshold_s[kTileRows];
  __shared__ std::int64_t excluded_s[kTileRows];

  filter.start_block(threshold_s, excluded_s);
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  float acc[8][8];
  tile::fp32_products(queries, filter.queries, filter.q0, tile_rows, filter.m, filter.c0, d, a_s, b_s, acc);

  bool maybe = false;
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) maybe |= acc[i][j] >= threshold_s[ty * 8 + i];
  if (!__any_sync(kFullMask, maybe)) return;
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int row = ty * 8 + i, col = tile::product_column(tx, j);
      filter.append(filter.passes(acc[i][j], row, col), acc[i][j], row, col);
    }
}

}  // namespace

void fused_scores_and_filter(FusedScores kind, const void* d_queries, const void* d_tile_rows, std::size_t queries,
                             std::size_t m, std::size_t d, std::int64_t first_row, const std::int64_t* d_excluded,
                             const std::uint8_t* d_allowed, const CandidateBuffers& buffers, cudaStream_t stream) {
  if (queries == 0 || m == 0 || d == 0) return;
  const dim3 grid(static_cast<unsigned>(ceil_div<std::size_t>(m, kTileCols)),
                  static_cast<unsigned>(ceil_div<std::size_t>(queries, kTileRows)));
  const TileFilter filter{0, 0, queries, m, first_row, d_excluded, d_allowed, buffers};
  // 16-byte loads need rows of whole 16-byte vectors and 16-byte-aligned bases.
  const auto aligned = [&](std::size_t element_bytes) {
    const auto bases = reinterpret_cast<std::uintptr_t>(d_queries) | reinterpret_cast<std::uintptr_t>(d_tile_rows);
    return (d * element_bytes) % 16 == 0 && bases % 16 == 0;
  };
  switch (kind) {
    case FusedScores::Fp32:
      COHORT_LAUNCH(fused_fp32_kernel, grid, kThreads, 0, stream)(static_cast<const float*>(d_queries),
                                                                  static_cast<const float*>(d_tile_rows), d, filter);
      break;
    case FusedScores::Tf32:
      COHORT_LAUNCH(fused_wmma_kernel<float>, grid, kThreads, 0, stream)(static_cast<const float*>(d_queries),
                                                                         static_cast<const float*>(d_tile_rows), d,
                                                                         aligned(4), filter);
      break;
    case FusedScores::Bf16:
      COHORT_LAUNCH(fused_wmma_kernel<__nv_bfloat16>, grid, kThreads, 0, stream)(
          static_cast<const __nv_bfloat16*>(d_queries), static_cast<const __nv_bfloat16*>(d_tile_rows), d, aligned(2),
          filter);
      break;
  }
  COHORT_CHECK_LAUNCH(stream);
}

}  // namespace cohort::cuda
