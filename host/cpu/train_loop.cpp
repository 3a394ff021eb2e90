/*
 * train_loop.cpp: the training loop shared by both backends: parameter init, per-epoch
 * seeded shuffles (last incomplete batch dropped), fastai's one-cycle lr/momentum,
 * validation loss per epoch, early stopping on the validation loss, and a stop with a
 * clear message when a loss becomes NaN or infinite.
 */
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>

#include "cohort/error.hpp"
#include "cohort/progress.hpp"
#include "host/cpu/train_engine.hpp"

namespace cohort::train_detail {

double one_cycle_lr(const TrainOptions& o, std::uint64_t step, std::uint64_t total) {
  const double pos = total > 0 ? static_cast<double>(step) / static_cast<double>(total) : 0.0;
  return train_element::one_cycle(pos, o.pct_start, o.lr / o.div, o.lr, o.lr / o.div_final);
}

double one_cycle_momentum(const TrainOptions& o, std::uint64_t step, std::uint64_t total) {
  const double pos = total > 0 ? static_cast<double>(step) / static_cast<double>(total) : 0.0;
  return train_element::one_cycle(pos, o.pct_start, o.mom_max, o.mom_min, o.mom_max);
}

namespace {

// Steps between reading the losses back (a GPU wait each time).
constexpr std::size_t kLossCheck = 32;

std::string fmt(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

}  // namespace

TrainResult run_training(const TrainOptions& o, PreparedTable prepared, const EngineFactory& factory) {
  const auto start = std::chrono::steady_clock::now();
  TrainResult result;
  result.model.config = std::move(prepared.config);
  const auto& cfg = result.model.config;
  const TrainLayout layout = make_layout(cfg);
  if (prepared.init_params.empty()) {
    init_parameters(layout, o.seed, result.model.params, result.model.state);
  } else {  // resume: a fresh optimiser and one-cycle schedule from the loaded weights (fastai's fit_one_cycle)
    result.model.params = std::move(prepared.init_params);
    result.model.state = std::move(prepared.init_state);
  }

  EngineArgs args;
  args.config = &cfg;
  args.layout = &layout;
  args.data = &prepared.data;
  args.params = &result.model.params;
  args.state = &result.model.state;
  args.dropout = o.dropout;
  args.seed = o.seed;
  args.precision = o.precision;
  args.deterministic = o.deterministic;
  args.cuda_graph = o.cuda_graph;
  args.lazy_adam = o.lazy_adam;
  auto engine = factory(args);

  const std::size_t B = static_cast<std::size_t>(o.batch);
  const std::size_t steps_per_epoch = prepared.train_rows.size() / B;
  const std::uint64_t total = static_cast<std::uint64_t>(steps_per_epoch) * static_cast<std::uint64_t>(o.epochs);
  TrainRng shuffle_rng(o.seed ^ 0xBA7C4E5000000002ull);
  std::unique_ptr<Progress> progress;
  if (o.progress) progress = std::make_unique<Progress>("train", total, "steps");
  double best = std::numeric_limits<double>::infinity();
  int bad_epochs = 0;
  std::uint64_t step = 0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto perm = shuffled_indices(prepared.train_rows.size(), shuffle_rng);
    std::vector<std::uint32_t> rows(prepared.train_rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = prepared.train_rows[perm[i]];
    double sum = 0;
    // The losses come back every kLossCheck steps (the CUDA engine runs ahead of them),
    // each checked for divergence with its own step number.
    std::uint64_t checked = step;
    auto check_losses = [&] {
      for (const double loss : engine->take_losses()) {
        ++checked;
        if (!std::isfinite(loss))
          throw Error("training diverged: the training loss is " + fmt(loss) + " at epoch " + std::to_string(epoch) +
                      ", step " + std::to_string(checked) + " (lr " + fmt(one_cycle_lr(o, checked - 1, total)) +
                      "); try a lower --lr");
        sum += loss;
      }
    };
    for (std::size_t s = 0; s < steps_per_epoch; ++s, ++step) {
      const double lr = one_cycle_lr(o, step, total), mom = one_cycle_momentum(o, step, total);
      const double t = static_cast<double>(step + 1);
      StepParams sp;
      sp.step = step;
      sp.adam = {static_cast<float>(lr),
                 static_cast<float>(mom),
                 static_cast<float>(o.beta2),
                 static_cast<float>(o.eps),
                 static_cast<float>(1.0 - lr * o.wd),
                 static_cast<float>(1.0 - std::pow(mom, t)),
                 static_cast<float>(1.0 - std::pow(o.beta2, t))};
      engine->train_step(rows.data() + s * B, B, sp);
      if ((s + 1) % kLossCheck == 0) check_losses();
      if (progress) progress->add(1);
    }
    check_losses();
    TrainEpoch row;
    row.epoch = epoch;
    row.train_loss = sum / static_cast<double>(steps_per_epoch);
    row.valid_loss = std::numeric_limits<double>::quiet_NaN();
    if (!prepared.valid_rows.empty()) {
      row.valid_loss = engine->eval_loss(prepared.valid_rows.data(), prepared.valid_rows.size());
      if (!std::isfinite(row.valid_loss))
        throw Error("training diverged: the validation loss is " + fmt(row.valid_loss) + " after epoch " +
                    std::to_string(epoch) + "; try a lower --lr");
    }
    result.history.push_back(row);
    const std::string status = "epoch " + std::to_string(epoch) + " train " + fmt(row.train_loss) + " valid " +
                               fmt(row.valid_loss);
    if (progress) progress->set_status(status);
    log_verbose(status);
    if (o.patience > 0 && !prepared.valid_rows.empty()) {
      if (row.valid_loss < best) {
        best = row.valid_loss;
        bad_epochs = 0;
      } else if (++bad_epochs >= o.patience) {
        result.stop_reason = "early stop after epoch " + std::to_string(epoch) + ": no validation improvement for " +
                             std::to_string(o.patience) + " epochs";
        break;
      }
    }
  }
  if (progress) progress->finish();
  engine->read_back(result.model.params, result.model.state);
  result.row_ids = std::move(prepared.row_ids);
  result.row_cats = std::move(prepared.data.cats);
  result.row_bags = std::move(prepared.data.bag);
  result.train_rows = prepared.train_rows.size();
  result.valid_rows = prepared.valid_rows.size();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace cohort::train_detail
