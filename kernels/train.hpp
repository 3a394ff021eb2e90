/*
 * train.hpp: launchers of the `train` kernels (kernels/train.cu). Matrices are row-major
 * B x F with a leading dimension (ld) where noted; sums over the batch run in
 * train_element's segment order (the CPU's order). What changes from step to step is
 * read from a StepState in device memory, so a captured CUDA graph of a training step
 * replays with each step's values. All launchers return at once for empty work and
 * check the launch.
 */
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/train_element.hpp"

namespace cohort::cuda {

/// A training step's changing values, read by the kernels from device memory.
struct StepState {
  train_element::AdamStep adam;
  std::uint64_t step = 0;       ///< 0-based global step (the dropout key)
  std::uint32_t loss_slot = 0;  ///< loss_and_grad writes the step's mean loss to d_losses[loss_slot]
  std::uint64_t touched_rows = 0;  ///< lazy Adam: table rows in the step's list (adamw_rows, zero_rows)
};

/// Per-categorical-column tables on the device (n_cat entries each, size_t).
struct EmbeddingTables {
  const std::size_t* offset = nullptr;  ///< first parameter of the table
  const std::size_t* width = nullptr;
  const std::size_t* column = nullptr;  ///< first column in x0
  const std::int32_t* owner = nullptr;  ///< per x0 embedding column j: its categorical column
  std::size_t n_cat = 0, emb_cols = 0;
};

/// Copies the selected rows' cats (n_cat), cont (n_cont) and target into batch buffers.
void gather_rows(const std::uint32_t* d_rows, std::size_t batch, const std::int32_t* d_cats, const float* d_cont,
                 const float* d_target, std::size_t n_cat, std::size_t n_cont, std::int32_t* d_bcats, float* d_bcont,
                 float* d_btarget, cudaStream_t stream);
/// x0[r, 0:emb_cols] = concatenated embedding rows (ld = D0).
void embedding_gather(const float* d_params, const EmbeddingTables& t, const std::int32_t* d_bcats, std::size_t batch,
                      float* d_x0, std::size_t ld, cudaStream_t stream);
/// Device memory of the deterministic embedding scatter for up to `items` = n_cat x batch
/// (column, code) keys: two key and two row arrays of `items` each, and CUB's temporary
/// storage of temp_bytes (sorted_scatter_temp_bytes(items)). code_bits: enough bits for
/// any table's row index.
struct SortedScatter {
  std::uint64_t* keys = nullptr;
  std::uint32_t* rows = nullptr;
  void* temp = nullptr;
  std::size_t temp_bytes = 0;
  int code_bits = 32;
};
std::size_t sorted_scatter_temp_bytes(std::size_t items);
/// grads of the embedding tables += dx0 rows. With `sorted` (deterministic): the batch's
/// (column, code, row) keys are radix-sorted (stable, so rows stay in order), then one
/// thread per (code, x0 column) adds its rows in row order from zero and adds that sum to
/// the gradient: bit for bit the CPU's loop whenever the gradient starts at zero, as it
/// does in training. Without: one atomicAdd per (row, column).
void embedding_scatter_add(float* d_grads, const EmbeddingTables& t, const std::int32_t* d_bcats, std::size_t batch,
                           const float* d_dx0, std::size_t ld, const SortedScatter* sorted, cudaStream_t stream);
/// The bag input: x0[r, j] = bag_column(table, width, j, entries of row r) for j < width
/// (x0 already offset to the bag's first column; indptr has batch + 1 entries).
void bag_gather(const float* d_table, std::size_t width, const std::uint64_t* d_indptr, const std::int32_t* d_items,
                const float* d_weights, std::size_t batch, float* d_x0, std::size_t ld, cudaStream_t stream);
/// Gradient of the bag table += weight x dx0 row. With `sorted` (deterministic): the
/// entries' item codes are radix-sorted (stable, so entries stay in row order), then one
/// thread per (item, column) adds its entries' products in order from zero and adds that
/// sum: the CPU's loop bit for bit from zero gradients. The sort covers entry_capacity
/// slots (sorted->keys and rows hold 2 x entry_capacity, code_bits leave the top code
/// free): those past the batch's entries (indptr[batch], read on the device) sort last
/// and are skipped, so a captured graph serves every batch that fits. Without: one
/// atomicAdd per (entry, column).
void bag_scatter_add(float* d_table_grads, std::size_t width, const std::uint64_t* d_indptr,
                     const std::int32_t* d_items, const float* d_weights, std::size_t batch, const float* d_dx0,
                     std::size_t ld, const SortedScatter* sorted, std::size_t entry_capacity, cudaStream_t stream);
/// Training: batch mean and invstd per feature, running stats updated (rmean may be null).
/// Evaluation: mean/invstd from the running statistics. Batch sums in segment order
/// (train_element::kRowSegment) through d_scratch: row_segments(batch) x features floats.
void bn_stats(const float* d_in, std::size_t batch, std::size_t features, float* d_mean, float* d_invstd,
              float* d_rmean, float* d_rvar, bool training, float* d_scratch, cudaStream_t stream);
/// out[r*ld_out + f] = bn_forward(in[r*F + f]); xhat[r*F + f] kept.
void bn_apply(const float* d_in, std::size_t batch, std::size_t features, const float* d_mean, const float* d_invstd,
              const float* d_gamma, const float* d_beta, float* d_xhat, float* d_out, std::size_t ld_out,
              cudaStream_t stream);
/// Copies in (B x F) into out (ld_out) unchanged.
void copy_columns(const float* d_in, std::size_t batch, std::size_t features, float* d_out, std::size_t ld_out,
                  cudaStream_t stream);
/// a = relu(a + bias) (bias may be null).
void bias_relu(float* d_a, const float* d_bias, std::size_t batch, std::size_t features, cudaStream_t stream);
/// x += bias per column.
void add_bias(float* d_x, const float* d_bias, std::size_t batch, std::size_t features, cudaStream_t stream);
/// x[i] *= dropout_scale(seed, d_state->step, (layer << 40) + i, p).
void dropout(float* d_x, std::size_t count, std::uint64_t seed, const StepState* d_state, std::uint64_t layer, double p,
             cudaStream_t stream);
/// out[f] = sum_r in[r*ld + f] (and out2[f] = sum_r in*other when other is not null,
/// other with ld_other), in segment order through d_scratch (row_segments(batch) x
/// features floats).
void column_sums(const float* d_in, std::size_t ld, const float* d_other, std::size_t ld_other, std::size_t batch,
                 std::size_t features, float* d_out, float* d_out2, float* d_scratch, cudaStream_t stream);
/// dy <- relu_backward(a, bn_backward(dy, ...)) with dbeta = sum dy, dgamma = sum dy*xhat.
void bn_relu_backward(float* d_dy, const float* d_xhat, const float* d_a, const float* d_gamma, const float* d_invstd,
                      const float* d_dgamma, const float* d_dbeta, std::size_t batch, std::size_t features,
                      cudaStream_t stream);
/// dy <- relu_backward(a, dy).
void relu_backward(float* d_dy, const float* d_a, std::size_t count, cudaStream_t stream);
/// Per-sample loss and dL/dlogits (/B) like train_detail::net_loss; the mean loss (one
/// double, summed in row order) goes to d_losses[d_state->loss_slot], or d_losses[0]
/// when d_state is null.
void loss_and_grad(const float* d_logits, const float* d_target, std::size_t batch, int n_out, int task,
                   bool y_range, float lo, float hi, float* d_dlogits, float* d_sample_loss, double* d_losses,
                   const StepState* d_state, cudaStream_t stream);
/// AdamW (d_state->adam) over parameters [begin, n) of the flat buffer [p | g | m | v] of
/// n parameters; [0, n_decay) decayed.
void adamw(float* d_flat, std::size_t n, std::size_t begin, std::size_t n_decay, const StepState* d_state,
           cudaStream_t stream);
/// Lazy Adam: AdamW (decayed) over just the table rows d_rows[0, d_state->touched_rows)
/// of the flat buffer. The count is read on the device, so a captured graph replays
/// with each step's list; `capacity` (the list's size, >= the count) sets the grid.
void adamw_rows(float* d_flat, std::size_t n, const train_element::TableRow* d_rows, std::size_t capacity,
                const StepState* d_state, cudaStream_t stream);
/// Zeroes the table rows d_rows[0, d_state->touched_rows) of d_values (lazy Adam's
/// gradients before backward); capacity as for adamw_rows.
void zero_rows(float* d_values, const train_element::TableRow* d_rows, std::size_t capacity, const StepState* d_state,
               cudaStream_t stream);

}  // namespace cohort::cuda
