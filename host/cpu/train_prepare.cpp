/*
 * train_prepare.cpp: from the raw table to encoded training data: option checks, the
 * seeded train/valid split, vocabularies (row 0 "#na#", then values in byte order),
 * embedding widths, continuous statistics on the training rows (NaN -> error or the
 * mean, constant -> std 1 with a warning), standardisation, and targets per task.
 */
#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "cohort/error.hpp"
#include "cohort/progress.hpp"
#include "host/cpu/train_engine.hpp"

namespace cohort::train_detail {
namespace {

std::string trim(const std::string& s) {
  std::size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) --b;
  return s.substr(a, b - a);
}

void check_options(const TrainOptions& o) {
  COHORT_EXPECTS(!o.table.empty(), "--table is required");
  COHORT_EXPECTS(!o.target.empty(), "--target is required");
  COHORT_EXPECTS(!o.resume.empty() || !o.cat_cols.empty() || !o.cont_cols.empty() || (!o.id_col.empty() && o.embed_id),
                 "no input columns: give --cat-cols and/or --cont-cols");
  COHORT_EXPECTS(o.epochs >= 1, "--epochs must be at least 1");
  COHORT_EXPECTS(o.batch >= (o.batch_norm ? 2 : 1), "--batch must be at least 2 with batch norm");
  COHORT_EXPECTS(o.lr > 0 && std::isfinite(o.lr), "--lr must be positive");
  COHORT_EXPECTS(o.wd >= 0 && std::isfinite(o.wd), "--wd must be non-negative");
  COHORT_EXPECTS(o.valid_frac >= 0 && o.valid_frac < 1, "--valid-frac must be in [0, 1)");
  COHORT_EXPECTS(o.dropout >= 0 && o.dropout < 1, "--dropout must be in [0, 1)");
  COHORT_EXPECTS(o.patience >= 0, "--patience must be non-negative");
  COHORT_EXPECTS(o.patience == 0 || o.valid_frac > 0, "--patience needs validation rows (--valid-frac > 0)");
  COHORT_EXPECTS(o.beta2 >= 0 && o.beta2 < 1, "--beta2 must be in [0, 1)");
  COHORT_EXPECTS(o.eps > 0 && std::isfinite(o.eps), "--eps must be positive");
  COHORT_EXPECTS(o.mom_min >= 0 && o.mom_max < 1 && o.mom_min <= o.mom_max, "--moms needs 0 <= MIN <= MAX < 1");
  COHORT_EXPECTS(o.pct_start > 0 && o.pct_start < 1, "--pct-start must be in (0, 1)");
  COHORT_EXPECTS(o.div >= 1 && o.div_final >= 1 && std::isfinite(o.div) && std::isfinite(o.div_final),
                 "--div and --div-final must be at least 1");
  COHORT_EXPECTS(!o.has_y_range || o.y_lo < o.y_hi, "--y-range needs LO < HI");
  COHORT_EXPECTS(!o.has_y_range || o.task == TrainTask::Regression, "--y-range applies to regression only");
  for (int h : o.layers) COHORT_EXPECTS(h >= 1, "--layers sizes must be positive");
  COHORT_EXPECTS(o.matrix.empty() || !o.id_col.empty(),
                 "--matrix needs --id-col: the column naming each row's user in the matrix");
  COHORT_EXPECTS(o.bag_size >= 0, "--bag-size must be positive (0: the size rule)");
  std::set<std::string> seen{o.target};
  auto add = [&](const std::string& name) {
    COHORT_EXPECTS(seen.insert(name).second, "column '" + name + "' is used twice (or is the target)");
  };
  for (const auto& c : o.cat_cols) add(c);
  for (const auto& c : o.cont_cols) add(c);
  if (!o.id_col.empty()) add(o.id_col);
  for (const auto& [name, size] : o.emb_sizes) {
    const bool known = std::find(o.cat_cols.begin(), o.cat_cols.end(), name) != o.cat_cols.end() ||
                       (o.embed_id && name == o.id_col);
    COHORT_EXPECTS(known, "--emb-size names '" + name + "', which is not a categorical column");
    COHORT_EXPECTS(size >= 1, "--emb-size for '" + name + "' must be positive");
  }
}

// Sorted vocabulary with "#na#" first; codes (first appearance, -1 empty) -> rows.
std::vector<std::int32_t> build_vocab(const std::vector<std::string>& values, std::vector<std::string>& vocab) {
  std::vector<std::int32_t> order(values.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int32_t>(i);
  std::sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return values[a] < values[b]; });
  vocab.assign(1, "#na#");
  std::vector<std::int32_t> row_of(values.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    vocab.push_back(values[order[i]]);
    row_of[order[i]] = static_cast<std::int32_t>(i + 1);
  }
  return row_of;
}

std::vector<float> encode_targets(const TrainOptions& o, const RawTable& t, TrainModelConfig& config,
                                  bool fixed_classes) {
  std::vector<float> target(t.rows);
  std::vector<std::string> labels(t.rows);
  for (std::size_t r = 0; r < t.rows; ++r) {
    labels[r] = trim(t.target[r]);
    if (labels[r].empty()) throw InvalidInput(t.path, t.lines[r], "missing target '" + o.target + "'");
  }
  if (o.task == TrainTask::Regression) {
    for (std::size_t r = 0; r < t.rows; ++r) {
      const std::string& s = labels[r];
      double v = 0;
      const char* first = s.data() + (s[0] == '+' ? 1 : 0);
      auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), v);
      if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v))
        throw InvalidInput(t.path, t.lines[r], "target '" + o.target + "': '" + s + "' is not a finite number");
      target[r] = static_cast<float>(v);
    }
    config.n_out = 1;
    return target;
  }
  if (fixed_classes) {  // resuming: the checkpoint's classes
    for (std::size_t r = 0; r < t.rows; ++r) {
      const auto it = std::lower_bound(config.classes.begin(), config.classes.end(), labels[r]);
      if (it == config.classes.end() || *it != labels[r])
        throw InvalidInput(t.path, t.lines[r], "target '" + o.target + "': label '" + labels[r] +
                                                   "' is not one of the checkpoint's classes");
      target[r] = static_cast<float>(it - config.classes.begin());
    }
    return target;
  }
  std::set<std::string> distinct(labels.begin(), labels.end());
  config.classes.assign(distinct.begin(), distinct.end());
  if (o.task == TrainTask::Binary) {
    if (config.classes.size() == 1 && (config.classes[0] == "0" || config.classes[0] == "1"))
      config.classes = {"0", "1"};
    if (config.classes.size() != 2)
      throw InvalidInput(t.path, 0, "binary target '" + o.target + "' has " + std::to_string(config.classes.size()) +
                                        " distinct values (need exactly 2)");
    config.n_out = 1;
  } else {
    if (config.classes.size() < 2)
      throw InvalidInput(t.path, 0, "multiclass target '" + o.target + "' has fewer than 2 classes");
    config.n_out = static_cast<int>(config.classes.size());
  }
  for (std::size_t r = 0; r < t.rows; ++r)
    target[r] = static_cast<float>(
        std::lower_bound(config.classes.begin(), config.classes.end(), labels[r]) - config.classes.begin());
  return target;
}


void split_rows(const TrainOptions& o, std::size_t N, PreparedTable& p) {
  // Seeded split: the first round(frac*N) rows of a shuffle are the validation rows.
  TrainRng split_rng(o.seed ^ 0x5B11700000000001ull);
  const auto order = shuffled_indices(N, split_rng);
  const auto n_valid = static_cast<std::size_t>(std::llround(o.valid_frac * static_cast<double>(N)));
  p.valid_rows.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_valid));
  p.train_rows.assign(order.begin() + static_cast<std::ptrdiff_t>(n_valid), order.end());
  std::sort(p.valid_rows.begin(), p.valid_rows.end());
  std::sort(p.train_rows.begin(), p.train_rows.end());
  if (p.train_rows.size() < static_cast<std::size_t>(o.batch))
    throw InvalidInput(o.table, 0, std::to_string(p.train_rows.size()) + " training rows, fewer than one batch (--batch " +
                                       std::to_string(o.batch) + "); lower --batch or --valid-frac");
}

// The bag input of every row (config.bag_* already set); a warning counts the rows whose
// user the matrix lacks, and an error says so when none is found.
BagRows prepare_bags(const TrainModelConfig& cfg, const std::string& matrix, const RawTable& t) {
  std::size_t missing = 0;
  BagRows bags = encode_bags(cfg, matrix, t.ids, &missing);
  if (t.rows > 0 && missing == t.rows)
    throw InvalidInput(matrix, 0, "none of the table's ids (column '" + cfg.id_col + "') is a user of this matrix");
  if (missing > 0)
    log_warning(std::to_string(missing) + " of " + std::to_string(t.rows) + " rows have no user in " + matrix +
                " (their bag input is zero)");
  return bags;
}

// Resuming: the checkpoint fixes the columns, vocabularies, statistics and classes.
PreparedTable prepare_resume(const TrainOptions& o) {
  TrainedModel model = load_checkpoint(o.resume);
  PreparedTable p;
  p.config = model.config;
  auto& cfg = p.config;
  TableSpec spec;
  spec.path = o.table;
  spec.cat_cols = cfg.cat_cols;
  spec.cont_cols = cfg.cont_cols;
  spec.target = o.target;
  spec.id_col = cfg.id_col;
  const RawTable t = read_table(spec);
  check_continuous(t, cfg.cont_cols, o.impute_nan);
  split_rows(o, t.rows, p);
  p.data = encode_for_predict(cfg, t);
  if (cfg.bag_width > 0) {
    COHORT_EXPECTS(!o.matrix.empty(), o.resume + ": the model has a bag input; give --matrix");
    p.data.bag = prepare_bags(cfg, o.matrix, t);
  }
  TrainOptions task_options = o;
  task_options.task = cfg.task;
  p.data.target = encode_targets(task_options, t, cfg, cfg.task != TrainTask::Regression);
  p.row_ids.resize(t.rows);
  for (std::size_t r = 0; r < t.rows; ++r) p.row_ids[r] = t.ids.empty() ? std::to_string(r) : t.ids[r];
  p.init_params = std::move(model.params);
  p.init_state = std::move(model.state);
  return p;
}

}  // namespace

PreparedTable prepare_table(const TrainOptions& o) {
  check_options(o);
  if (!o.resume.empty()) return prepare_resume(o);
  TableSpec spec;
  spec.path = o.table;
  spec.cat_cols = o.cat_cols;
  const bool embed_id = !o.id_col.empty() && o.embed_id;
  if (embed_id) spec.cat_cols.push_back(o.id_col);
  spec.cont_cols = o.cont_cols;
  spec.target = o.target;
  spec.id_col = o.id_col;
  RawTable t = read_table(spec);
  const std::size_t N = t.rows, C = spec.cat_cols.size(), K = spec.cont_cols.size();

  PreparedTable p;
  auto& cfg = p.config;
  cfg.target = o.target;
  cfg.task = o.task;
  cfg.has_y_range = o.has_y_range, cfg.y_lo = o.y_lo, cfg.y_hi = o.y_hi;
  cfg.batch_norm = o.batch_norm;
  cfg.dropout = o.dropout;
  cfg.layers = o.layers;
  cfg.id_col = o.id_col;
  cfg.embed_id = embed_id;
  cfg.cat_cols = spec.cat_cols;
  cfg.cont_cols = spec.cont_cols;

  split_rows(o, N, p);

  auto& d = p.data;
  d.rows = N, d.n_cat = C, d.n_cont = K;
  d.target = encode_targets(o, t, cfg, false);
  d.cats.resize(N * C);
  cfg.vocabs.resize(C);
  for (std::size_t c = 0; c < C; ++c) {
    const auto row_of = build_vocab(t.cat_values[c], cfg.vocabs[c]);
    for (std::size_t r = 0; r < N; ++r) {
      const std::int32_t code = t.cat_codes[c][r];
      d.cats[r * C + c] = code < 0 ? 0 : row_of[static_cast<std::size_t>(code)];
    }
    const auto it = o.emb_sizes.find(cfg.cat_cols[c]);
    cfg.emb_dims.push_back(it != o.emb_sizes.end() ? it->second : default_embedding_size(cfg.vocabs[c].size()));
  }
  check_continuous(t, cfg.cont_cols, o.impute_nan);
  d.cont.resize(N * K);
  for (std::size_t k = 0; k < K; ++k) {
    double sum = 0;
    std::size_t n = 0;
    for (std::uint32_t r : p.train_rows)
      if (!std::isnan(t.cont[r * K + k])) sum += t.cont[r * K + k], ++n;
    const double mean = n > 0 ? sum / static_cast<double>(n) : 0.0;
    double ss = 0;
    for (std::uint32_t r : p.train_rows)
      if (!std::isnan(t.cont[r * K + k])) ss += (t.cont[r * K + k] - mean) * (t.cont[r * K + k] - mean);
    double sd = n > 0 ? std::sqrt(ss / static_cast<double>(n)) : 0.0;
    if (!(sd > 1e-12 * std::max(1.0, std::fabs(mean)))) {
      log_warning("column '" + cfg.cont_cols[k] + "' is constant on the training rows; kept with std 1");
      sd = 1.0;
    }
    cfg.cont_mean.push_back(mean);
    cfg.cont_std.push_back(sd);
    for (std::size_t r = 0; r < N; ++r) {
      const double v = t.cont[r * K + k];
      d.cont[r * K + k] = std::isnan(v) ? 0.0f : static_cast<float>((v - mean) / sd);
    }
  }
  if (!o.matrix.empty()) {
    cfg.bag_event = o.matrix_event;
    cfg.bag_items = bag_vocabulary(o.matrix);
    cfg.bag_width = o.bag_size > 0 ? o.bag_size : default_embedding_size(cfg.bag_items.size());
    d.bag = prepare_bags(cfg, o.matrix, t);
  }
  p.row_ids.resize(N);
  for (std::size_t r = 0; r < N; ++r) p.row_ids[r] = t.ids.empty() ? std::to_string(r) : t.ids[r];
  return p;
}

void check_continuous(const RawTable& t, const std::vector<std::string>& cont_cols, bool impute_nan) {
  const std::size_t K = cont_cols.size();
  for (std::size_t r = 0; r < t.rows; ++r)
    for (std::size_t k = 0; k < K; ++k) {
      const double v = t.cont[r * K + k];
      if (std::isfinite(v) || (impute_nan && std::isnan(v))) continue;
      throw InvalidInput(t.path, t.lines[r], "column '" + cont_cols[k] + "': " +
                                                 (std::isnan(v) ? "missing or NaN value (use --impute-nan to replace "
                                                                  "it with the training mean)"
                                                                : "infinite value"));
    }
}

TrainData encode_for_predict(const TrainModelConfig& cfg, const RawTable& t) {
  TrainData d;
  const std::size_t N = t.rows, C = cfg.cat_cols.size(), K = cfg.cont_cols.size();
  d.rows = N, d.n_cat = C, d.n_cont = K;
  d.cats.assign(N * C, 0);
  for (std::size_t c = 0; c < C; ++c) {
    // Raw code -> vocabulary row (0 when unseen in training).
    std::vector<std::int32_t> row_of(t.cat_values[c].size(), 0);
    for (std::size_t i = 0; i < row_of.size(); ++i) {
      const auto& vocab = cfg.vocabs[c];
      const auto it = std::lower_bound(vocab.begin() + 1, vocab.end(), t.cat_values[c][i]);
      if (it != vocab.end() && *it == t.cat_values[c][i]) row_of[i] = static_cast<std::int32_t>(it - vocab.begin());
    }
    for (std::size_t r = 0; r < N; ++r) {
      const std::int32_t code = t.cat_codes[c][r];
      d.cats[r * C + c] = code < 0 ? 0 : row_of[static_cast<std::size_t>(code)];
    }
  }
  d.cont.resize(N * K);
  for (std::size_t r = 0; r < N; ++r)
    for (std::size_t k = 0; k < K; ++k) {
      const double v = t.cont[r * K + k];
      d.cont[r * K + k] = std::isfinite(v) ? static_cast<float>((v - cfg.cont_mean[k]) / cfg.cont_std[k]) : 0.0f;
    }
  d.target.assign(N, 0.0f);
  return d;
}

}  // namespace cohort::train_detail
