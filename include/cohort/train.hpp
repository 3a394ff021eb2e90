/*
 * train.hpp: `cohort train`, the entity-embedding tabular network (fastai's tabular
 * learner) trained on the CPU (OpenBLAS + OpenMP) or CUDA (cuBLAS + kernels), exporting
 * one vector per categorical value and per user.
 *
 * Model (defaults reproduce fastai's TabularModel):
 *   x0 = [emb_0[cat_0] | ... | emb_{C-1}[cat_{C-1}] | bag | BN_cont(standardised continuous)]
 *   bag (optional behavioural input, --matrix): the row's user (id column) looked up in a
 *   `cohort matrix` output; bag = sum over the user's items i of share_i * emb_bag[i],
 *   share_i = the user's count of i / the user's total (all event types, or one named
 *   event type): a sparse x dense product. emb_bag row 0 is the unknown item (an item the
 *   checkpoint never saw, at prediction); users absent from the matrix get a zero bag.
 *   Width min(600, round(1.6 * n^0.56)) of n = items + 1 unless overridden.
 *   hidden block l: Linear(no bias) -> ReLU -> BatchNorm1d -> Dropout(p)
 *   head: Linear(with bias), then sigmoid(x)*(hi-lo)+lo when a y_range is given.
 *   Embedding table of column c has n_c = |distinct values| + 1 rows: row 0 is the
 *   unknown/missing value ("#na#", also an empty field), rows 1.. are the values in
 *   byte order. Width min(600, round(1.6 * n_c^0.56)) unless overridden.
 *   Embeddings ~ truncated normal std 0.01 (normal, fmod 2, times 0.01); Linear weights
 *   and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default); BN gamma 1, beta 0.
 *   Continuous columns are standardised with the training rows' mean and std (stored in
 *   the checkpoint; a constant column warns and uses std 1); NaN or empty values are an
 *   InvalidInput naming file:line unless impute_nan (then the training mean).
 * Losses: regression MSE, binary BCE with logits (target 0/1 or two labels), multiclass
 *   softmax cross-entropy; each the mean over the batch.
 * Optimiser (fastai Adam with true weight decay): p <- p*(1 - lr*wd) for embeddings and
 *   Linear weights only (not batch-norm parameters, not biases); m <- b1*m + (1-b1)*g,
 *   v <- b2*v + (1-b2)*g^2, p <- p - lr/(1-b1^t) * m / (sqrt(v/(1-b2^t)) + eps), with
 *   b1 the scheduled momentum, b2 0.99, eps 1e-5.
 * One cycle over all steps (pos = step/total_steps): lr cosine from lr/25 to lr over the
 *   first 25%, then cosine down to lr/1e5; b1 cosine 0.95 -> 0.85 -> 0.95.
 * Batches: rows shuffled each epoch (splitmix64 from the seed), the last incomplete
 *   training batch dropped; batch-norm running statistics (momentum 0.1) are used for
 *   validation and prediction. The valid split is a seeded shuffle of the rows.
 * Determinism: on the CPU, the same seed gives bitwise the same model whatever the
 *   thread count (every reduction has a fixed order). CUDA matches the CPU within a
 *   float tolerance (different GEMM summation order; unless deterministic, atomic adds
 *   of the embedding gradients); with deterministic, run to run bitwise the same.
 *
 * Checkpoint DIR/model.ckpt (little-endian; str = u64 length + bytes; f32s = u64 count +
 * floats):
 *   "COHORTTRAINCKPT1" (16 bytes), u32 version (2; version 1, without the bag, still loads)
 *   str target, u32 task (0 regression, 1 binary, 2 multiclass), u32 n_out,
 *   u8 has_y_range, f64 y_lo, f64 y_hi, u8 batch_norm, f64 dropout,
 *   u64 n_layers, u32 sizes..., str id_col, u8 embed_id,
 *   u64 n_cat, per column: str name, u32 width, u64 vocab size, str values... (row order),
 *   u64 n_cont, per column: str name, f64 mean, f64 std,
 *   u64 n_classes, str labels...,
 *   u32 bag width (0: no bag), and with a bag: str matrix event ("" = all), u64 n_items,
 *   str items... (row order, row 0 "#na#"),
 *   f32s parameters (the flat buffer, layout in host/cpu/train_layout.hpp),
 *   f32s batch-norm running statistics.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cohort/backend.hpp"

namespace cohort {

enum class TrainTask { Regression = 0, Binary = 1, Multiclass = 2 };

/// "regression" | "binary" | "multiclass"; anything else throws InvalidInput.
TrainTask parse_train_task(const std::string& name);
const char* train_task_name(TrainTask task);

/// fastai's rule: min(600, round(1.6 * n^0.56)), n counting the unknown row.
int default_embedding_size(std::size_t n);

/// Everything needed to rebuild the network and encode new rows.
struct TrainModelConfig {
  std::string target;
  TrainTask task = TrainTask::Regression;
  int n_out = 1;
  bool has_y_range = false;
  double y_lo = 0.0, y_hi = 1.0;
  bool batch_norm = true;  ///< batch-norm in the hidden blocks and on the continuous inputs
  double dropout = 0.0;    ///< after each hidden block
  std::vector<int> layers;
  std::string id_col;      ///< "" when none
  bool embed_id = false;   ///< the id column is also the last categorical column
  std::vector<std::string> cat_cols;
  std::vector<int> emb_dims;
  std::vector<std::vector<std::string>> vocabs;  ///< vocabs[c][0] == "#na#"
  std::vector<std::string> cont_cols;
  std::vector<double> cont_mean, cont_std;
  std::vector<std::string> classes;  ///< binary/multiclass labels, index = class
  int bag_width = 0;                 ///< 0: no behavioural bag input
  std::string bag_event;             ///< the matrix's event type summed into shares ("" = all)
  std::vector<std::string> bag_items;  ///< bag_items[0] == "#na#", then the matrix's items
};

/// A trained network: config + flat parameters + batch-norm running statistics.
struct TrainedModel {
  TrainModelConfig config;
  std::vector<float> params;
  std::vector<float> state;
};

struct TrainOptions {
  std::string table;  ///< CSV with a header
  std::string target;
  std::vector<std::string> cat_cols, cont_cols;
  std::string id_col;                     ///< optional
  bool embed_id = true;                   ///< with id_col: learn an id embedding
  /// A `cohort matrix` output directory: each row's user (id_col) becomes a weighted bag
  /// of item embeddings (see the model above). Needs id_col.
  std::string matrix;
  std::string matrix_event;               ///< "" = all event types; else one (e.g. "purchase")
  int bag_size = 0;                       ///< bag embedding width; 0 = the size rule
  TrainTask task = TrainTask::Regression;
  bool has_y_range = false;
  double y_lo = 0.0, y_hi = 1.0;
  std::vector<int> layers{512, 256};
  std::map<std::string, int> emb_sizes;   ///< per-column width overrides
  bool batch_norm = true;
  double dropout = 0.0;
  int epochs = 10;                        ///< the notebook's
  int batch = 512;
  double lr = 1e-2;
  double wd = 0.05;                       ///< the notebook's (fastai's default is 0.01)
  double beta2 = 0.99, eps = 1e-5;
  /// Lazy (sparse) Adam for the embedding tables: each step updates, decays and keeps
  /// moments only for the rows its batch uses (PyTorch's SparseAdam rule, with the
  /// global step's bias correction), so a step costs O(batch) there, not O(table):
  /// for id columns with millions of values. Dense parameters update as usual.
  bool lazy_adam = false;
  double mom_max = 0.95, mom_min = 0.85;
  double pct_start = 0.25, div = 25.0, div_final = 1e5;
  double valid_frac = 0.2;
  int patience = 0;                       ///< 0: no early stopping
  bool impute_nan = false;
  /// Checkpoint (file or directory) to continue from: its columns, vocabularies,
  /// statistics, classes and weights are kept (cat/cont/id/task/layer options are
  /// ignored); a new optimiser state and one-cycle schedule start, as fastai's
  /// fit_one_cycle on a loaded learner does. Values unseen by the checkpoint map to row 0.
  std::string resume;
  /// CUDA GEMM precision (cuBLAS compute type): FP32 (default), or TF32 / BF16 tensor
  /// cores (faster; ~1e-3 / ~8e-3 relative error per product, FP32 sums). The CPU always
  /// computes in FP32.
  GemmPrecision precision = GemmPrecision::Fp32;
  /// CUDA: bitwise reproducible runs. By default the embedding gradients are added with
  /// one atomic per (row, column), fast for large batches but in a varying order, so runs
  /// agree within rounding; deterministic sorts the batch's codes (CUB radix sort) and adds
  /// each code's rows in row order instead, the CPU's order.
  /// The CPU is always bitwise reproducible.
  bool deterministic = false;
  /// CUDA: capture a training step's kernels once as a CUDA graph and replay it (one
  /// launch a step instead of dozens; small batches are otherwise launch-bound). With a
  /// bag input or lazy Adam too: their per-batch sizes are read on the device.
  bool cuda_graph = true;
  Device device = Device::Auto;
  int threads = 0;
  std::uint64_t seed = 42;
  bool progress = true;
};

struct TrainEpoch {
  int epoch = 0;  ///< 1-based
  double train_loss = 0.0;
  double valid_loss = 0.0;  ///< NaN without a validation split
};

/// Per table row, its bag: the items (rows of emb_bag) and shares of the row's user.
struct BagRows {
  std::vector<std::uint64_t> indptr{0};  ///< rows + 1
  std::vector<std::int32_t> items;
  std::vector<float> weights;
};

struct TrainResult {
  TrainedModel model;
  std::vector<TrainEpoch> history;
  std::string stop_reason;  ///< "" or why training ended early
  /// One id per table row (the id column's value, or the 0-based row number).
  std::vector<std::string> row_ids;
  /// Encoded categorical values per row (rows x n_cat), for exporting user vectors.
  std::vector<std::int32_t> row_cats;
  BagRows row_bags;  ///< empty without a bag input
  std::size_t train_rows = 0, valid_rows = 0;
  Device device = Device::Cpu;
  double seconds = 0.0;
};

/// Reads the table, trains, returns the model (nothing written). Throws InvalidInput on
/// bad input (file:line), Error when the loss diverges.
TrainResult train(const TrainOptions& options);

/// Writes model.ckpt, history.csv, embeddings.npy + ids.txt (id embedding rows when the
/// id column is embedded, else per distinct id (first row) / per row the concatenation of
/// its categorical embeddings; with a bag input the id's bag vector is appended),
/// embeddings_<col>.npy + vocab_<col>.txt per categorical column, and with a bag input
/// embeddings_bag.npy + vocab_bag.txt (the items).
void write_train_outputs(const TrainResult& result, const std::string& out_dir);

void save_checkpoint(const TrainedModel& model, const std::string& path);
/// path may be the checkpoint or the directory holding model.ckpt.
TrainedModel load_checkpoint(const std::string& path);

struct Predictions {
  std::vector<std::string> ids;  ///< id column value or 0-based row number
  int n_out = 1;
  /// rows x n_out: the regression value, P(class 1) for binary, class probabilities
  /// for multiclass.
  std::vector<float> values;
};

/// Predicts every row of a CSV (the target column is not needed). Unseen or empty
/// categories map to row 0. Continuous values as in training: an infinite one is
/// InvalidInput naming file:line, and so is a missing or NaN one unless impute_nan (then
/// the training mean). A model with a bag input needs the matrix directory to read the
/// users' items from.
Predictions predict(const TrainedModel& model, const std::string& table, Device device = Device::Auto,
                    const std::string& matrix = "", bool impute_nan = false);
/// CSV: id,prediction (binary: probability of classes[1]; multiclass: predicted label,
/// then p_<label> per class).
void write_predictions(const TrainedModel& model, const Predictions& predictions, const std::string& path);

}  // namespace cohort
