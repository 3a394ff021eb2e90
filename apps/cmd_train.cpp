/*
 * cmd_train.cpp: `cohort train` trains the entity-embedding network on a CSV table and
 * writes the checkpoint, history and embeddings; `cohort train --predict FILE --model DIR
 * --out FILE` predicts new rows with a trained model.
 */
#include <cmath>
#include <cstdio>

#include "apps/command.hpp"
#include "cohort/error.hpp"
#include "cohort/train.hpp"

namespace cohort::app {
namespace {

CommonOptions common;
TrainOptions opts;
std::string out, task = "regression", y_range, layers = "512,256", emb_sizes, predict_table, model_dir;
std::string precision = "fp32";
std::vector<std::string> cat_cols, cont_cols;
std::vector<double> moms;  ///< MAX,MIN of --moms; empty: the defaults
bool no_id_embedding = false, no_batch_norm = false, no_cuda_graph = false;
const CLI::App* command = nullptr;  // to tell the flags given from their defaults

// --resume keeps the checkpoint's model: a flag that would shape another one is an error,
// not silently ignored.
void check_resume_flags() {
  for (const char* flag : {"--cat-cols", "--cont-cols", "--id-col", "--task", "--y-range", "--layers", "--emb-size",
                           "--bag-size", "--matrix-event", "--no-id-embedding", "--no-batch-norm"})
    if (command->count(flag) > 0)
      throw InvalidInput(std::string("--resume continues the checkpoint's model (its columns, vocabularies and "
                                     "shape): drop ") +
                         flag);
}

double to_number(const std::string& text, const std::string& flag) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw InvalidInput(flag + ": '" + text + "' is not a number");
}

void run_predict(Device device) {
  if (model_dir.empty() || out.empty()) throw InvalidInput("--predict needs --model DIR and --out FILE");
  const TrainedModel model = load_checkpoint(model_dir);
  const Predictions p = predict(model, predict_table, device, opts.matrix, opts.impute_nan);
  write_predictions(model, p, out);
  if (!common.quiet) std::printf("predicted %zu rows -> %s\n", p.ids.size(), out.c_str());
}

void run_train() {
  const Device device = apply_common(common);
  if (!predict_table.empty()) return run_predict(device);
  if (opts.table.empty() || opts.target.empty() || out.empty())
    throw InvalidInput("cohort train needs --table, --target and --out (or --predict FILE --model DIR --out FILE)");
  if (!opts.resume.empty()) check_resume_flags();
  opts.device = device;
  opts.threads = common.threads;
  opts.seed = common.seed;
  opts.progress = !common.quiet;
  opts.cat_cols = cat_cols;
  opts.cont_cols = cont_cols;
  opts.embed_id = !no_id_embedding;
  opts.cuda_graph = !no_cuda_graph;
  opts.precision = parse_gemm_precision(precision);
  opts.batch_norm = !no_batch_norm;
  if (!moms.empty()) opts.mom_max = moms[0], opts.mom_min = moms[1];
  opts.task = parse_train_task(task);
  if (!y_range.empty()) {
    const auto parts = split_list(y_range, ':');
    if (parts.size() != 2) throw InvalidInput("--y-range: expected LO:HI, got '" + y_range + "'");
    opts.has_y_range = true;
    opts.y_lo = to_number(parts[0], "--y-range");
    opts.y_hi = to_number(parts[1], "--y-range");
  }
  opts.layers.clear();
  for (const auto& h : split_list(layers, ',')) {
    const double v = to_number(h, "--layers");
    if (v != std::floor(v) || v < 1 || v > 1e6) throw InvalidInput("--layers: '" + h + "' is not a positive size");
    opts.layers.push_back(static_cast<int>(v));
  }
  for (const auto& item : split_list(emb_sizes, ',')) {
    const auto at = item.rfind('=');
    if (at == std::string::npos) throw InvalidInput("--emb-size: expected col=n, got '" + item + "'");
    const double v = to_number(item.substr(at + 1), "--emb-size");
    if (v != std::floor(v) || v < 1 || v > 1e5) throw InvalidInput("--emb-size: '" + item + "' needs a positive size");
    opts.emb_sizes[item.substr(0, at)] = static_cast<int>(v);
  }
  const TrainResult result = train(opts);
  write_train_outputs(result, out);
  if (common.quiet) return;  // --quiet: warnings and errors only
  const auto& last = result.history.back();
  std::printf("trained %s on %zu rows (%zu valid), %zu epochs in %.2f s on %s: train loss %.6g, valid loss %.6g\n",
              train_task_name(opts.task), result.train_rows, result.valid_rows, result.history.size(), result.seconds,
              device_name(result.device), last.train_loss, last.valid_loss);
  if (!result.stop_reason.empty()) std::printf("%s\n", result.stop_reason.c_str());
  std::printf("wrote %s/{model.ckpt,history.csv,embeddings.npy,ids.txt}\n", out.c_str());
}

void setup(CLI::App& app) {
  auto* c = app.add_subcommand("train", "Train the entity-embedding tabular network and export embeddings");
  command = c;
  c->add_option("--table", opts.table, "CSV table with a header");
  c->add_option("--target", opts.target, "target column");
  c->add_option("--cat-cols", cat_cols, "categorical columns")->delimiter(',');
  c->add_option("--cont-cols", cont_cols, "continuous columns")->delimiter(',');
  c->add_option("--id-col", opts.id_col, "id column: ids of the exported user vectors (also embedded)");
  c->add_option("--matrix", opts.matrix,
                "a `cohort matrix` output: each row's user (--id-col) enters as a weighted bag of item embeddings "
                "(also needed by --predict with such a model)");
  c->add_flag("--lazy-adam", opts.lazy_adam,
              "update only the embedding rows each batch uses (for id columns with millions of values)");
  c->add_option("--matrix-event", opts.matrix_event, "event type whose counts weight the bag (default: all)");
  c->add_option("--bag-size", opts.bag_size, "width of the item embeddings of the bag (0: the size rule)")
      ->capture_default_str();
  c->add_flag("--no-id-embedding", no_id_embedding,
              "do not embed --id-col; user vectors are the concatenated categorical embeddings");
  c->add_option("--task", task, "regression | binary | multiclass")->capture_default_str();
  c->add_option("--y-range", y_range, "LO:HI sigmoid output range (regression)");
  c->add_option("--layers", layers, "hidden sizes")->capture_default_str();
  c->add_option("--emb-size", emb_sizes, "embedding widths col=n,...");
  c->add_option("--epochs", opts.epochs, "epochs")->capture_default_str();
  c->add_option("--batch", opts.batch, "batch size")->capture_default_str();
  c->add_option("--lr", opts.lr, "maximum learning rate of the one-cycle schedule")->capture_default_str();
  c->add_option("--wd", opts.wd, "decoupled weight decay (the notebook's 0.05; fastai's default is 0.01)")
      ->capture_default_str();
  c->add_option("--dropout", opts.dropout, "dropout after each hidden block")->capture_default_str();
  c->add_option("--beta2", opts.beta2, "Adam's second-moment decay (fastai's 0.99)")->capture_default_str();
  c->add_option("--eps", opts.eps, "Adam's epsilon (fastai's 1e-5)")->capture_default_str();
  c->add_option("--moms", moms, "MAX,MIN: one-cycle momentum (beta1) from MAX down to MIN and back (fastai's 0.95,0.85)")
      ->delimiter(',')
      ->expected(2);
  c->add_option("--pct-start", opts.pct_start, "fraction of the steps spent warming the learning rate up")
      ->capture_default_str();
  c->add_option("--div", opts.div, "the schedule starts at lr / DIV")->capture_default_str();
  c->add_option("--div-final", opts.div_final, "and ends at lr / DIV_FINAL")->capture_default_str();
  c->add_flag("--no-batch-norm", no_batch_norm, "no batch norm (hidden Linear layers get a bias)");
  c->add_option("--valid-frac", opts.valid_frac, "fraction of rows held out for validation")->capture_default_str();
  c->add_option("--patience", opts.patience, "early stop after N epochs without improvement (0: off)")
      ->capture_default_str();
  c->add_option("--resume", opts.resume,
                 "continue training a model (DIR or model.ckpt) on --table; its columns, vocabularies and shape are "
                 "kept, and a new optimiser state and one-cycle schedule start (as fastai's fit_one_cycle does)");
  c->add_option("--precision", precision, "CUDA GEMMs: fp32, or tf32 / bf16 tensor cores (the CPU always uses fp32)")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}))
      ->capture_default_str();
  c->add_flag("--no-cuda-graph", no_cuda_graph,
              "CUDA: launch each step's kernels one by one instead of replaying a captured graph");
  c->add_flag("--deterministic", opts.deterministic,
              "CUDA: bitwise reproducible runs (no floating-point atomics: the gradient scatters sort the batch's "
              "codes and add in row order). The CPU always is");
  c->add_flag("--impute-nan", opts.impute_nan,
              "replace NaN/empty continuous values with the training mean (training and --predict)");
  c->add_option("--predict", predict_table, "predict the rows of this CSV with --model, write --out");
  c->add_option("--model", model_dir, "trained model directory (or model.ckpt) for --predict");
  c->add_option("--out", out, "output directory (training) or CSV (prediction)");
  add_common_flags(c, common);
  c->callback(run_train);
}

}  // namespace
COHORT_REGISTER_COMMAND(40, setup);
}  // namespace cohort::app
