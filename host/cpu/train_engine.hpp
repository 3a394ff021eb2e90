/*
 * train_engine.hpp: what the training loop (host/cpu/train_loop.cpp) needs from a
 * backend, and the encoded data it hands over. The CPU engine (train_cpu.cpp) and the
 * CUDA engine (host/cuda/train_cuda.cpp) implement it; the loop owns shuffling, the
 * one-cycle schedule, validation, early stopping and divergence checks, so both
 * backends see the same batches and hyper-parameters.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "cohort/train.hpp"
#include "host/cpu/train_layout.hpp"
#include "host/cpu/train_table.hpp"

namespace cohort::train_detail {

/// Encoded rows: vocab rows per categorical column, standardised continuous values,
/// targets (value, 0/1, or class index).
struct TrainData {
  std::size_t rows = 0, n_cat = 0, n_cont = 0;
  std::vector<std::int32_t> cats;  ///< rows x n_cat
  std::vector<float> cont;         ///< rows x n_cont
  std::vector<float> target;       ///< rows
  BagRows bag;                     ///< per row (indptr has rows + 1 entries with a bag input)
};

/// Each table row's bag from a `cohort matrix` directory: the row's id (ids[r]) looked up
/// in users.txt, its items mapped to rows of config.bag_items (0 when unknown), weights
/// = counts of config.bag_event (all count matrices when "") / the user's total. Rows
/// whose id is missing from the matrix get an empty bag (counted in *missing).
BagRows encode_bags(const TrainModelConfig& config, const std::string& matrix_dir, const std::vector<std::string>& ids,
                    std::size_t* missing);
/// out = the bags of rows[0..n) of all, as a batch CSR (indptr from 0).
void gather_bags(const BagRows& all, const std::uint32_t* rows, std::size_t n, BagRows& out);
/// Lazy Adam's rows of one batch: every distinct embedding-table row it uses, table by
/// table in row order, then the bag table's. cats: categorical codes, row r's at
/// cats[(rows ? rows[r] : r) * n_cat]; bag_items: the batch's bag items.
void touched_table_rows(const TrainLayout& layout, const std::int32_t* cats, const std::uint32_t* rows, std::size_t batch,
                        const std::vector<std::int32_t>& bag_items, std::vector<train_element::TableRow>& out);
/// The items (users.txt order kept) of a matrix directory, as bag vocabulary ("#na#" first).
std::vector<std::string> bag_vocabulary(const std::string& matrix_dir);

/// The optimiser constants of one step (lr and beta1 from the schedule).
struct StepParams {
  train_element::AdamStep adam;
  std::uint64_t step = 0;  ///< 0-based global step (dropout key)
};

class TrainEngine {
 public:
  virtual ~TrainEngine() = default;
  /// One optimiser step on data rows rows[0..B). Its mean loss is kept for take_losses:
  /// the CUDA engine does not wait for a step to finish before queueing the next.
  virtual void train_step(const std::uint32_t* rows, std::size_t batch, const StepParams& step) = 0;
  /// The mean losses of the steps since the last call, in step order (waits for them).
  virtual std::vector<double> take_losses() = 0;
  /// Mean loss over the rows in evaluation mode (running statistics, no dropout).
  virtual double eval_loss(const std::uint32_t* rows, std::size_t count) = 0;
  /// Copies the current parameters and state to the host.
  virtual void read_back(std::vector<float>& params, std::vector<float>& state) = 0;
};

struct EngineArgs {
  const TrainModelConfig* config = nullptr;
  const TrainLayout* layout = nullptr;
  const TrainData* data = nullptr;
  const std::vector<float>* params = nullptr;
  const std::vector<float>* state = nullptr;
  double dropout = 0.0;
  std::uint64_t seed = 0;
  GemmPrecision precision = GemmPrecision::Fp32;  ///< CUDA only
  bool lazy_adam = false;  ///< update only the embedding rows in the batch
  bool deterministic = false;  ///< CUDA: no floating-point atomics
  bool cuda_graph = true;      ///< CUDA: replay each step as one captured graph
};

using EngineFactory = std::function<std::unique_ptr<TrainEngine>(const EngineArgs&)>;

std::unique_ptr<TrainEngine> make_cpu_engine(const EngineArgs& args);

/// Reads and encodes the table (vocabularies, continuous statistics on the training
/// rows, targets) and splits rows into train/valid; fills config, data, the split and
/// per-row ids. Throws InvalidInput on bad input.
struct PreparedTable {
  TrainModelConfig config;
  TrainData data;
  std::vector<std::uint32_t> train_rows, valid_rows;
  std::vector<std::string> row_ids;
  /// Resuming: the checkpoint's parameters and state (empty: initialise from the seed).
  std::vector<float> init_params, init_state;
};
PreparedTable prepare_table(const TrainOptions& options);

/// Encodes a table for prediction with a trained model's vocabularies and statistics.
/// Throws InvalidInput naming file:line at the first continuous value (row order) that
/// is infinite, or missing/NaN unless impute_nan (the encoders then use the training mean).
void check_continuous(const RawTable& table, const std::vector<std::string>& cont_cols, bool impute_nan);
TrainData encode_for_predict(const TrainModelConfig& config, const RawTable& table);

/// The whole loop: init, epochs, history; the engine comes from the factory.
TrainResult run_training(const TrainOptions& options, PreparedTable prepared, const EngineFactory& factory);

/// Evaluation-mode logits (rows x n_out) on the CPU.
std::vector<float> predict_logits_cpu(const TrainedModel& model, const TrainData& data);

/// fastai's schedule values at a step (pos = step / total).
double one_cycle_lr(const TrainOptions& options, std::uint64_t step, std::uint64_t total);
double one_cycle_momentum(const TrainOptions& options, std::uint64_t step, std::uint64_t total);

}  // namespace cohort::train_detail
