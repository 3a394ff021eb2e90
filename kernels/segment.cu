/*
 * segment.cu: the CUDA k-means steps (see kernels/segment.hpp and host/cpu/segment_cpu.hpp).
 *
 * E-step: from kFusedAssignMinK centroids, nearest_centroids (kernels/segment_fused.cu)
 *   keeps the dots in registers; below, dots_t (k x rows, row-major, centroid-major) =
 *   C X_block^T by one cublasSgemm per block of rows (gemm_centroid_major) and
 *   assign_kernel: one thread per row runs the shared nearest_centroid down its column
 *   (coalesced across the warp). Both count changed labels (integer atomics: exact) and
 *   store the exact squared distance.
 * M-step sums, deterministic: (label, row) pairs radix-sorted by label with CUB (stable,
 *   so rows ascend within a cluster); the host cuts each cluster's run into chunks of
 *   kChunkRows; chunk_sums_kernel sums a chunk's rows in double, one thread per
 *   dimension, in row order; cluster_sums_kernel adds a cluster's chunks in chunk order.
 * k-means|| rounds: oversample_kernel flags rows, CUB DeviceSelect keeps them in row
 *   order; pp_add_kernel is the E-step's nearest_centroid over the round's candidates.
 * Reductions (potentials, inertia): fixed contiguous segments, each a fixed shared-memory
 *   tree in double; the host adds the segment sums in order. No floating-point atomics
 *   anywhere, so a run is bitwise repeatable.
 */
#include "kernels/segment.hpp"

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_select.cuh>

#include <algorithm>
#include <vector>

#include "host/cuda/runtime.hpp"
#include "kernels/launch.cuh"
#include "kernels/segment_element.hpp"
#include "kernels/segment_fused.hpp"

namespace cohort::cuda {
namespace {

using segment::KMeansSteps;

constexpr int kThreads = 256;
constexpr std::size_t kChunkRows = 256;
// From this many centroids the E-step's dots stay in registers (nearest_centroids):
// below it a block's 128-centroid tile would be mostly padding.
constexpr int kFusedAssignMinK = 64;

unsigned grid_for(std::size_t n) {
  return static_cast<unsigned>(std::min<std::size_t>(ceil_div<std::size_t>(n, kThreads), 65535));
}

__global__ void row_norms_kernel(const float* x, std::size_t n, std::size_t d, float* norms) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    norms[i] = segment::squared_norm(x + i * d, d);
}

// out[b] = sum of in[i * stride + offset] over segment b (length seg_len), in double.
template <typename T>
__global__ void segment_sum_kernel(const T* in, std::size_t n, std::size_t stride, std::size_t offset,
                                   std::size_t seg_len, double* out) {
  __shared__ double partial[kThreads];
  const std::size_t begin = blockIdx.x * seg_len;
  const std::size_t end = begin + seg_len < n ? begin + seg_len : n;
  double acc = 0.0;
  for (std::size_t i = begin + threadIdx.x; i < end; i += blockDim.x) acc += static_cast<double>(in[i * stride + offset]);
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) partial[threadIdx.x] += partial[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}

__global__ void pp_start_kernel(const float* x_norm2, const float* dots, float c_norm2, std::size_t n, float* closest) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    closest[i] = segment::expanded_distance(x_norm2[i], c_norm2, dots[i]);
}

__global__ void pp_trial_kernel(const float* x_norm2, const float* closest, const float* c_norm2, int t, std::size_t n,
                                float* trial) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    for (int j = 0; j < t; ++j) {
      const float value = segment::expanded_distance(x_norm2[i], c_norm2[j], trial[i * t + j]);
      trial[i * t + j] = value < closest[i] ? value : closest[i];
    }
}

__global__ void pp_accept_kernel(const float* trial, int t, int j, std::size_t n, float* closest) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    closest[i] = trial[i * t + j];
}

__global__ void oversample_kernel(const float* closest, std::size_t n, double scale, std::uint64_t seed,
                                  unsigned char* keep) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    keep[i] = segment::oversample_keep(seed, i, scale, closest[i]) ? 1 : 0;
}

// k-means|| round: each row's nearest new candidate (dots_t m x rows, centroid-major)
// replaces its closest one when strictly nearer.
__global__ void pp_add_kernel(const float* x_norm2, const float* dots_t, const float* c_norm2, int m, std::size_t first,
                              std::size_t rows, std::int32_t first_index, float* closest, std::int32_t* nearest) {
  for (std::size_t r = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; r < rows; r += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t i = first + r;
    float best_value;
    const std::int32_t best = segment::nearest_centroid(x_norm2[i], dots_t + r, rows, c_norm2, m, &best_value);
    segment::closer_candidate(best_value, best, first_index, closest[i], nearest[i]);
  }
}

__global__ void gather_rows_kernel(const float* x, std::size_t d, const std::int32_t* rows, std::size_t count,
                                   float* out) {
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < count * d; e += std::size_t(gridDim.x) * blockDim.x)
    out[e] = x[std::size_t(rows[e / d]) * d + e % d];
}

// The E-step's tail for row i, shared by both assign paths: counts a changed label (the
// first assign changes all n), stores it and the row's exact squared distance.
__device__ inline void store_label(const float* x, const float* centroids, std::size_t d, std::size_t i,
                                   std::int32_t label, bool first_assign, std::int32_t* labels, double* distance,
                                   unsigned& changed) {
  if (!first_assign && labels[i] != label) ++changed;
  labels[i] = label;
  distance[i] = segment::exact_squared_distance(x + i * d, centroids + std::size_t(label) * d, d);
}

// One atomic per warp instead of one per changed label. Called by every thread after
// its grid-stride loop (no early exit; blocks are whole warps).
__device__ inline void add_changed(unsigned mine, unsigned long long* changed) {
  const unsigned warp_changed = __reduce_add_sync(0xffffffffu, mine);
  if ((threadIdx.x & 31u) == 0 && warp_changed) atomicAdd(changed, static_cast<unsigned long long>(warp_changed));
}

__global__ void assign_kernel(const float* x, const float* x_norm2, const float* dots_t, const float* centroids,
                              const float* c_norm2, int k, std::size_t d, std::size_t first, std::size_t rows,
                              bool first_assign, std::int32_t* labels, double* distance,
                              unsigned long long* changed) {
  unsigned my_changed = 0;
  for (std::size_t r = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; r < rows; r += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t i = first + r;
    float unused;
    // dots_t is centroid-major (k x rows): the warp's reads of one centroid are coalesced
    const std::int32_t label = segment::nearest_centroid(x_norm2[i], dots_t + r, rows, c_norm2, k, &unused);
    store_label(x, centroids, d, i, label, first_assign, labels, distance, my_changed);
  }
  add_changed(my_changed, changed);
}

// The fused E-step's tail: labels from nearest_centroids (kernels/segment_fused.cu).
__global__ void apply_nearest_kernel(const float* x, const float* centroids, std::size_t d, std::size_t n,
                                     const std::int32_t* nearest, bool first_assign, std::int32_t* labels,
                                     double* distance, unsigned long long* changed) {
  unsigned my_changed = 0;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    store_label(x, centroids, d, i, nearest[i], first_assign, labels, distance, my_changed);
  add_changed(my_changed, changed);
}

__global__ void iota_kernel(std::int32_t* out, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    out[i] = static_cast<std::int32_t>(i);
}

// Cluster sizes: a shared-memory histogram per block (k <= kSharedCounts), then one
// global add per (block, cluster), instead of n adds on k addresses. Integers: exact.
// kCountBlocks blocks at most, so each block's histogram gathers many rows.
constexpr int kSharedCounts = 4096;
constexpr std::size_t kCountBlocks = 1024;

__global__ void count_kernel(const std::int32_t* labels, std::size_t n, int k, unsigned long long* counts) {
  __shared__ unsigned local[kSharedCounts];
  for (int c = threadIdx.x; c < k; c += blockDim.x) local[c] = 0;
  __syncthreads();
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    atomicAdd(local + labels[i], 1u);
  __syncthreads();
  for (int c = threadIdx.x; c < k; c += blockDim.x)
    if (local[c]) atomicAdd(counts + c, static_cast<unsigned long long>(local[c]));
}

__global__ void count_global_kernel(const std::int32_t* labels, std::size_t n, unsigned long long* counts) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    atomicAdd(counts + labels[i], 1ull);
}

// One block per chunk of sorted rows; thread j sums dimension j over the chunk in order.
__global__ void chunk_sums_kernel(const float* x, std::size_t d, const std::int32_t* sorted_rows,
                                  const long long* chunk_begin, const long long* chunk_end, double* partial) {
  const long long begin = chunk_begin[blockIdx.x], end = chunk_end[blockIdx.x];
  for (std::size_t j = threadIdx.x; j < d; j += blockDim.x) {
    double acc = 0.0;
    for (long long p = begin; p < end; ++p) acc += static_cast<double>(x[std::size_t(sorted_rows[p]) * d + j]);
    partial[blockIdx.x * d + j] = acc;
  }
}

// One block per cluster: its chunks [first_chunk[c], first_chunk[c + 1]) added in order.
__global__ void cluster_sums_kernel(const double* partial, std::size_t d, const long long* first_chunk, double* sums) {
  const int c = blockIdx.x;
  for (std::size_t j = threadIdx.x; j < d; j += blockDim.x) {
    double acc = 0.0;
    for (long long q = first_chunk[c]; q < first_chunk[c + 1]; ++q) acc += partial[q * d + j];
    sums[c * d + j] = acc;
  }
}

class CudaSteps final : public KMeansSteps {
 public:
  CudaSteps(const float* x, std::size_t n, std::size_t d)
      : n_(n), d_(d), blas_(stream_.get()), d_x_(n * d, stream_.get()), d_x_norm2_(n, stream_.get()),
        d_labels_(n, stream_.get()), d_distance_(n, stream_.get()), d_changed_(1, stream_.get()) {
    d_x_.copy_from_host(x, n * d, stream_.get());
    COHORT_LAUNCH(row_norms_kernel, grid_for(n), kThreads, 0, stream_.get())(d_x_.data(), n, d, d_x_norm2_.data());
    COHORT_CHECK_LAUNCH(stream_.get());
    seg_len_ = std::max<std::size_t>(1024, ceil_div<std::size_t>(n, 1024));
    segments_ = ceil_div(n, seg_len_);
    d_segment_sums_ = DeviceBuffer<double>(segments_, stream_.get());
  }
  std::size_t rows() const override { return n_; }
  std::size_t dims() const override { return d_; }

  double pp_start(const float* center) override {
    d_closest_ = DeviceBuffer<float>(n_, stream_.get());
    ensure(d_nearest_, n_);
    COHORT_CUDA_TRY(cudaMemsetAsync(d_nearest_.data(), 0, n_ * sizeof(std::int32_t), stream_.get()));
    ensure(d_trial_, n_);
    dots_for(center, 1, d_trial_.data());
    COHORT_LAUNCH(pp_start_kernel, grid_for(n_), kThreads, 0, stream_.get())(d_x_norm2_.data(), d_trial_.data(),
                                                                  segment::squared_norm(center, d_), n_,
                                                                  d_closest_.data());
    COHORT_CHECK_LAUNCH(stream_.get());
    return total(d_closest_.data(), 1, 0, nullptr);
  }

  void pp_sample(const std::vector<double>& thresholds, std::vector<std::int64_t>& rows) override {
    std::vector<double> seg;
    total(d_closest_.data(), 1, 0, &seg);
    rows.resize(thresholds.size());
    std::vector<float> values;
    for (std::size_t t = 0; t < thresholds.size(); ++t) {
      // The segment holding the threshold by its (tree-summed) total, then a sequential
      // cumulative sum from there; if rounding leaves that sum short at the segment's
      // end, on into the next segments (the CPU's rule: the first row reaching it).
      double prefix = 0.0;
      std::size_t s = 0;
      while (s + 1 < segments_ && prefix + seg[s] < thresholds[t]) prefix += seg[s++];
      std::size_t row = n_ - 1;
      double running = prefix;
      for (bool found = false; s < segments_ && !found; ++s) {
        const std::size_t begin = s * seg_len_, end = std::min(n_, begin + seg_len_);
        values.resize(end - begin);
        d_closest_.copy_to_host(values.data(), end - begin, stream_.get(), begin);
        stream_.synchronize();
        for (std::size_t i = begin; i < end && !found; ++i)
          if ((running += values[i - begin]) >= thresholds[t]) row = i, found = true;
      }
      rows[t] = static_cast<std::int64_t>(row);
    }
  }

  void pp_trial(const float* candidates, int t, std::vector<double>& potentials) override {
    trial_t_ = t;
    ensure(d_trial_, n_ * t);
    dots_for(candidates, t, d_trial_.data());
    std::vector<float> c_norm2(t);
    for (int j = 0; j < t; ++j) c_norm2[j] = segment::squared_norm(candidates + j * d_, d_);
    ensure(d_c_norm2_, t);
    d_c_norm2_.copy_from_host(c_norm2.data(), t, stream_.get());
    COHORT_LAUNCH(pp_trial_kernel, grid_for(n_), kThreads, 0, stream_.get())(d_x_norm2_.data(), d_closest_.data(),
                                                                  d_c_norm2_.data(), t, n_, d_trial_.data());
    COHORT_CHECK_LAUNCH(stream_.get());
    potentials = column_totals(d_trial_.data(), t);
  }

  void pp_accept(int j) override {
    COHORT_LAUNCH(pp_accept_kernel, grid_for(n_), kThreads, 0, stream_.get())(d_trial_.data(), trial_t_, j, n_, d_closest_.data());
    COHORT_CHECK_LAUNCH(stream_.get());
  }

  void copy_row(std::int64_t row, float* out) override {
    d_x_.copy_to_host(out, d_, stream_.get(), static_cast<std::size_t>(row) * d_);
    stream_.synchronize();
  }

  void copy_rows(const std::vector<std::int64_t>& rows, float* out) override {
    if (rows.empty()) return;
    cudaStream_t s = stream_.get();
    const std::vector<std::int32_t> rows32(rows.begin(), rows.end());  // n < 2^31 (the sorts' int counts)
    ensure(d_rows_, rows.size());
    ensure(d_points_, rows.size() * d_);
    d_rows_.copy_from_host(rows32.data(), rows.size(), s);
    COHORT_LAUNCH(gather_rows_kernel, grid_for(rows.size() * d_), kThreads, 0, s)(d_x_.data(), d_, d_rows_.data(), rows.size(),
                                                                        d_points_.data());
    COHORT_CHECK_LAUNCH(s);
    d_points_.copy_to_host(out, rows.size() * d_, s);
    stream_.synchronize();
  }

  void pp_oversample(double scale, std::uint64_t seed, std::vector<std::int64_t>& rows) override {
    cudaStream_t s = stream_.get();
    ensure(d_keep_, n_);
    ensure(d_rows_, n_);
    ensure(d_sorted_rows_, n_);
    DeviceBuffer<long long> d_selected(1, s);
    COHORT_LAUNCH(oversample_kernel, grid_for(n_), kThreads, 0, s)(d_closest_.data(), n_, scale, seed, d_keep_.data());
    COHORT_CHECK_LAUNCH(s);
    COHORT_LAUNCH(iota_kernel, grid_for(n_), kThreads, 0, s)(d_rows_.data(), n_);
    COHORT_CHECK_LAUNCH(s);
    std::size_t temp_bytes = 0;
    COHORT_CUDA_TRY(cub::DeviceSelect::Flagged(nullptr, temp_bytes, d_rows_.data(), d_keep_.data(),
                                               d_sorted_rows_.data(), d_selected.data(), n_, s));
    ensure(d_temp_, temp_bytes);
    COHORT_CUDA_TRY(cub::DeviceSelect::Flagged(d_temp_.data(), temp_bytes, d_rows_.data(), d_keep_.data(),
                                               d_sorted_rows_.data(), d_selected.data(), n_, s));
    long long selected = 0;
    d_selected.copy_to_host(&selected, 1, s);
    stream_.synchronize();
    std::vector<std::int32_t> picked(static_cast<std::size_t>(selected));
    d_sorted_rows_.copy_to_host(picked.data(), picked.size(), s);
    stream_.synchronize();
    rows.assign(picked.begin(), picked.end());
  }

  double pp_add(const float* candidates, int m, std::int32_t first_index) override {
    cudaStream_t s = stream_.get();
    const std::size_t block = upload_centres(candidates, m);
    for (std::size_t first_row = 0; first_row < n_; first_row += block) {
      const std::size_t rows = std::min(block, n_ - first_row);
      gemm_centroid_major(d_centroids_.data(), m, d_x_.data() + first_row * d_, rows, d_dots_.data());
      COHORT_LAUNCH(pp_add_kernel, grid_for(rows), kThreads, 0, s)(d_x_norm2_.data(), d_dots_.data(), d_c_norm2_.data(), m,
                                                        first_row, rows, first_index, d_closest_.data(),
                                                        d_nearest_.data());
      COHORT_CHECK_LAUNCH(s);
    }
    return total(d_closest_.data(), 1, 0, nullptr);
  }

  void pp_nearest_counts(int m, std::vector<std::int64_t>& counts) override {
    counts = label_counts(d_nearest_.data(), m);
  }

  std::size_t assign(const float* centroids, int k, bool spherical, double* inertia) override {
    const bool first = !assigned_;
    assigned_ = true;
    COHORT_CUDA_TRY(cudaMemsetAsync(d_changed_.data(), 0, sizeof(unsigned long long), stream_.get()));
    if (k >= kFusedAssignMinK) {
      // The dots stay in registers (kernels/segment_fused.cu): no rows x k matrix in memory.
      upload_centres(centroids, k, false);
      ensure(d_assigned_, n_);
      nearest_centroids(d_x_.data(), d_x_norm2_.data(), n_, d_, d_centroids_.data(), d_c_norm2_.data(), k,
                        d_assigned_.data(), stream_.get());
      COHORT_LAUNCH(apply_nearest_kernel, grid_for(n_), kThreads, 0, stream_.get())(d_x_.data(), d_centroids_.data(), d_, n_,
                                                                         d_assigned_.data(), first, d_labels_.data(),
                                                                         d_distance_.data(), d_changed_.data());
      COHORT_CHECK_LAUNCH(stream_.get());
      return finish_assign(first, spherical, inertia);
    }
    const std::size_t block = upload_centres(centroids, k);
    for (std::size_t first_row = 0; first_row < n_; first_row += block) {
      const std::size_t rows = std::min(block, n_ - first_row);
      gemm_centroid_major(d_centroids_.data(), k, d_x_.data() + first_row * d_, rows, d_dots_.data());
      COHORT_LAUNCH(assign_kernel, grid_for(rows), kThreads, 0, stream_.get())(
          d_x_.data(), d_x_norm2_.data(), d_dots_.data(), d_centroids_.data(), d_c_norm2_.data(), k, d_, first_row,
          rows, first, d_labels_.data(), d_distance_.data(), d_changed_.data());
      COHORT_CHECK_LAUNCH(stream_.get());
    }
    return finish_assign(first, spherical, inertia);
  }

  // The changed labels and the inertia of the assign just queued.
  std::size_t finish_assign(bool first, bool spherical, double* inertia) {
    unsigned long long changed = 0;
    d_changed_.copy_to_host(&changed, 1, stream_.get());
    const double sum = total(d_distance_.data(), 1, 0, nullptr);  // synchronizes
    *inertia = spherical ? 0.5 * sum : sum;  // inertia_term; halving is exact
    return first ? n_ : static_cast<std::size_t>(changed);
  }

  void cluster_sums(int k, std::vector<double>& sums, std::vector<std::int64_t>& counts) override {
    cudaStream_t s = stream_.get();
    counts = label_counts(d_labels_.data(), k);
    // Stable radix sort of (label, row) pairs.
    ensure(d_rows_, n_);
    ensure(d_sorted_rows_, n_);
    ensure(d_sorted_labels_, n_);
    COHORT_LAUNCH(iota_kernel, grid_for(n_), kThreads, 0, s)(d_rows_.data(), n_);
    COHORT_CHECK_LAUNCH(s);
    int end_bit = 1;
    while ((1 << end_bit) < k) ++end_bit;
    std::size_t temp_bytes = 0;
    COHORT_CUDA_TRY(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, d_labels_.data(), d_sorted_labels_.data(),
                                                    d_rows_.data(), d_sorted_rows_.data(), static_cast<int>(n_), 0,
                                                    end_bit, s));
    ensure(d_temp_, temp_bytes);
    COHORT_CUDA_TRY(cub::DeviceRadixSort::SortPairs(d_temp_.data(), temp_bytes, d_labels_.data(),
                                                    d_sorted_labels_.data(), d_rows_.data(), d_sorted_rows_.data(),
                                                    static_cast<int>(n_), 0, end_bit, s));
    // Chunk table: each cluster's run of sorted rows in pieces of kChunkRows.
    std::vector<long long> begin, end, first_chunk(k + 1, 0);
    long long offset = 0;
    for (int c = 0; c < k; ++c) {
      first_chunk[c] = static_cast<long long>(begin.size());
      for (long long at = 0; at < counts[c]; at += kChunkRows) {
        begin.push_back(offset + at);
        end.push_back(offset + std::min<long long>(counts[c], at + kChunkRows));
      }
      offset += counts[c];
    }
    first_chunk[k] = static_cast<long long>(begin.size());
    const std::size_t chunks = begin.size();
    DeviceBuffer<long long> d_begin(chunks, s), d_end(chunks, s), d_first(k + 1, s);
    d_begin.copy_from_host(begin.data(), chunks, s);
    d_end.copy_from_host(end.data(), chunks, s);
    d_first.copy_from_host(first_chunk.data(), k + 1, s);
    DeviceBuffer<double> d_partial(std::max<std::size_t>(1, chunks * d_), s), d_sums(static_cast<std::size_t>(k) * d_, s);
    const unsigned threads = static_cast<unsigned>(std::min<std::size_t>(256, ceil_div<std::size_t>(d_, 32) * 32));
    if (chunks > 0) {
      COHORT_LAUNCH(chunk_sums_kernel, static_cast<unsigned>(chunks), threads, 0, s)(d_x_.data(), d_, d_sorted_rows_.data(),
                                                                          d_begin.data(), d_end.data(), d_partial.data());
      COHORT_CHECK_LAUNCH(s);
    }
    COHORT_LAUNCH(cluster_sums_kernel, static_cast<unsigned>(k), threads, 0, s)(d_partial.data(), d_, d_first.data(), d_sums.data());
    COHORT_CHECK_LAUNCH(s);
    sums.resize(static_cast<std::size_t>(k) * d_);
    d_sums.copy_to_host(sums.data(), sums.size(), s);
    stream_.synchronize();
  }

  void row_distances(std::vector<double>& out) override {
    out.resize(n_);
    d_distance_.copy_to_host(out.data(), n_, stream_.get());
    stream_.synchronize();
  }

  void labels(std::vector<std::int32_t>& out) override {
    out.resize(n_);
    d_labels_.copy_to_host(out.data(), n_, stream_.get());
    stream_.synchronize();
  }

 private:
  template <typename T>
  void ensure(DeviceBuffer<T>& buffer, std::size_t size) {
    if (buffer.size() < size) buffer = DeviceBuffer<T>(size, stream_.get());
  }

  // Centres (m x d, host) and their squared norms to the device for the blocked
  // centroid-major GEMM; returns the rows per block (dots at most 64 Mi floats, 256 MiB)
  // and, with `dots`, sizes the dots buffer for them.
  std::size_t upload_centres(const float* centres, int m, bool dots = true) {
    cudaStream_t s = stream_.get();
    ensure(d_centroids_, static_cast<std::size_t>(m) * d_);
    d_centroids_.copy_from_host(centres, static_cast<std::size_t>(m) * d_, s);
    std::vector<float> c_norm2(m);
    for (int j = 0; j < m; ++j) c_norm2[j] = segment::squared_norm(centres + j * d_, d_);
    ensure(d_c_norm2_, m);
    d_c_norm2_.copy_from_host(c_norm2.data(), m, s);
    const std::size_t block = std::max<std::size_t>(1, std::min<std::size_t>(n_, (std::size_t(1) << 26) / m));
    if (dots) ensure(d_dots_, block * m);
    return block;
  }

  // How many of the n labels (in [0, m)) take each value.
  std::vector<std::int64_t> label_counts(const std::int32_t* d_labels, int m) {
    cudaStream_t s = stream_.get();
    DeviceBuffer<unsigned long long> d_counts(m, s);
    COHORT_CUDA_TRY(cudaMemsetAsync(d_counts.data(), 0, m * sizeof(unsigned long long), s));
    if (m <= kSharedCounts)
      COHORT_LAUNCH(count_kernel, static_cast<unsigned>(std::min<std::size_t>(grid_for(n_), kCountBlocks)), kThreads, 0, s)(
          d_labels, n_, m, d_counts.data());
    else
      COHORT_LAUNCH(count_global_kernel, grid_for(n_), kThreads, 0, s)(d_labels, n_, d_counts.data());
    COHORT_CHECK_LAUNCH(s);
    std::vector<unsigned long long> host(m);
    d_counts.copy_to_host(host.data(), m, s);
    stream_.synchronize();
    return std::vector<std::int64_t>(host.begin(), host.end());
  }

  // out (rows x m, row-major) = x_rows (rows x d) * points^T (points: m x d on the device).
  void gemm(const float* d_points, int m, const float* d_rows, std::size_t rows, float* out) {
    const float one = 1.0f, zero = 0.0f;
    COHORT_CUBLAS_TRY(cublasSgemm(blas_.get(), CUBLAS_OP_T, CUBLAS_OP_N, m, static_cast<int>(rows),
                                  static_cast<int>(d_), &one, d_points, static_cast<int>(d_), d_rows,
                                  static_cast<int>(d_), &zero, out, m));
  }

  // out (m x rows, row-major) = points * x_rows^T: column-major that is the rows x m
  // matrix x_rows (op T of the d x rows column-major view) times points^T (d x m).
  void gemm_centroid_major(const float* d_points, int m, const float* d_rows, std::size_t rows, float* out) {
    const float one = 1.0f, zero = 0.0f;
    COHORT_CUBLAS_TRY(cublasSgemm(blas_.get(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows), m,
                                  static_cast<int>(d_), &one, d_rows, static_cast<int>(d_), d_points,
                                  static_cast<int>(d_), &zero, out, static_cast<int>(rows)));
  }

  void dots_for(const float* host_points, int m, float* out) {
    ensure(d_points_, static_cast<std::size_t>(m) * d_);
    d_points_.copy_from_host(host_points, static_cast<std::size_t>(m) * d_, stream_.get());
    // Blocks keep each GEMM's row count below INT_MAX.
    const std::size_t block = std::size_t(1) << 28;
    for (std::size_t first = 0; first < n_; first += block)
      gemm(d_points_.data(), m, d_x_.data() + first * d_, std::min(block, n_ - first), out + first * m);
  }

  // total() of each of the t columns of in (n x t), with one wait instead of t.
  std::vector<double> column_totals(const float* in, int t) {
    ensure(d_segment_sums_, segments_ * t);
    for (int j = 0; j < t; ++j) {
      COHORT_LAUNCH(segment_sum_kernel<float>, static_cast<unsigned>(segments_), kThreads, 0, stream_.get())(
          in, n_, t, j, seg_len_, d_segment_sums_.data() + j * segments_);
      COHORT_CHECK_LAUNCH(stream_.get());
    }
    std::vector<double> host(segments_ * t);
    d_segment_sums_.copy_to_host(host.data(), host.size(), stream_.get());
    stream_.synchronize();
    std::vector<double> totals(t, 0.0);
    for (int j = 0; j < t; ++j)
      for (std::size_t q = 0; q < segments_; ++q) totals[j] += host[j * segments_ + q];  // total()'s order
    return totals;
  }

  // Sum of in[i * stride + offset] over all rows: fixed segments, added in order on the host.
  template <typename T>
  double total(const T* in, std::size_t stride, std::size_t offset, std::vector<double>* per_segment) {
    COHORT_LAUNCH(segment_sum_kernel<T>, static_cast<unsigned>(segments_), kThreads, 0, stream_.get())(
        in, n_, stride, offset, seg_len_, d_segment_sums_.data());
    COHORT_CHECK_LAUNCH(stream_.get());
    std::vector<double> local(segments_);
    std::vector<double>& host = per_segment ? *per_segment : local;
    host.resize(segments_);
    d_segment_sums_.copy_to_host(host.data(), segments_, stream_.get());
    stream_.synchronize();
    double sum = 0.0;
    for (double v : host) sum += v;
    return sum;
  }

  std::size_t n_, d_;
  Stream stream_;
  CublasHandle blas_;
  DeviceBuffer<float> d_x_, d_x_norm2_;
  DeviceBuffer<std::int32_t> d_labels_;
  DeviceBuffer<double> d_distance_;
  DeviceBuffer<unsigned long long> d_changed_;
  DeviceBuffer<double> d_segment_sums_;
  DeviceBuffer<float> d_closest_, d_trial_, d_points_, d_c_norm2_, d_centroids_, d_dots_;
  DeviceBuffer<std::int32_t> d_rows_, d_sorted_rows_, d_sorted_labels_, d_nearest_;
  DeviceBuffer<std::int32_t> d_assigned_;  // nearest_centroids of the last fused assign
  DeviceBuffer<unsigned char> d_temp_, d_keep_;
  std::size_t seg_len_ = 1, segments_ = 1;
  int trial_t_ = 0;
  bool assigned_ = false;
};

}  // namespace

std::unique_ptr<segment::KMeansSteps> make_segment_steps(const float* x, std::size_t n, std::size_t d) {
  COHORT_EXPECTS(n < (std::size_t(1) << 31), "the CUDA k-means takes fewer than 2^31 rows (CUB sorts count in int)");
  return std::make_unique<CudaSteps>(x, n, d);
}

}  // namespace cohort::cuda
