/*
 * train.cpp: the public entry points of `cohort train`: validate, pick the backend, run
 * the shared loop with that backend's engine; predict with a loaded model.
 */
#include "cohort/train.hpp"

#include <cmath>
#include <cstdio>

#include "cohort/atomic_file.hpp"
#include "cohort/backend.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/progress.hpp"
#include "host/cpu/train_engine.hpp"
#include "kernels/train_element.hpp"
#ifdef COHORT_WITH_CUDA
#include "host/cuda/train_cuda.hpp"
#endif

namespace cohort {

TrainResult train(const TrainOptions& options) {
  if (options.threads > 0) set_cpu_threads(options.threads);
  const Device device = resolve_device(options.device);
  auto prepared = train_detail::prepare_table(options);
  train_detail::EngineFactory factory = train_detail::make_cpu_engine;
#ifdef COHORT_WITH_CUDA
  if (device == Device::Cuda) factory = cuda::make_train_engine;
#endif
  TrainResult result = train_detail::run_training(options, std::move(prepared), factory);
  result.device = device;
  return result;
}

Predictions predict(const TrainedModel& model, const std::string& table, Device device, const std::string& matrix,
                    bool impute_nan) {
  (void)resolve_device(device);  // prediction runs on the CPU backend (evaluation is cheap)
  const auto& cfg = model.config;
  train_detail::TableSpec spec;
  spec.path = table;
  spec.cat_cols = cfg.cat_cols;
  spec.cont_cols = cfg.cont_cols;
  // Ids come from the id column when the new table has it, else row numbers.
  if (!cfg.id_col.empty() && CsvReader(table).find_column(cfg.id_col)) spec.id_col = cfg.id_col;
  const auto raw = train_detail::read_table(spec);
  train_detail::check_continuous(raw, cfg.cont_cols, impute_nan);
  auto data = train_detail::encode_for_predict(cfg, raw);
  if (cfg.bag_width > 0) {
    COHORT_EXPECTS(!matrix.empty(), "this model has a bag input: give the matrix directory (--matrix)");
    COHORT_EXPECTS(!spec.id_col.empty(), table + ": no id column '" + cfg.id_col + "' to look the users up in " + matrix);
    std::size_t missing = 0;
    data.bag = train_detail::encode_bags(cfg, matrix, raw.ids, &missing);
    if (missing > 0)
      log_warning(std::to_string(missing) + " of " + std::to_string(raw.rows) + " rows have no user in " + matrix +
                  " (their bag input is zero)");
  }
  const auto logits = train_detail::predict_logits_cpu(model, data);
  Predictions out;
  out.n_out = cfg.n_out;
  out.values.resize(logits.size());
  const std::size_t no = static_cast<std::size_t>(cfg.n_out);
  namespace el = train_element;
  for (std::size_t r = 0; r < raw.rows; ++r) {
    const float* x = logits.data() + r * no;
    float* y = out.values.data() + r * no;
    if (cfg.task == TrainTask::Regression) {
      for (std::size_t o = 0; o < no; ++o)
        y[o] = cfg.has_y_range ? el::y_range_forward(x[o], float(cfg.y_lo), float(cfg.y_hi)) : x[o];
    } else if (cfg.task == TrainTask::Binary) {
      y[0] = el::sigmoid(x[0]);
    } else {
      std::vector<float> g(no);
      // softmax = grad of CE + onehot(0) at label 0.
      el::softmax_ce(x, int(no), 0, g.data());
      g[0] += 1.0f;
      std::copy(g.begin(), g.end(), y);
    }
  }
  out.ids.resize(raw.rows);
  for (std::size_t r = 0; r < raw.rows; ++r) out.ids[r] = raw.ids.empty() ? std::to_string(r) : raw.ids[r];
  return out;
}

void write_predictions(const TrainedModel& model, const Predictions& p, const std::string& path) {
  const auto& cfg = model.config;
  std::string text = (cfg.id_col.empty() ? std::string("row") : csv_escape(cfg.id_col)) + ",prediction";
  if (cfg.task == TrainTask::Multiclass)
    for (const auto& label : cfg.classes) text += "," + csv_escape("p_" + label);
  text += "\n";
  const std::size_t no = static_cast<std::size_t>(p.n_out);
  char num[32];
  for (std::size_t r = 0; r < p.ids.size(); ++r) {
    text += csv_escape(p.ids[r]);
    const float* y = p.values.data() + r * no;
    if (cfg.task == TrainTask::Multiclass) {
      std::size_t best = 0;
      for (std::size_t o = 1; o < no; ++o) best = y[o] > y[best] ? o : best;
      text += "," + csv_escape(cfg.classes[best]);
      for (std::size_t o = 0; o < no; ++o) {
        std::snprintf(num, sizeof num, "%.9g", static_cast<double>(y[o]));
        text += std::string(",") + num;
      }
    } else {
      std::snprintf(num, sizeof num, "%.9g", static_cast<double>(y[0]));
      text += std::string(",") + num;
    }
    text += "\n";
  }
  write_text_file(path, text);
}

}  // namespace cohort
