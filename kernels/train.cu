/*
 * train.cu: thin kernels of the tabular network, each a grid-stride loop around the
 * COHORT_HD code of train_element.hpp that the CPU backend runs too. Sums over the batch
 * run in train_element's segment order (one thread per (segment, feature), then one per
 * feature over the segments), as the CPU's column_sums does, so the only CPU/GPU
 * differences come from cuBLAS's GEMM summation order and, unless deterministic, from
 * the atomic adds of the embedding gradients.
 */
#include "kernels/train.hpp"

#include <cub/device/device_radix_sort.cuh>

#include <algorithm>

#include "host/cuda/runtime.hpp"
#include "kernels/launch.cuh"

namespace cohort::cuda {
namespace {

namespace el = train_element;
constexpr unsigned kThreads = 256;

unsigned blocks_for(std::size_t n) {
  return static_cast<unsigned>(std::min<std::size_t>(ceil_div<std::size_t>(n, kThreads), 65535));
}

#define GRID_STRIDE(i, n) \
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < (n); i += std::size_t(gridDim.x) * blockDim.x)

__global__ void gather_rows_kernel(const std::uint32_t* rows, std::size_t batch, const std::int32_t* cats,
                                   const float* cont, const float* target, std::size_t n_cat, std::size_t n_cont,
                                   std::int32_t* bcats, float* bcont, float* btarget) {
  GRID_STRIDE(r, batch) {
    const std::size_t src = rows[r];
    for (std::size_t c = 0; c < n_cat; ++c) bcats[r * n_cat + c] = cats[src * n_cat + c];
    for (std::size_t k = 0; k < n_cont; ++k) bcont[r * n_cont + k] = cont[src * n_cont + k];
    btarget[r] = target[src];
  }
}

__global__ void embedding_gather_kernel(const float* p, EmbeddingTables t, const std::int32_t* bcats,
                                        std::size_t batch, float* x0, std::size_t ld) {
  GRID_STRIDE(i, batch * t.emb_cols) {
    const std::size_t r = i / t.emb_cols, j = i % t.emb_cols;
    const std::size_t c = static_cast<std::size_t>(t.owner[j]);
    const std::size_t jj = j - t.column[c];
    x0[r * ld + j] = p[t.offset[c] + static_cast<std::size_t>(bcats[r * t.n_cat + c]) * t.width[c] + jj];
  }
}

// keys[c * batch + r] = column c in the bits above code_bits, row r's code in them;
// rows[c * batch + r] = r.
__global__ void scatter_keys_kernel(const std::int32_t* bcats, std::size_t n_cat, std::size_t batch, int code_bits,
                                    std::uint64_t* keys, std::uint32_t* rows) {
  GRID_STRIDE(i, n_cat * batch) {
    const std::size_t c = i / batch, r = i % batch;
    keys[i] = (std::uint64_t(c) << code_bits) | std::uint32_t(bcats[r * n_cat + c]);
    rows[i] = std::uint32_t(r);
  }
}

// Thread (p, j): when sorted position p of j's column starts a run of equal codes, adds
// the run's dx0 values (its rows in order) and then the sum to the code's gradient.
__global__ void embedding_scatter_sorted_kernel(float* g, EmbeddingTables t, const std::uint64_t* keys,
                                                const std::uint32_t* rows, std::size_t batch, const float* dx0,
                                                std::size_t ld, int code_bits) {
  GRID_STRIDE(i, batch * t.emb_cols) {
    const std::size_t p = i / t.emb_cols, j = i % t.emb_cols;
    const std::size_t c = static_cast<std::size_t>(t.owner[j]);
    const std::size_t first = c * batch + p, end = (c + 1) * batch;
    const std::uint64_t key = keys[first];
    if (p > 0 && keys[first - 1] == key) continue;
    float sum = 0.f;
    for (std::size_t q = first; q < end && keys[q] == key; ++q) sum += dx0[std::size_t(rows[q]) * ld + j];
    const std::size_t code = static_cast<std::size_t>(key & ((std::uint64_t(1) << code_bits) - 1));
    g[t.offset[c] + code * t.width[c] + (j - t.column[c])] += sum;
  }
}

__global__ void embedding_scatter_atomic_kernel(float* g, EmbeddingTables t, const std::int32_t* bcats,
                                                std::size_t batch, const float* dx0, std::size_t ld) {
  GRID_STRIDE(i, batch * t.emb_cols) {
    const std::size_t r = i / t.emb_cols, j = i % t.emb_cols;
    const std::size_t c = static_cast<std::size_t>(t.owner[j]);
    const std::size_t jj = j - t.column[c];
    atomicAdd(g + t.offset[c] + static_cast<std::size_t>(bcats[r * t.n_cat + c]) * t.width[c] + jj, dx0[r * ld + j]);
  }
}

__global__ void bag_gather_kernel(const float* table, std::size_t width, const std::uint64_t* indptr,
                                  const std::int32_t* items, const float* weights, std::size_t batch, float* x0,
                                  std::size_t ld) {
  GRID_STRIDE(i, batch * width) {
    const std::size_t r = i / width, j = i % width;
    x0[r * ld + j] = train_element::bag_column(table, width, j, items, weights, indptr[r], indptr[r + 1]);
  }
}

// keys[k] = entry k's item, or the top code (code_bits set) past the batch's entries;
// rows[k] = k.
__global__ void bag_keys_kernel(const std::int32_t* items, const std::uint64_t* indptr, std::size_t batch,
                                std::size_t capacity, int code_bits, std::uint64_t* keys, std::uint32_t* rows) {
  const std::uint64_t entries = indptr[batch], unused = (std::uint64_t(1) << code_bits) - 1;
  GRID_STRIDE(k, capacity) {
    keys[k] = k < entries ? std::uint64_t(std::uint32_t(items[k])) : unused;
    rows[k] = std::uint32_t(k);
  }
}

// Thread (p, j): when sorted position p starts a run of entries of one item, adds their
// weight x dx0 products (entries in order; an entry's row found in indptr) and then the
// sum to the item's gradient.
__global__ void bag_scatter_sorted_kernel(float* g, std::size_t width, const std::uint64_t* indptr,
                                          const float* weights, std::size_t batch, const std::uint64_t* keys,
                                          const std::uint32_t* entries, std::size_t capacity, const float* dx0,
                                          std::size_t ld, int code_bits) {
  const std::uint64_t unused = (std::uint64_t(1) << code_bits) - 1;
  GRID_STRIDE(i, capacity * width) {
    const std::size_t p = i / width, j = i % width;
    const std::uint64_t key = keys[p];
    if (key == unused || (p > 0 && keys[p - 1] == key)) continue;
    float sum = 0.f;
    for (std::size_t q = p; q < capacity && keys[q] == key; ++q) {
      const std::uint64_t k = entries[q];
      std::size_t lo = 0, hi = batch;  // the row r with indptr[r] <= k < indptr[r + 1]
      while (hi - lo > 1) {
        const std::size_t mid = (lo + hi) / 2;
        if (indptr[mid] <= k) lo = mid;
        else hi = mid;
      }
      sum += weights[k] * dx0[lo * ld + j];
    }
    g[static_cast<std::size_t>(key) * width + j] += sum;
  }
}

__global__ void bag_scatter_atomic_kernel(float* g, std::size_t width, const std::uint64_t* indptr,
                                          const std::int32_t* items, const float* weights, std::size_t batch,
                                          const float* dx0, std::size_t ld) {
  GRID_STRIDE(i, batch * width) {
    const std::size_t r = i / width, j = i % width;
    for (std::uint64_t k = indptr[r]; k < indptr[r + 1]; ++k)
      atomicAdd(g + static_cast<std::size_t>(items[k]) * width + j, weights[k] * dx0[r * ld + j]);
  }
}

// ---- sums over the batch in train_element's segment order (the CPU's column_sums) ----
struct ColumnValue {
  const float* in;
  std::size_t ld;
  __device__ float operator()(std::size_t r, std::size_t f) const { return in[r * ld + f]; }
};
struct ColumnProduct {
  const float *in, *other;
  std::size_t ld, ld_other;
  __device__ float operator()(std::size_t r, std::size_t f) const { return in[r * ld + f] * other[r * ld_other + f]; }
};
struct CenteredSquare {
  const float *in, *mean;
  std::size_t features;
  __device__ float operator()(std::size_t r, std::size_t f) const {
    const float d = in[r * features + f] - mean[f];
    return d * d;
  }
};

// partial[s * features + f] = value(r, f) summed over segment s's rows, in order.
template <typename Value>
__global__ void segment_sums_kernel(Value value, std::size_t batch, std::size_t features, float* partial) {
  GRID_STRIDE(i, el::row_segments(batch) * features) {
    const std::size_t s = i / features, f = i % features;
    const std::size_t r0 = s * el::kRowSegment, r1 = r0 + el::kRowSegment < batch ? r0 + el::kRowSegment : batch;
    float sum = 0.f;
    for (std::size_t r = r0; r < r1; ++r) sum += value(r, f);
    partial[i] = sum;
  }
}

// out[f] = the segment sums of feature f added in segment order.
__global__ void combine_segments_kernel(const float* partial, std::size_t segments, std::size_t features, float* out) {
  GRID_STRIDE(f, features) {
    float sum = 0.f;
    for (std::size_t s = 0; s < segments; ++s) sum += partial[s * features + f];
    out[f] = sum;
  }
}

// out[f] = sum over the batch of value(r, f); scratch: row_segments(batch) x features.
template <typename Value>
void batch_sums(Value value, std::size_t batch, std::size_t features, float* out, float* scratch, cudaStream_t stream) {
  if (batch == 0 || features == 0) return;
  const std::size_t segments = el::row_segments(batch);
  COHORT_LAUNCH(segment_sums_kernel<Value>, blocks_for(segments * features), kThreads, 0, stream)(value, batch,
      features, scratch);
  COHORT_CHECK_LAUNCH(stream);
  COHORT_LAUNCH(combine_segments_kernel, blocks_for(features), kThreads, 0, stream)(scratch, segments, features, out);
  COHORT_CHECK_LAUNCH(stream);
}

// Training batch norm, after the sums: mean = sum / B; then var = sum of squares / B,
// the running statistics and invstd, as batch_norm_forward on the CPU.
__global__ void bn_mean_kernel(float* mean, std::size_t features, std::size_t batch) {
  GRID_STRIDE(f, features) mean[f] /= float(batch);
}

__global__ void bn_finish_kernel(const float* mean, float* invstd, float* rmean, float* rvar, std::size_t features,
                                 std::size_t batch) {
  const float eps = float(1e-5), mom = float(0.1);
  GRID_STRIDE(f, features) {
    const float var = invstd[f] / float(batch);  // invstd holds the sum of squares here
    if (rmean) {
      rmean[f] = el::bn_running_update(rmean[f], mean[f], mom);
      rvar[f] = el::bn_running_update(rvar[f], batch > 1 ? var * float(batch) / float(batch - 1) : var, mom);
    }
    invstd[f] = el::bn_invstd(var, eps);
  }
}

__global__ void bn_running_kernel(const float* rmean, const float* rvar, std::size_t features, float* mean,
                                  float* invstd) {
  const float eps = float(1e-5);
  GRID_STRIDE(f, features) {
    mean[f] = rmean[f];
    invstd[f] = el::bn_invstd(rvar[f], eps);
  }
}

__global__ void bn_apply_kernel(const float* in, std::size_t batch, std::size_t features, const float* mean,
                                const float* invstd, const float* gamma, const float* beta, float* xhat, float* out,
                                std::size_t ld_out) {
  GRID_STRIDE(i, batch * features) {
    const std::size_t r = i / features, f = i % features;
    out[r * ld_out + f] = el::bn_forward(in[i], mean[f], invstd[f], gamma[f], beta[f], &xhat[i]);
  }
}

__global__ void copy_columns_kernel(const float* in, std::size_t batch, std::size_t features, float* out,
                                    std::size_t ld_out) {
  GRID_STRIDE(i, batch * features) out[(i / features) * ld_out + i % features] = in[i];
}

__global__ void bias_relu_kernel(float* a, const float* bias, std::size_t batch, std::size_t features) {
  GRID_STRIDE(i, batch * features) {
    const float v = a[i];
    a[i] = el::relu_forward(bias ? v + bias[i % features] : v);
  }
}

__global__ void add_bias_kernel(float* x, const float* bias, std::size_t batch, std::size_t features) {
  GRID_STRIDE(i, batch * features) x[i] += bias[i % features];
}

__global__ void dropout_kernel(float* x, std::size_t n, std::uint64_t seed, const StepState* state,
                               std::uint64_t layer, double p) {
  const std::uint64_t step = state->step;
  GRID_STRIDE(i, n) x[i] *= el::dropout_scale<float>(seed, step, (layer << 40) + i, p);
}

__global__ void bn_relu_backward_kernel(float* dy, const float* xhat, const float* a, const float* gamma,
                                        const float* invstd, const float* dgamma, const float* dbeta, std::size_t batch,
                                        std::size_t features) {
  GRID_STRIDE(i, batch * features) {
    const std::size_t f = i % features;
    const float da =
        el::bn_backward(dy[i], xhat[i], gamma[f], invstd[f], dbeta[f] / float(batch), dgamma[f] / float(batch));
    dy[i] = el::relu_backward(a[i], da);
  }
}

__global__ void relu_backward_kernel(float* dy, const float* a, std::size_t n) {
  GRID_STRIDE(i, n) dy[i] = el::relu_backward(a[i], dy[i]);
}

__global__ void loss_kernel(const float* logits, const float* target, std::size_t batch, int n_out, int task,
                            bool y_range, float lo, float hi, float* dlogits, float* sample_loss) {
  const float scale = 1.f / float(batch);
  GRID_STRIDE(r, batch) {
    sample_loss[r] = el::sample_loss(task, logits + r * n_out, n_out, target[r], y_range, lo, hi, scale,
                                     dlogits + r * n_out);
  }
}

// One thread: the batch's mean loss, summed in row order like the CPU (in double).
__global__ void loss_sum_kernel(const float* sample_loss, std::size_t batch, double divisor, double* losses,
                                const StepState* state) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  double s = 0.0;
  for (std::size_t r = 0; r < batch; ++r) s += double(sample_loss[r]);
  losses[state ? state->loss_slot : 0] = s / divisor;
}

__global__ void adamw_kernel(float* flat, std::size_t n, std::size_t begin, std::size_t n_decay,
                             const StepState* state) {
  const el::AdamStep step = state->adam;
  float* g = flat + n;
  float* m = g + n;
  float* v = m + n;
  GRID_STRIDE(t, n - begin) {
    const std::size_t i = begin + t;
    el::adamw_update(flat + i, g[i], m + i, v + i, step, i < n_decay);
  }
}

// One block per table row (grid-stride over rows), its threads across the row.
__global__ void adamw_rows_kernel(float* flat, std::size_t n, const el::TableRow* rows, const StepState* state) {
  const el::AdamStep step = state->adam;
  const std::size_t count = state->touched_rows;
  float* g = flat + n;
  float* m = g + n;
  float* v = m + n;
  for (std::size_t t = blockIdx.x; t < count; t += gridDim.x)
    for (std::size_t j = threadIdx.x; j < rows[t].width; j += blockDim.x) {
      const std::size_t i = rows[t].offset + j;
      el::adamw_update(flat + i, g[i], m + i, v + i, step, true);  // tables are decayed
    }
}

__global__ void zero_rows_kernel(float* values, const el::TableRow* rows, const StepState* state) {
  const std::size_t count = state->touched_rows;
  for (std::size_t t = blockIdx.x; t < count; t += gridDim.x)
    for (std::size_t j = threadIdx.x; j < rows[t].width; j += blockDim.x) values[rows[t].offset + j] = 0.0f;
}

}  // namespace

void gather_rows(const std::uint32_t* d_rows, std::size_t batch, const std::int32_t* d_cats, const float* d_cont,
                 const float* d_target, std::size_t n_cat, std::size_t n_cont, std::int32_t* d_bcats, float* d_bcont,
                 float* d_btarget, cudaStream_t stream) {
  if (batch == 0) return;
  COHORT_LAUNCH(gather_rows_kernel, blocks_for(batch), kThreads, 0, stream)(d_rows, batch, d_cats, d_cont, d_target,
      n_cat, n_cont, d_bcats, d_bcont, d_btarget);
  COHORT_CHECK_LAUNCH(stream);
}

void embedding_gather(const float* d_params, const EmbeddingTables& t, const std::int32_t* d_bcats, std::size_t batch,
                      float* d_x0, std::size_t ld, cudaStream_t stream) {
  if (batch * t.emb_cols == 0) return;
  COHORT_LAUNCH(embedding_gather_kernel, blocks_for(batch * t.emb_cols), kThreads, 0, stream)(d_params, t, d_bcats,
      batch, d_x0, ld);
  COHORT_CHECK_LAUNCH(stream);
}

std::size_t sorted_scatter_temp_bytes(std::size_t items) {
  std::size_t bytes = 0;
  COHORT_CUDA_TRY(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const std::uint64_t*>(nullptr),
                                                  static_cast<std::uint64_t*>(nullptr),
                                                  static_cast<const std::uint32_t*>(nullptr),
                                                  static_cast<std::uint32_t*>(nullptr), static_cast<int>(items)));
  return bytes;
}

void embedding_scatter_add(float* d_grads, const EmbeddingTables& t, const std::int32_t* d_bcats, std::size_t batch,
                           const float* d_dx0, std::size_t ld, const SortedScatter* sorted, cudaStream_t stream) {
  if (batch * t.emb_cols == 0) return;
  if (!sorted) {
    COHORT_LAUNCH(embedding_scatter_atomic_kernel, blocks_for(batch * t.emb_cols), kThreads, 0, stream)(d_grads, t,
        d_bcats, batch, d_dx0, ld);
    COHORT_CHECK_LAUNCH(stream);
    return;
  }
  const std::size_t items = t.n_cat * batch;
  std::uint64_t* keys = sorted->keys;
  std::uint32_t* rows = sorted->rows;
  COHORT_LAUNCH(scatter_keys_kernel, blocks_for(items), kThreads, 0, stream)(d_bcats, t.n_cat, batch, sorted->code_bits,
      keys, rows);
  COHORT_CHECK_LAUNCH(stream);
  int column_bits = 0;
  while ((std::size_t(1) << column_bits) < t.n_cat) ++column_bits;
  std::size_t temp_bytes = sorted->temp_bytes;
  COHORT_CUDA_TRY(cub::DeviceRadixSort::SortPairs(sorted->temp, temp_bytes, keys, keys + items, rows, rows + items,
                                                  static_cast<int>(items), 0, sorted->code_bits + column_bits,
                                                  stream));
  COHORT_LAUNCH(embedding_scatter_sorted_kernel, blocks_for(batch * t.emb_cols), kThreads, 0, stream)(d_grads, t,
      keys + items, rows + items, batch, d_dx0, ld, sorted->code_bits);
  COHORT_CHECK_LAUNCH(stream);
}

void bag_gather(const float* d_table, std::size_t width, const std::uint64_t* d_indptr, const std::int32_t* d_items,
                const float* d_weights, std::size_t batch, float* d_x0, std::size_t ld, cudaStream_t stream) {
  if (batch * width == 0) return;
  COHORT_LAUNCH(bag_gather_kernel, blocks_for(batch * width), kThreads, 0, stream)(d_table, width, d_indptr, d_items,
      d_weights, batch, d_x0, ld);
  COHORT_CHECK_LAUNCH(stream);
}

void bag_scatter_add(float* d_table_grads, std::size_t width, const std::uint64_t* d_indptr,
                     const std::int32_t* d_items, const float* d_weights, std::size_t batch, const float* d_dx0,
                     std::size_t ld, const SortedScatter* sorted, std::size_t entry_capacity, cudaStream_t stream) {
  if (batch * width == 0) return;
  if (!sorted) {
    COHORT_LAUNCH(bag_scatter_atomic_kernel, blocks_for(batch * width), kThreads, 0, stream)(d_table_grads, width,
        d_indptr, d_items, d_weights, batch, d_dx0, ld);
    COHORT_CHECK_LAUNCH(stream);
    return;
  }
  if (entry_capacity == 0) return;
  std::uint64_t* keys = sorted->keys;
  std::uint32_t* entries = sorted->rows;
  COHORT_LAUNCH(bag_keys_kernel, blocks_for(entry_capacity), kThreads, 0, stream)(d_items, d_indptr, batch,
      entry_capacity, sorted->code_bits, keys, entries);
  COHORT_CHECK_LAUNCH(stream);
  std::size_t temp_bytes = sorted->temp_bytes;
  COHORT_CUDA_TRY(cub::DeviceRadixSort::SortPairs(sorted->temp, temp_bytes, keys, keys + entry_capacity, entries,
                                                  entries + entry_capacity, static_cast<int>(entry_capacity), 0,
                                                  sorted->code_bits, stream));
  COHORT_LAUNCH(bag_scatter_sorted_kernel, blocks_for(entry_capacity * width), kThreads, 0, stream)(d_table_grads,
      width, d_indptr, d_weights, batch, keys + entry_capacity, entries + entry_capacity, entry_capacity, d_dx0, ld,
      sorted->code_bits);
  COHORT_CHECK_LAUNCH(stream);
}

void bn_stats(const float* d_in, std::size_t batch, std::size_t features, float* d_mean, float* d_invstd,
              float* d_rmean, float* d_rvar, bool training, float* d_scratch, cudaStream_t stream) {
  if (features == 0 || (training && batch == 0)) return;  // no batch: no statistics to take
  if (!training) {
    COHORT_LAUNCH(bn_running_kernel, blocks_for(features), kThreads, 0, stream)(d_rmean, d_rvar, features, d_mean,
        d_invstd);
    COHORT_CHECK_LAUNCH(stream);
    return;
  }
  batch_sums(ColumnValue{d_in, features}, batch, features, d_mean, d_scratch, stream);
  COHORT_LAUNCH(bn_mean_kernel, blocks_for(features), kThreads, 0, stream)(d_mean, features, batch);
  COHORT_CHECK_LAUNCH(stream);
  batch_sums(CenteredSquare{d_in, d_mean, features}, batch, features, d_invstd, d_scratch, stream);
  COHORT_LAUNCH(bn_finish_kernel, blocks_for(features), kThreads, 0, stream)(d_mean, d_invstd, d_rmean, d_rvar,
      features, batch);
  COHORT_CHECK_LAUNCH(stream);
}

void bn_apply(const float* d_in, std::size_t batch, std::size_t features, const float* d_mean, const float* d_invstd,
              const float* d_gamma, const float* d_beta, float* d_xhat, float* d_out, std::size_t ld_out,
              cudaStream_t stream) {
  if (batch * features == 0) return;
  COHORT_LAUNCH(bn_apply_kernel, blocks_for(batch * features), kThreads, 0, stream)(d_in, batch, features, d_mean,
      d_invstd, d_gamma, d_beta, d_xhat, d_out, ld_out);
  COHORT_CHECK_LAUNCH(stream);
}

void copy_columns(const float* d_in, std::size_t batch, std::size_t features, float* d_out, std::size_t ld_out,
                  cudaStream_t stream) {
  if (batch * features == 0) return;
  COHORT_LAUNCH(copy_columns_kernel, blocks_for(batch * features), kThreads, 0, stream)(d_in, batch, features, d_out,
      ld_out);
  COHORT_CHECK_LAUNCH(stream);
}

void bias_relu(float* d_a, const float* d_bias, std::size_t batch, std::size_t features, cudaStream_t stream) {
  if (batch * features == 0) return;
  COHORT_LAUNCH(bias_relu_kernel, blocks_for(batch * features), kThreads, 0, stream)(d_a, d_bias, batch, features);
  COHORT_CHECK_LAUNCH(stream);
}

void add_bias(float* d_x, const float* d_bias, std::size_t batch, std::size_t features, cudaStream_t stream) {
  if (batch * features == 0) return;
  COHORT_LAUNCH(add_bias_kernel, blocks_for(batch * features), kThreads, 0, stream)(d_x, d_bias, batch, features);
  COHORT_CHECK_LAUNCH(stream);
}

void dropout(float* d_x, std::size_t count, std::uint64_t seed, const StepState* d_state, std::uint64_t layer, double p,
             cudaStream_t stream) {
  if (count == 0 || p <= 0.0) return;
  COHORT_LAUNCH(dropout_kernel, blocks_for(count), kThreads, 0, stream)(d_x, count, seed, d_state, layer, p);
  COHORT_CHECK_LAUNCH(stream);
}

void column_sums(const float* d_in, std::size_t ld, const float* d_other, std::size_t ld_other, std::size_t batch,
                 std::size_t features, float* d_out, float* d_out2, float* d_scratch, cudaStream_t stream) {
  if (features == 0) return;
  batch_sums(ColumnValue{d_in, ld}, batch, features, d_out, d_scratch, stream);
  if (d_other) batch_sums(ColumnProduct{d_in, d_other, ld, ld_other}, batch, features, d_out2, d_scratch, stream);
}

void bn_relu_backward(float* d_dy, const float* d_xhat, const float* d_a, const float* d_gamma, const float* d_invstd,
                      const float* d_dgamma, const float* d_dbeta, std::size_t batch, std::size_t features,
                      cudaStream_t stream) {
  if (batch * features == 0) return;
  COHORT_LAUNCH(bn_relu_backward_kernel, blocks_for(batch * features), kThreads, 0, stream)(d_dy, d_xhat, d_a, d_gamma,
      d_invstd, d_dgamma, d_dbeta, batch, features);
  COHORT_CHECK_LAUNCH(stream);
}

void relu_backward(float* d_dy, const float* d_a, std::size_t count, cudaStream_t stream) {
  if (count == 0) return;
  COHORT_LAUNCH(relu_backward_kernel, blocks_for(count), kThreads, 0, stream)(d_dy, d_a, count);
  COHORT_CHECK_LAUNCH(stream);
}

void loss_and_grad(const float* d_logits, const float* d_target, std::size_t batch, int n_out, int task,
                   bool y_range, float lo, float hi, float* d_dlogits, float* d_sample_loss, double* d_losses,
                   const StepState* d_state, cudaStream_t stream) {
  if (batch == 0) return;
  COHORT_LAUNCH(loss_kernel, blocks_for(batch), kThreads, 0, stream)(d_logits, d_target, batch, n_out, task, y_range,
      lo, hi, d_dlogits, d_sample_loss);
  COHORT_CHECK_LAUNCH(stream);
  const double divisor = task == 0 ? double(batch) * n_out : double(batch);
  COHORT_LAUNCH(loss_sum_kernel, 1, 1, 0, stream)(d_sample_loss, batch, divisor, d_losses, d_state);
  COHORT_CHECK_LAUNCH(stream);
}

void adamw(float* d_flat, std::size_t n, std::size_t begin, std::size_t n_decay, const StepState* d_state,
           cudaStream_t stream) {
  if (begin >= n) return;
  COHORT_LAUNCH(adamw_kernel, blocks_for(n - begin), kThreads, 0, stream)(d_flat, n, begin, n_decay, d_state);
  COHORT_CHECK_LAUNCH(stream);
}

void adamw_rows(float* d_flat, std::size_t n, const train_element::TableRow* d_rows, std::size_t capacity,
                const StepState* d_state, cudaStream_t stream) {
  if (capacity == 0) return;
  COHORT_LAUNCH(adamw_rows_kernel, static_cast<unsigned>(std::min<std::size_t>(capacity, 65535)), kThreads, 0, stream)(
      d_flat, n, d_rows, d_state);
  COHORT_CHECK_LAUNCH(stream);
}

void zero_rows(float* d_values, const train_element::TableRow* d_rows, std::size_t capacity, const StepState* d_state,
               cudaStream_t stream) {
  if (capacity == 0) return;
  COHORT_LAUNCH(zero_rows_kernel, static_cast<unsigned>(std::min<std::size_t>(capacity, 65535)), kThreads, 0, stream)(
      d_values, d_rows, d_state);
  COHORT_CHECK_LAUNCH(stream);
}

}  // namespace cohort::cuda
