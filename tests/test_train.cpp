/*
 * test_train.cpp: `cohort train`.
 *   TrainGrad*     finite-difference checks in double of every parameter's gradient (all
 *                  layers: embeddings, continuous batch norm, Linear, ReLU, hidden batch
 *                  norm, dropout, head bias) for every loss (MSE, MSE with y_range, BCE
 *                  with logits, softmax CE), with and without batch norm.
 *   TrainElement*  the per-element code: losses vs FD, AdamW vs a hand computation, the
 *                  one-cycle schedule at key steps, the embedding-size rule.
 *   TrainLearn*, TrainDeterminism*, TrainCheckpoint*, TrainPredict*, TrainBadInput*,
 *   TrainCli*, TrainGenerate*: behaviour on synthetic tables made here (fixed seeds).
 *   TrainCuda*     CUDA vs CPU after N steps (skipped without a GPU).
 * Tolerances: FD in double with h = 1e-6 (central): |analytic - fd| <= 1e-6 + 1e-5*|fd|
 * (truncation error ~h^2 times third derivatives, rounding ~1e-16/h). CPU runs are
 * bitwise reproducible. CUDA vs CPU: cuBLAS sums in another order, so after 20 steps
 * losses agree to 1e-3 relative and parameters to 1e-3 absolute (float32, lr 1e-2).
 */
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "cohort/atomic_file.hpp"
#include "cohort/error.hpp"
#include "cohort/matrix.hpp"
#include "cohort/npy.hpp"
#include "cohort/progress.hpp"
#include "cohort/train.hpp"
#include "host/cpu/train_engine.hpp"
#include "host/cpu/train_net.hpp"
#include "kernels/train_element.hpp"
#include "test_util.hpp"
#include "tests/train_compare.hpp"
#include "tests/train_tables.hpp"

namespace cohort {
namespace {

using namespace train_detail;
using testing::TempDir;
namespace el = train_element;

// ---- gradient checks ---------------------------------------------------------------
struct GradCase {
  TrainTask task = TrainTask::Regression;
  int n_out = 1;
  bool y_range = false, bn = true;
  double dropout = 0.0;
  bool bag = false;
};

void check_gradients(const GradCase& gc, std::uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  TrainModelConfig cfg;
  cfg.task = gc.task;
  cfg.n_out = gc.n_out;
  cfg.has_y_range = gc.y_range, cfg.y_lo = -0.5, cfg.y_hi = 2.0;
  cfg.batch_norm = gc.bn;
  cfg.dropout = gc.dropout;
  cfg.layers = {5, 4};
  cfg.cat_cols = {"a", "b"};
  cfg.vocabs = {{"#na#", "x", "y", "z"}, {"#na#", "u", "v"}};
  cfg.emb_dims = {3, 2};
  cfg.cont_cols = {"c", "d"};
  if (gc.bag) cfg.bag_width = 3, cfg.bag_items = {"#na#", "i1", "i2", "i3", "i4"};
  const TrainLayout L = make_layout(cfg);
  std::vector<float> pf, sf;
  init_parameters(L, seed, pf, sf);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> p(pf.begin(), pf.end());
  for (auto& v : p) v += 0.3 * normal(rng);  // move off the init (gamma 1, beta 0, small embeddings)
  const std::size_t B = 7;
  std::vector<std::int32_t> cats(B * 2);
  std::vector<double> cont(B * 2), target(B);
  for (std::size_t r = 0; r < B; ++r) {
    cats[r * 2] = static_cast<std::int32_t>(rng() % 4);
    cats[r * 2 + 1] = static_cast<std::int32_t>(rng() % 3);
    cont[r * 2] = normal(rng), cont[r * 2 + 1] = normal(rng);
    target[r] = gc.task == TrainTask::Regression ? normal(rng)
                                                 : static_cast<double>(rng() % static_cast<std::uint64_t>(
                                                                                   gc.task == TrainTask::Binary ? 2 : gc.n_out));
  }
  // Bags of 0 to 3 entries (an item may repeat), random weights.
  BagRows bags;
  for (std::size_t r = 0; r < B && gc.bag; ++r) {
    for (std::uint64_t k = rng() % 4; k > 0; --k) {
      bags.items.push_back(static_cast<std::int32_t>(rng() % 5));
      bags.weights.push_back(static_cast<float>(0.1 + 0.9 * static_cast<double>(rng() % 1000) / 1000.0));
    }
    bags.indptr.push_back(bags.items.size());
  }
  const BagBatch bag{bags.indptr.data(), bags.items.data(), bags.weights.data()};
  BatchContext ctx{true, seed, 3, gc.dropout};
  NetBuffers<double> buf;
  auto loss_at = [&](const std::vector<double>& params) {
    net_forward(L, params.data(), static_cast<double*>(nullptr), cats.data(), cont.data(), B, ctx, buf, &bag);
    return net_loss(cfg, target.data(), B, buf, true);
  };
  loss_at(p);
  std::vector<double> grads(L.n_params);
  net_backward(L, p.data(), cats.data(), B, ctx, buf, grads.data(), &bag);
  const double h = 1e-6;
  std::size_t checked = 0;
  for (std::size_t i = 0; i < L.n_params; ++i) {
    auto q = p;
    q[i] = p[i] + h;
    const double up = loss_at(q);
    q[i] = p[i] - h;
    const double down = loss_at(q);
    const double fd = (up - down) / (2 * h);
    EXPECT_NEAR(grads[i], fd, 1e-6 + 1e-5 * std::fabs(fd)) << "parameter " << i << " of " << L.n_params;
    ++checked;
  }
  EXPECT_EQ(checked, L.n_params);
}

TEST(TrainGrad, RegressionMse) { check_gradients({}, 11); }
TEST(TrainGrad, RegressionYRange) { check_gradients({TrainTask::Regression, 1, true, true, 0.0}, 12); }
TEST(TrainGrad, BinaryBceWithLogits) { check_gradients({TrainTask::Binary, 1, false, true, 0.0}, 13); }
TEST(TrainGrad, MulticlassSoftmaxCe) { check_gradients({TrainTask::Multiclass, 4, false, true, 0.0}, 14); }
TEST(TrainGrad, NoBatchNormHiddenBias) { check_gradients({TrainTask::Regression, 1, false, false, 0.0}, 15); }
TEST(TrainGrad, Dropout) { check_gradients({TrainTask::Regression, 1, false, true, 0.3}, 16); }
TEST(TrainGrad, BehaviouralBag) { check_gradients({TrainTask::Regression, 1, false, true, 0.0, true}, 17); }

TEST(TrainGrad, ElementLosses) {
  const double h = 1e-6;
  for (double x : {-30.0, -2.5, -0.1, 0.0, 0.7, 3.0, 30.0}) {
    for (double y : {0.0, 1.0}) {
      const double fd = (el::bce_logits_loss(x + h, y) - el::bce_logits_loss(x - h, y)) / (2 * h);
      EXPECT_NEAR(el::bce_logits_grad(x, y), fd, 1e-7) << "x " << x << " y " << y;
      // the stable form equals the naive one where the naive one is accurate
      if (std::fabs(x) < 10) {
        const double s = 1 / (1 + std::exp(-x));
        EXPECT_NEAR(el::bce_logits_loss(x, y), -(y * std::log(s) + (1 - y) * std::log(1 - s)), 1e-12);
      }
    }
    const double fd = (el::y_range_forward(x + h, -1.0, 3.0) - el::y_range_forward(x - h, -1.0, 3.0)) / (2 * h);
    EXPECT_NEAR(el::y_range_backward(x, -1.0, 3.0, 1.0), fd, 1e-7);
    EXPECT_NEAR(el::mse_grad(x, 0.25), ((x + h - 0.25) * (x + h - 0.25) - (x - h - 0.25) * (x - h - 0.25)) / (2 * h),
                1e-6);
  }
  const double logits[3] = {1000.0, 999.0, -5.0};  // large values: must not overflow
  double grad[3];
  const double loss = el::softmax_ce(logits, 3, 1, grad);
  const double lse = 1000.0 + std::log(1 + std::exp(-1.0) + std::exp(-1005.0));
  EXPECT_NEAR(loss, lse - 999.0, 1e-12);
  EXPECT_NEAR(grad[0], std::exp(1000.0 - lse), 1e-12);
  EXPECT_NEAR(grad[1], std::exp(999.0 - lse) - 1, 1e-12);
  EXPECT_NEAR(grad[0] + grad[1] + grad[2], 0.0, 1e-12);
}

// ---- per-element code ----------------------------------------------------------------
TEST(TrainElement, AdamWMatchesHandComputation) {
  const double lr = 0.01, b1 = 0.9, b2 = 0.99, eps = 1e-5, wd = 0.05, t = 3;
  el::AdamStep s{float(lr), float(b1), float(b2), float(eps), float(1 - lr * wd), float(1 - std::pow(b1, t)),
                 float(1 - std::pow(b2, t))};
  double p = 0.5, m = 0.1, v = 0.04;
  const double g = 0.2;
  el::adamw_update(&p, g, &m, &v, s, true);
  const double w = 0.5 * (1 - lr * wd);
  const double m1 = 0.9 * 0.1 + 0.1 * 0.2, v1 = 0.99 * 0.04 + 0.01 * 0.04;
  const double expected = w - lr / (1 - 0.729) * m1 / (std::sqrt(v1 / (1 - std::pow(0.99, 3))) + eps);
  EXPECT_NEAR(m, m1, 1e-7);
  EXPECT_NEAR(v, v1, 1e-8);
  EXPECT_NEAR(p, expected, 1e-7);
  // without decay (batch norm, biases) the weight is not shrunk
  double q = 0.5, mq = 0.1, vq = 0.04;
  el::adamw_update(&q, g, &mq, &vq, s, false);
  EXPECT_NEAR(q, expected + 0.5 * lr * wd, 1e-7);
}

TEST(TrainElement, OneCycleScheduleAtKeySteps) {
  TrainOptions o;
  o.lr = 1e-2;
  const std::uint64_t total = 1000;
  EXPECT_NEAR(one_cycle_lr(o, 0, total), 1e-2 / 25, 1e-15);
  EXPECT_NEAR(one_cycle_momentum(o, 0, total), 0.95, 1e-15);
  EXPECT_NEAR(one_cycle_lr(o, 250, total), 1e-2, 1e-15);  // the peak at pct_start
  EXPECT_NEAR(one_cycle_momentum(o, 250, total), 0.85, 1e-15);
  EXPECT_NEAR(one_cycle_lr(o, 125, total), (1e-2 / 25 + 1e-2) / 2, 1e-15);  // cosine midpoint
  EXPECT_NEAR(one_cycle_momentum(o, 125, total), 0.90, 1e-15);
  EXPECT_NEAR(one_cycle_lr(o, 625, total), (1e-2 + 1e-7) / 2, 1e-15);
  EXPECT_NEAR(one_cycle_lr(o, 1000, total), 1e-7, 1e-18);  // lr_max / 1e5
  EXPECT_NEAR(one_cycle_momentum(o, 1000, total), 0.95, 1e-15);
  // monotone up then down
  for (std::uint64_t s = 1; s < total; ++s) {
    if (s <= 250) {
      EXPECT_GE(one_cycle_lr(o, s, total), one_cycle_lr(o, s - 1, total));
    } else {
      EXPECT_LE(one_cycle_lr(o, s, total), one_cycle_lr(o, s - 1, total));
    }
  }
}

TEST(TrainElement, EmbeddingSizeRule) {
  EXPECT_EQ(default_embedding_size(2), 2);    // 1.6 * 2^0.56 = 2.36
  EXPECT_EQ(default_embedding_size(10), 6);   // 5.81
  EXPECT_EQ(default_embedding_size(100), 21); // 21.1
  EXPECT_EQ(default_embedding_size(100000), 600);
}

TEST(TrainElement, SplitRngIsSeeded) {
  TrainRng a(5), b(5), c(6);
  const auto x = shuffled_indices(100, a), y = shuffled_indices(100, b), z = shuffled_indices(100, c);
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
  auto sorted = x;
  std::sort(sorted.begin(), sorted.end());
  for (std::uint32_t i = 0; i < 100; ++i) EXPECT_EQ(sorted[i], i);
}

// The float CPU engine (flat buffer, gathers, fused AdamW, decay mask) against a plain
// double-precision loop over the same batches: agreement to float rounding.
TEST(TrainElement, CpuEngineMatchesDoubleReferenceSteps) {
  TrainModelConfig cfg;
  cfg.layers = {6, 5};
  cfg.cat_cols = {"a", "b"};
  cfg.vocabs = {{"#na#", "x", "y", "z"}, {"#na#", "u", "v"}};
  cfg.emb_dims = {3, 2};
  cfg.cont_cols = {"c"};
  const TrainLayout L = make_layout(cfg);
  std::vector<float> params, state;
  init_parameters(L, 77, params, state);
  TrainData data;
  data.rows = 40, data.n_cat = 2, data.n_cont = 1;
  std::mt19937_64 rng(77);
  std::normal_distribution<float> normal;
  for (std::size_t r = 0; r < data.rows; ++r) {
    data.cats.push_back(static_cast<std::int32_t>(rng() % 4));
    data.cats.push_back(static_cast<std::int32_t>(rng() % 3));
    data.cont.push_back(normal(rng));
    data.target.push_back(static_cast<float>(data.cats[r * 2]) + 0.5f * data.cont[r]);
  }
  EngineArgs args;
  args.config = &cfg, args.layout = &L, args.data = &data, args.params = &params, args.state = &state;
  auto engine = make_cpu_engine(args);
  std::vector<double> p(params.begin(), params.end()), m(L.n_params), v(L.n_params), g(L.n_params);
  std::vector<double> st(state.begin(), state.end());
  NetBuffers<double> buf;
  for (std::uint64_t step = 0; step < 6; ++step) {
    std::vector<std::uint32_t> rows(8);
    for (auto& r : rows) r = static_cast<std::uint32_t>(rng() % data.rows);
    StepParams sp;
    sp.step = step;
    const double lr = 0.01 * double(step + 1), mom = 0.9, t = double(step + 1);
    sp.adam = {float(lr), float(mom), 0.99f, 1e-5f, float(1 - lr * 0.1), float(1 - std::pow(mom, t)),
               float(1 - std::pow(0.99, t))};
    engine->train_step(rows.data(), rows.size(), sp);
    const std::vector<double> losses = engine->take_losses();
    ASSERT_EQ(losses.size(), 1u);
    const double loss = losses[0];
    std::vector<std::int32_t> cats;
    std::vector<double> cont, target;
    for (auto r : rows) {
      cats.push_back(data.cats[r * 2]), cats.push_back(data.cats[r * 2 + 1]);
      cont.push_back(data.cont[r]), target.push_back(data.target[r]);
    }
    BatchContext ctx{true, 0, step, 0.0};
    net_forward(L, p.data(), st.data(), cats.data(), cont.data(), rows.size(), ctx, buf);
    const double ref_loss = net_loss(cfg, target.data(), rows.size(), buf, true);
    net_backward(L, p.data(), cats.data(), rows.size(), ctx, buf, g.data());
    for (std::size_t i = 0; i < L.n_params; ++i) el::adamw_update(&p[i], g[i], &m[i], &v[i], sp.adam, i < L.n_decay);
    EXPECT_NEAR(loss, ref_loss, 1e-5 * (1 + std::fabs(ref_loss))) << "step " << step;
  }
  std::vector<float> got, got_state;
  engine->read_back(got, got_state);
  for (std::size_t i = 0; i < L.n_params; ++i) EXPECT_NEAR(got[i], p[i], 2e-5) << "parameter " << i;
  for (std::size_t i = 0; i < L.n_state; ++i) EXPECT_NEAR(got_state[i], st[i], 2e-5) << "state " << i;
  // Decay applies to embeddings and Linear weights only: [0, n_decay) ends at the head's weights.
  EXPECT_EQ(L.n_decay, L.w.back() + L.dims[L.dims.size() - 2] * L.n_out);
  EXPECT_GT(L.n_params, L.n_decay);
}

// Lazy Adam: one step from the same start equals dense Adam on every parameter except the
// table rows the batch does not use, which stay as they were (dense Adam decays them).
TEST(TrainElement, LazyAdamTouchesOnlyTheBatchRows) {
  TrainModelConfig cfg;
  cfg.layers = {6};
  cfg.cat_cols = {"id"};
  cfg.vocabs = {{"#na#"}};
  for (int i = 0; i < 50; ++i) cfg.vocabs[0].push_back("u" + std::to_string(i));
  cfg.emb_dims = {4};
  cfg.cont_cols = {"c"};
  const TrainLayout L = make_layout(cfg);
  std::vector<float> params, state;
  init_parameters(L, 5, params, state);
  TrainData data;
  data.rows = 8, data.n_cat = 1, data.n_cont = 1;
  for (std::size_t r = 0; r < data.rows; ++r) {
    data.cats.push_back(static_cast<std::int32_t>(1 + 3 * r));  // rows 1, 4, ..., 22 of 51
    data.cont.push_back(0.1f * static_cast<float>(r));
    data.target.push_back(static_cast<float>(r % 3));
  }
  EngineArgs args;
  args.config = &cfg, args.layout = &L, args.data = &data, args.params = &params, args.state = &state;
  auto dense = make_cpu_engine(args);
  args.lazy_adam = true;
  auto lazy = make_cpu_engine(args);
  StepParams sp;
  sp.adam = {1e-2f, 0.9f, 0.99f, 1e-5f, 1.0f - 1e-2f * 0.1f, 1.0f - 0.9f, 1.0f - 0.99f};
  const std::vector<std::uint32_t> rows{0, 1, 2, 3, 4, 5, 6, 7};
  dense->train_step(rows.data(), rows.size(), sp);
  lazy->train_step(rows.data(), rows.size(), sp);
  EXPECT_EQ(dense->take_losses(), lazy->take_losses());
  std::vector<float> pd, pl, sd, sl;
  dense->read_back(pd, sd);
  lazy->read_back(pl, sl);
  std::size_t touched = 0, untouched = 0;
  for (std::size_t i = 0; i < L.n_params; ++i) {
    const bool table = i < L.w[0];
    const std::size_t row = table ? (i - L.emb[0]) / 4 : 0;
    const bool used = !table || (row % 3 == 1 && row <= 22);
    if (used) {
      EXPECT_EQ(pl[i], pd[i]) << "parameter " << i;
      touched += table;
    } else {
      EXPECT_EQ(pl[i], params[i]) << "untouched row " << row;
      EXPECT_EQ(pd[i], params[i] * sp.adam.wd_factor) << "dense decays row " << row;
      ++untouched;
    }
  }
  EXPECT_EQ(touched, 8u * 4u);
  EXPECT_EQ(untouched, (51u - 8u) * 4u);
  // A second step (other rows) leaves the first batch's rows alone under lazy Adam.
  for (auto& c : data.cats) c += 1;
  lazy->train_step(rows.data(), rows.size(), sp);
  std::vector<float> again, unused;
  lazy->read_back(again, unused);
  for (std::size_t r = 1; r <= 22; r += 3)
    for (std::size_t j = 0; j < 4; ++j) EXPECT_EQ(again[L.emb[0] + r * 4 + j], pl[L.emb[0] + r * 4 + j]) << r;
}

// ---- synthetic tables: tests/train_tables.hpp ----------------------------------------
using testing::make_bag_matrix;
using testing::make_table;

TrainOptions small_options(const std::string& table) {
  TrainOptions o;
  o.table = table;
  o.target = "target";
  o.cat_cols = {"a", "b"};
  o.cont_cols = {"x", "y"};
  o.layers = {32, 16};
  o.epochs = 6;
  o.batch = 64;
  o.device = Device::Cpu;
  o.progress = false;
  o.seed = 7;
  return o;
}

// The validation MSE of predicting every row with the training rows' mean target.
double mean_predictor_mse(const TrainOptions& o) {
  const auto prepared = prepare_table(o);
  double mean = 0, var = 0;
  for (auto r : prepared.train_rows) mean += prepared.data.target[r];
  mean /= static_cast<double>(prepared.train_rows.size());
  for (auto r : prepared.valid_rows) var += std::pow(prepared.data.target[r] - mean, 2);
  return var / static_cast<double>(prepared.valid_rows.size());
}

TEST(TrainLearn, LossDecreasesAndBeatsMeanPredictor) {
  TempDir dir;
  const std::string table = dir.file("t.csv");
  make_table(table, 2000, 101);
  const auto result = train(small_options(table));
  ASSERT_EQ(result.history.size(), 6u);
  EXPECT_LT(result.history.back().train_loss, 0.5 * result.history.front().train_loss);
  // Mean predictor's validation MSE: the variance of the targets (~3), vs the model's.
  const double var = mean_predictor_mse(small_options(table));
  EXPECT_EQ(result.valid_rows, 400u);
  EXPECT_LT(result.history.back().valid_loss, 0.2 * var) << "mean predictor MSE " << var;
}

TEST(TrainLearn, BinaryAndMulticlassLearn) {
  TempDir dir;
  const std::string table = dir.file("t.csv");
  std::mt19937_64 rng(3);
  std::ostringstream out;
  out << "a,x,cls,bin\n";
  for (int r = 0; r < 1500; ++r) {
    const int a = static_cast<int>(rng() % 3);
    const double x = static_cast<double>(rng() % 1000) / 500.0 - 1.0;
    out << "k" << a << "," << x << ",c" << (a + (x > 0.5 ? 1 : 0)) % 3 << "," << (x + 0.3 * a > 0.4 ? "yes" : "no")
        << "\n";
  }
  testing::write_file(table, out.str());
  for (TrainTask task : {TrainTask::Binary, TrainTask::Multiclass}) {
    TrainOptions o = small_options(table);
    o.cat_cols = {"a"}, o.cont_cols = {"x"};
    o.task = task;
    o.target = task == TrainTask::Binary ? "bin" : "cls";
    o.epochs = 8;
    const auto result = train(o);
    const double chance = task == TrainTask::Binary ? std::log(2.0) : std::log(3.0);
    EXPECT_LT(result.history.back().valid_loss, 0.5 * chance) << train_task_name(task);
    EXPECT_EQ(result.model.config.classes.size(), task == TrainTask::Binary ? 2u : 3u);
    const auto p = predict(result.model, table, Device::Cpu);
    for (std::size_t r = 0; r < 10; ++r) {
      double sum = 0;
      for (int o2 = 0; o2 < p.n_out; ++o2) {
        const float v = p.values[r * static_cast<std::size_t>(p.n_out) + static_cast<std::size_t>(o2)];
        EXPECT_TRUE(v >= 0 && v <= 1);
        sum += v;
      }
      if (task == TrainTask::Multiclass) {
        EXPECT_NEAR(sum, 1.0, 1e-5);
      }
    }
  }
}

TEST(TrainLearn, LazyAdamLearnsAnIdEmbedding) {
  TempDir dir;
  const std::string table = dir.file("t.csv");
  make_table(table, 2000, 35, 400);
  TrainOptions o = small_options(table);
  o.id_col = "uid";  // embedded: 401 rows, a few dozen used per batch
  o.lazy_adam = true;
  const auto result = train(o);
  EXPECT_LT(result.history.back().valid_loss, 0.5 * result.history.front().valid_loss);
  o.threads = 1;
  EXPECT_EQ(train(o).model.params, result.model.params);  // deterministic across thread counts
}

TEST(TrainLearn, EarlyStoppingStops) {
  TempDir dir;
  const std::string table = dir.file("t.csv");
  make_table(table, 600, 5);
  TrainOptions o = small_options(table);
  o.epochs = 40;
  o.patience = 1;
  o.lr = 0.05;
  const auto result = train(o);
  EXPECT_LT(result.history.size(), 40u);
  EXPECT_NE(result.stop_reason.find("early stop"), std::string::npos);
}

// ---- determinism, checkpoints, prediction -------------------------------------------
TEST(TrainDeterminism, BitwiseForSeedWithOneAndTwoThreads) {
  TempDir dir;
  const std::string table = dir.file("t.csv");
  make_table(table, 1500, 21, 300);
  TrainOptions o = small_options(table);
  o.id_col = "uid";
  o.layers = {160, 80};  // big enough that OpenMP and the blocked GEMMs really split
  o.epochs = 2;
  o.threads = 1;
  const auto one = train(o);
  o.threads = 2;
  const auto two = train(o);
  set_cpu_threads(0);
  ASSERT_EQ(one.model.params.size(), two.model.params.size());
  EXPECT_EQ(0, std::memcmp(one.model.params.data(), two.model.params.data(), one.model.params.size() * 4));
  EXPECT_EQ(0, std::memcmp(one.model.state.data(), two.model.state.data(), one.model.state.size() * 4));
  EXPECT_EQ(one.history.back().valid_loss, two.history.back().valid_loss);
  o.seed = 8;
  const auto other = train(o);
  EXPECT_NE(0, std::memcmp(one.model.params.data(), other.model.params.data(), one.model.params.size() * 4));
}

TEST(TrainCheckpoint, RoundTripReproducesPredictions) {
  TempDir dir;
  const std::string table = dir.file("t.csv");
  make_table(table, 800, 31, 200);
  TrainOptions o = small_options(table);
  o.id_col = "uid";
  o.has_y_range = true, o.y_lo = -5, o.y_hi = 5;
  o.epochs = 2;
  const auto result = train(o);
  save_checkpoint(result.model, dir.file("model.ckpt"));
  const auto loaded = load_checkpoint(dir.path().string());
  EXPECT_EQ(loaded.params, result.model.params);
  EXPECT_EQ(loaded.state, result.model.state);
  EXPECT_EQ(loaded.config.vocabs, result.model.config.vocabs);
  EXPECT_EQ(loaded.config.cont_mean, result.model.config.cont_mean);
  EXPECT_TRUE(loaded.config.has_y_range);
  const auto a = predict(result.model, table, Device::Cpu), b = predict(loaded, table, Device::Cpu);
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(a.ids[0], "u0");
  for (float v : a.values) EXPECT_TRUE(v > -5 && v < 5);
  // corrupt checkpoints are InvalidInput, not crashes
  auto bytes = testing::read_file(dir.file("model.ckpt"));
  testing::write_file(dir.file("bad.ckpt"), bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW(load_checkpoint(dir.file("bad.ckpt")), InvalidInput);
  testing::write_file(dir.file("bad2.ckpt"), "not a checkpoint at all");
  EXPECT_THROW(load_checkpoint(dir.file("bad2.ckpt")), InvalidInput);
}

TEST(TrainCheckpoint, ResumeContinuesFromTheCheckpoint) {
  TempDir dir;
  const std::string table = dir.file("t.csv");
  make_table(table, 1200, 33);
  TrainOptions o = small_options(table);
  o.epochs = 2;
  o.lr = 3e-3;
  const auto first = train(o);
  save_checkpoint(first.model, dir.file("model.ckpt"));
  TrainOptions r;
  r.table = table;
  r.target = "target";
  r.resume = dir.file("model.ckpt");
  r.epochs = 3, r.batch = 64, r.lr = 3e-3, r.device = Device::Cpu, r.progress = false, r.seed = 7;
  const auto resumed = train(r);
  EXPECT_EQ(resumed.model.config.vocabs, first.model.config.vocabs);
  EXPECT_EQ(resumed.model.config.cont_mean, first.model.config.cont_mean);
  EXPECT_EQ(resumed.model.params.size(), first.model.params.size());
  // Same split (same seed): continuing beats where it stopped and starts near it.
  EXPECT_LT(resumed.history.back().valid_loss, first.history.back().valid_loss);
  EXPECT_LT(resumed.history.front().valid_loss, 2 * first.history.back().valid_loss);
  // A table without the checkpoint's columns is InvalidInput.
  testing::write_file(dir.file("other.csv"), "a,x,target\na,1,2\nb,2,3\n");
  r.table = dir.file("other.csv");
  r.batch = 1;
  EXPECT_THROW(train(r), InvalidInput);
}

// The message of the InvalidInput f throws.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "(no InvalidInput)";
}

TEST(TrainPredict, UnseenCategoriesUseTheUnknownRow) {
  TempDir dir;
  const std::string table = dir.file("t.csv");
  make_table(table, 600, 41);
  TrainOptions o = small_options(table);
  o.epochs = 1;
  const auto result = train(o);
  testing::write_file(dir.file("new.csv"),
                      "a,b,x,y\nzzz,p,0.5,3\n,p,0.5,3\n#na#,p,0.5,3\na,p,0.5,3\na,never,0.5,3\na,,0.5,3\n");
  const auto p = predict(result.model, dir.file("new.csv"), Device::Cpu);
  ASSERT_EQ(p.values.size(), 6u);
  EXPECT_EQ(p.values[0], p.values[1]);  // unseen == empty == row 0
  EXPECT_EQ(p.values[0], p.values[2]);  // "#na#" itself is row 0's name
  EXPECT_NE(p.values[0], p.values[3]);
  EXPECT_EQ(p.values[4], p.values[5]);
  // the same through encode_for_predict: unseen -> 0
  TableSpec spec{dir.file("new.csv"), {"a", "b"}, {"x", "y"}, "", "", false};
  const auto data = encode_for_predict(result.model.config, read_table(spec));
  EXPECT_EQ(data.cats[0], 0);
  EXPECT_EQ(data.cats[4 * 2 + 1], 0);
  EXPECT_GT(data.cats[3 * 2], 0);

  // Continuous values as in training: missing or NaN is an error naming file:line unless
  // impute_nan (the training mean: standardised 0), infinite always is.
  for (const char* value : {"", "nan"}) {
    testing::write_file(dir.file("gaps.csv"), std::string("a,b,x,y\na,p,0.5,3\na,p,") + value + ",3\n");
    const std::string msg = error_of([&] { predict(result.model, dir.file("gaps.csv"), Device::Cpu); });
    EXPECT_NE(msg.find("gaps.csv:3: column 'x': missing or NaN value"), std::string::npos) << msg;
    const auto imputed = predict(result.model, dir.file("gaps.csv"), Device::Cpu, "", /*impute_nan=*/true);
    testing::write_file(dir.file("mean.csv"), "a,b,x,y\na,p," + std::to_string(result.model.config.cont_mean[0]) +
                                                  ",3\n");
    EXPECT_NEAR(imputed.values[1], predict(result.model, dir.file("mean.csv"), Device::Cpu).values[0], 1e-5);
  }
  testing::write_file(dir.file("inf.csv"), "a,b,x,y\na,p,0.5,inf\n");
  const std::string msg = error_of([&] { predict(result.model, dir.file("inf.csv"), Device::Cpu, "", true); });
  EXPECT_NE(msg.find("inf.csv:2: column 'y': infinite value"), std::string::npos) << msg;
}

// ---- bad input ------------------------------------------------------------------------
TEST(TrainBadInput, ReportsFileLineAndProblem) {
  TempDir dir;
  const std::string t = dir.file("t.csv");
  auto run = [&](const std::string& csv, TrainOptions o) {
    testing::write_file(t, csv);
    o.table = t;
    o.batch = 2;
    o.epochs = 1;
    o.valid_frac = 0;
    return error_of([&] { train(o); });
  };
  const TrainOptions o = small_options(t);
  const std::string head = "a,b,x,y,target\n";
  std::string msg = run(head + "a,p,1,2,3\na,p,nan,2,3\nb,q,2,3,4\n", o);
  EXPECT_NE(msg.find("t.csv:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'x'"), std::string::npos) << msg;
  msg = run(head + "a,p,1,2,3\na,p,,2,3\nb,q,2,3,4\n", o);
  EXPECT_NE(msg.find("t.csv:3"), std::string::npos) << msg;
  msg = run(head + "a,p,1,2,3\nb,q,2,3,4\na,p,1,inf,3\n", o);
  EXPECT_NE(msg.find("t.csv:4: column 'y': infinite value"), std::string::npos) << msg;
  TrainOptions impute_inf = o;  // --impute-nan stands in for NaN, never for infinity
  impute_inf.impute_nan = true;
  msg = run(head + "a,p,1,2,3\nb,q,2,3,4\na,p,-inf,2,3\n", impute_inf);
  EXPECT_NE(msg.find("t.csv:4: column 'x': infinite value"), std::string::npos) << msg;
  msg = run(head + "a,p,1,2,3\na,p,1,2,\nb,q,2,3,4\n", o);
  EXPECT_NE(msg.find("t.csv:3: missing target"), std::string::npos) << msg;
  msg = run(head + "a,p,1,2,3\na,p,1,2,abc\nb,q,2,3,4\n", o);
  EXPECT_NE(msg.find("t.csv:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a finite number"), std::string::npos) << msg;
  msg = run(head + "a,p,1,2,3\na,p,one,2,4\nb,q,2,3,4\n", o);
  EXPECT_NE(msg.find("t.csv:3"), std::string::npos) << msg;
  msg = run(head, o);
  EXPECT_NE(msg.find("no data rows"), std::string::npos) << msg;
  TrainOptions bad = o;
  bad.cat_cols = {"nope"};
  msg = run(head + "a,p,1,2,3\nb,q,2,3,4\n", bad);
  EXPECT_NE(msg.find("nope"), std::string::npos) << msg;
  bad = o;
  bad.task = TrainTask::Binary;
  msg = run(head + "a,p,1,2,0\nb,q,2,3,1\nb,q,2,3,2\n", bad);
  EXPECT_NE(msg.find("3 distinct values"), std::string::npos) << msg;
  bad = o;
  bad.patience = 2;  // early stopping without validation rows (run sets --valid-frac 0)
  msg = error_of([&] {
    TrainOptions p = bad;
    p.table = t, p.batch = 2, p.epochs = 1, p.valid_frac = 0;
    train(p);
  });
  EXPECT_NE(msg.find("--patience needs validation rows"), std::string::npos) << msg;
  bad = o;
  bad.cont_cols = {"x", "target"};
  msg = run(head + "a,p,1,2,3\nb,q,2,3,4\n", bad);
  EXPECT_NE(msg.find("twice"), std::string::npos) << msg;
  // --impute-nan: trains, and the mean stands in
  TrainOptions imp = o;
  imp.impute_nan = true;
  imp.table = t;
  imp.batch = 2, imp.epochs = 1, imp.valid_frac = 0;
  testing::write_file(t, head + "a,p,1,2,3\na,p,nan,2,3\nb,q,3,3,4\nb,q,,3,4\n");
  const auto result = train(imp);
  EXPECT_DOUBLE_EQ(result.model.config.cont_mean[0], 2.0);
}

TEST(TrainBadInput, ConstantColumnWarnsAndKeepsStdOne) {
  TempDir dir;
  const std::string t = dir.file("t.csv");
  testing::write_file(t, "a,b,x,y,target\na,p,5,1,1\nb,q,5,2,2\na,q,5,3,3\nb,p,5,4,4\n");
  TrainOptions o = small_options(t);
  o.batch = 2, o.epochs = 1, o.valid_frac = 0;
  const auto result = train(o);
  EXPECT_EQ(result.model.config.cont_std[0], 1.0);
  EXPECT_EQ(result.model.config.cont_mean[0], 5.0);
}

TEST(TrainBadInput, DivergenceStopsWithAClearMessage) {
  TempDir dir;
  const std::string t = dir.file("t.csv");
  make_table(t, 400, 9);
  TrainOptions o = small_options(t);
  o.lr = 1e12;
  o.epochs = 3;
  try {
    train(o);
    FAIL() << "expected divergence";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("diverged"), std::string::npos) << e.what();
  }
}

// ---- CLI -------------------------------------------------------------------------------
TEST(TrainCli, TrainExportPredictRoundTrip) {
  TempDir dir;
  const std::string table = dir.file("t.csv");
  make_table(table, 700, 51, 100);
  const std::string out = dir.file("m");
  auto r = testing::run_cli("train --table " + table + " --target target --cat-cols a,b --cont-cols x,y --id-col uid "
                            "--layers 16,8 --epochs 2 --batch 32 --emb-size a=3 --device cpu --quiet --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto history = read_lines(out + "/history.csv");
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0], "epoch,train_loss,valid_loss");
  const auto ids = read_lines(out + "/ids.txt");
  EXPECT_EQ(ids.size(), 100u);
  const auto emb = read_npy<float>(out + "/embeddings.npy");
  EXPECT_EQ(emb.rows(), 100u);
  EXPECT_EQ(emb.cols(), static_cast<std::size_t>(default_embedding_size(101)));
  const auto ea = read_npy<float>(out + "/embeddings_a.npy");
  EXPECT_EQ(ea.rows(), 6u);
  EXPECT_EQ(ea.cols(), 3u);
  EXPECT_EQ(read_lines(out + "/vocab_a.txt"), (std::vector<std::string>{"#na#", "a", "b", "c", "d", "e"}));
  // the concatenated-embedding user vectors
  r = testing::run_cli("train --table " + table + " --target target --cat-cols a,b --cont-cols x,y --id-col uid "
                       "--no-id-embedding --layers 16,8 --epochs 1 --batch 32 --device cpu --quiet --out " + out + "2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_npy<float>(out + "2/embeddings.npy").cols(),
            static_cast<std::size_t>(default_embedding_size(6) + default_embedding_size(4)));
  r = testing::run_cli("train --predict " + table + " --model " + out + " --out " + dir.file("p.csv") + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto pred = read_lines(dir.file("p.csv"));
  ASSERT_EQ(pred.size(), 701u);
  EXPECT_EQ(pred[0], "uid,prediction");
  // --resume continues the checkpoint's model: a flag shaping another one is an error.
  r = testing::run_cli("train --table " + table + " --target target --resume " + out + " --epochs 1 --batch 32 " +
                       "--device cpu --quiet --out " + out + "r");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* shaping : {"--cat-cols a", "--layers 8", "--task binary", "--no-batch-norm"}) {
    r = testing::run_cli("train --table " + table + " --target target --resume " + out + " --epochs 1 " + shaping +
                         " --device cpu --quiet --out " + out + "r2");
    EXPECT_NE(r.exit_code, 0) << shaping;
    EXPECT_NE(r.output.find("--resume continues the checkpoint's model"), std::string::npos) << r.output;
  }
  r = testing::run_cli("train --table " + table + " --target nope --cat-cols a --out " + out + "3 --quiet");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("error:"), std::string::npos) << r.output;
  r = testing::run_cli("train --table " + table + " --target target --cat-cols a --task bogus --out " + out + "3");
  EXPECT_NE(r.exit_code, 0);
  // The optimiser and schedule constants: taken (the losses change) and checked.
  const std::string base = "train --table " + table + " --target target --cat-cols a,b --cont-cols x,y --layers 16,8 "
                           "--epochs 2 --batch 32 --device cpu --quiet --out ";
  r = testing::run_cli(base + out + "4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = testing::run_cli(base + out + "5 --beta2 0.9 --eps 1e-6 --moms 0.9,0.8 --pct-start 0.3 --div 10 --div-final 1000");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(read_lines(out + "4/history.csv")[2], read_lines(out + "5/history.csv")[2]);
  for (const char* bad : {"--moms 0.8,0.9", "--pct-start 1", "--beta2 1", "--eps 0", "--div 0.5"}) {
    r = testing::run_cli(base + out + "6 " + bad);
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.output.find("error:"), std::string::npos) << bad << ": " << r.output;
  }
}

// ---- generated world --------------------------------------------------------------------
// Leave-one-out 5-NN (cosine) vote of the truth segments over the first 1500 exported
// user vectors of DIR/m: the accuracy, and the largest segment's share (the baseline).
std::pair<double, double> knn_segment_accuracy(const TempDir& dir) {
  const auto emb = read_npy<float>(dir.file("m/embeddings.npy"));
  const auto ids = read_lines(dir.file("m/ids.txt"));
  std::map<std::string, int> truth;
  for (const auto& line : read_lines(dir.file("w/truth_segments.csv"))) {
    const auto comma = line.find(',');
    if (line.rfind("user_id", 0) == 0) continue;
    truth[line.substr(0, comma)] = std::stoi(line.substr(comma + 1));
  }
  // Leave-one-out 5-NN (cosine) segment vote over the first 1500 users.
  const std::size_t n = std::min<std::size_t>(1500, ids.size());
  const std::size_t d = emb.cols();
  std::vector<double> norm(n);
  for (std::size_t i = 0; i < n; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < d; ++j) s += double(emb.data[i * d + j]) * emb.data[i * d + j];
    norm[i] = std::sqrt(s) + 1e-30;
  }
  std::size_t correct = 0, largest = 0;
  std::vector<std::size_t> counts(16);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::pair<double, std::size_t>> sims;
    for (std::size_t k = 0; k < n; ++k) {
      if (k == i) continue;
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) s += double(emb.data[i * d + j]) * emb.data[k * d + j];
      sims.emplace_back(-s / (norm[i] * norm[k]), k);
    }
    std::partial_sort(sims.begin(), sims.begin() + 5, sims.end());
    std::vector<int> votes(16);
    for (int t = 0; t < 5; ++t) votes[static_cast<std::size_t>(truth.at(ids[sims[static_cast<std::size_t>(t)].second]))]++;
    const int guess = static_cast<int>(std::max_element(votes.begin(), votes.end()) - votes.begin());
    correct += guess == truth.at(ids[i]);
    largest = std::max(largest, ++counts[static_cast<std::size_t>(truth.at(ids[i]))]);
  }
  return {double(correct) / double(n), double(largest) / double(n)};
}

TEST(TrainGenerate, UserVectorsSeparateTruthSegments) {
  TempDir dir;
  const auto gen = testing::run_cli("generate --size small --quiet --out " + dir.file("w"));
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  TrainOptions o;
  o.table = dir.file("w/customers.csv");
  o.target = "spend";
  o.cat_cols = {"age_band", "gender", "marital_status", "device", "city", "zip_code"};
  o.cont_cols = {"income", "tenure_months", "home_lon", "home_lat"};
  o.id_col = "user_id";
  o.embed_id = false;
  o.layers = {64, 32};
  o.epochs = 10, o.batch = 64, o.device = Device::Cpu, o.progress = false;  // ~600 steps
  const auto result = train(o);
  EXPECT_LT(result.history.back().valid_loss, result.history.front().valid_loss);
  const double mean_mse = mean_predictor_mse(o);
  std::printf("valid MSE %.4g, mean predictor %.4g\n", result.history.back().valid_loss, mean_mse);
  EXPECT_LT(result.history.back().valid_loss, 0.5 * mean_mse);
  write_train_outputs(result, dir.file("m"));
  const auto [accuracy, baseline] = knn_segment_accuracy(dir);
  std::printf("5-NN segment accuracy %.3f (largest segment %.3f)\n", accuracy, baseline);
  EXPECT_GT(accuracy, 0.8) << "baseline " << baseline;
}

// Behaviour alone: the bag of each user's event categories, one continuous column.
TEST(TrainGenerate, BagOfEventCategoriesSeparatesTruthSegments) {
  TempDir dir;
  const auto gen = testing::run_cli("generate --size small --quiet --out " + dir.file("w"));
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  const auto matrix = testing::run_cli("matrix --quiet --events " + dir.file("w/events.csv") +
                                       " --user-col user_id --item-col category --event-col event --out " +
                                       dir.file("matrix"));
  ASSERT_EQ(matrix.exit_code, 0) << matrix.output;
  TrainOptions o;
  o.table = dir.file("w/customers.csv");
  o.target = "spend";
  o.cont_cols = {"income"};
  o.id_col = "user_id";
  o.embed_id = false;
  o.matrix = dir.file("matrix");
  o.layers = {64, 32};
  o.epochs = 4, o.batch = 256, o.device = Device::Cpu, o.progress = false;
  const auto result = train(o);
  EXPECT_LT(result.history.back().valid_loss, result.history.front().valid_loss);
  write_train_outputs(result, dir.file("m"));
  EXPECT_EQ(read_npy<float>(dir.file("m/embeddings.npy")).cols(), static_cast<std::size_t>(result.model.config.bag_width));
  const auto [accuracy, baseline] = knn_segment_accuracy(dir);
  std::printf("bag only: 5-NN segment accuracy %.3f (largest segment %.3f)\n", accuracy, baseline);
  EXPECT_GT(accuracy, 0.8) << "baseline " << baseline;
}

TEST(TrainBag, SharesPerUserMissingUsersAndOneEventType) {
  TempDir dir;
  const std::string matrix = make_bag_matrix(dir.path().string(), 50, 5);
  TrainModelConfig cfg;
  cfg.bag_items = bag_vocabulary(matrix);
  ASSERT_EQ(cfg.bag_items.size(), 9u);  // "#na#" + i0..i7
  EXPECT_EQ(cfg.bag_items[0], "#na#");
  // Brute force from the event log: per (user, item) counts, all events and buys only.
  std::map<std::string, std::map<std::string, double>> all, buys;
  for (const auto& line : read_lines(dir.file("events.csv"))) {
    if (line.rfind("user,", 0) == 0) continue;
    const auto a = line.find(','), b = line.rfind(',');
    all[line.substr(0, a)][line.substr(a + 1, b - a - 1)] += 1;
    if (line.substr(b + 1) == "buy") buys[line.substr(0, a)][line.substr(a + 1, b - a - 1)] += 1;
  }
  const std::vector<std::string> ids{"u0", "u9", "u13", "nobody", "u0"};
  for (const char* event : {"", "buy"}) {
    SCOPED_TRACE(event);
    cfg.bag_event = event;
    std::size_t missing = 0;
    const BagRows bags = encode_bags(cfg, matrix, ids, &missing);
    ASSERT_EQ(bags.indptr.size(), ids.size() + 1);
    const auto& truth = cfg.bag_event.empty() ? all : buys;
    EXPECT_EQ(missing, 2u);  // u9 (every 10th user has no events) and "nobody"
    for (std::size_t r = 0; r < ids.size(); ++r) {
      const auto it = truth.find(ids[r]);
      std::map<std::string, double> expected;
      double total = 0;
      if (it != truth.end())
        for (const auto& [item, count] : it->second) expected[item] = count, total += count;
      std::map<std::string, double> got;
      for (auto k = bags.indptr[r]; k < bags.indptr[r + 1]; ++k) got[cfg.bag_items[static_cast<std::size_t>(bags.items[k])]] = bags.weights[k];
      ASSERT_EQ(got.size(), expected.size()) << ids[r];
      for (const auto& [item, count] : expected) EXPECT_NEAR(got[item], count / total, 1e-6) << ids[r] << " " << item;
    }
  }
  cfg.bag_event = "refund";
  EXPECT_THROW(encode_bags(cfg, matrix, ids, nullptr), InvalidInput);
}

TEST(TrainBag, TrainsExportsAndPredictsThroughTheCheckpoint) {
  TempDir dir;
  testing::QuietScope quiet;
  const std::string table = dir.file("t.csv");
  make_table(table, 800, 33, 200);
  TrainOptions o = small_options(table);
  o.id_col = "uid";
  o.embed_id = false;
  o.matrix = make_bag_matrix(dir.path().string(), 200, 6);
  o.bag_size = 4;
  o.epochs = 2;
  const auto result = train(o);
  ASSERT_EQ(result.model.config.bag_width, 4);
  write_train_outputs(result, dir.file("m"));
  const auto bag_table = read_npy<float>(dir.file("m/embeddings_bag.npy"));
  EXPECT_EQ(bag_table.rows(), 9u);
  EXPECT_EQ(bag_table.cols(), 4u);
  EXPECT_EQ(read_lines(dir.file("m/vocab_bag.txt")), result.model.config.bag_items);
  // User vectors: the categorical embeddings, then the bag (zero for a user without events).
  const auto vectors = read_npy<float>(dir.file("m/embeddings.npy"));
  const auto ids = read_lines(dir.file("m/ids.txt"));
  const std::size_t cat_width = static_cast<std::size_t>(result.model.config.emb_dims[0] + result.model.config.emb_dims[1]);
  ASSERT_EQ(vectors.cols(), cat_width + 4);
  const TrainLayout L = make_layout(result.model.config);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto r = static_cast<std::size_t>(std::find(result.row_ids.begin(), result.row_ids.end(), ids[i]) - result.row_ids.begin());
    for (std::size_t j = 0; j < 4; ++j) {
      double expected = 0;
      for (auto k = result.row_bags.indptr[r]; k < result.row_bags.indptr[r + 1]; ++k)
        expected += double(result.row_bags.weights[k]) *
                    result.model.params[L.bag + static_cast<std::size_t>(result.row_bags.items[k]) * 4 + j];
      EXPECT_NEAR(vectors.data[i * vectors.cols() + cat_width + j], expected, 1e-6) << ids[i];
      if (ids[i] == "u9") {
        EXPECT_EQ(vectors.data[i * vectors.cols() + cat_width + j], 0.0f);
      }
    }
  }
  // The checkpoint keeps the bag; prediction needs the matrix and reproduces the model's.
  const auto loaded = load_checkpoint(dir.file("m"));
  EXPECT_EQ(loaded.config.bag_items, result.model.config.bag_items);
  EXPECT_EQ(loaded.params, result.model.params);
  const auto a = predict(result.model, table, Device::Cpu, o.matrix), b = predict(loaded, table, Device::Cpu, o.matrix);
  EXPECT_EQ(a.values, b.values);
  EXPECT_THROW(predict(loaded, table, Device::Cpu), Error);
  // The bag matters: other items for the same users change the predictions.
  EXPECT_NE(predict(loaded, table, Device::Cpu, make_bag_matrix(dir.file("other"), 200, 99)).values, a.values);
  // Resume needs the matrix too.
  TrainOptions resume = o;
  resume.resume = dir.file("m");
  resume.matrix.clear();
  EXPECT_THROW(train(resume), Error);
  resume.matrix = o.matrix;
  EXPECT_EQ(train(resume).model.config.bag_width, 4);
  // --matrix without --id-col is refused.
  TrainOptions no_id = o;
  no_id.id_col.clear();
  EXPECT_THROW(train(no_id), Error);
}

// ---- CUDA vs CPU ---------------------------------------------------------------------------
struct CudaCase {
  const char* name;
  TrainTask task;
  bool bn;
  double dropout;
  bool bag = false;
  bool lazy = false;
};

class TrainCuda : public ::testing::TestWithParam<CudaCase> {};

TEST_P(TrainCuda, MatchesCpuAfterSteps) {
  if (cuda_devices().empty()) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
  const CudaCase c = GetParam();
  SCOPED_TRACE(c.name);
  TempDir dir;
  const std::string table = dir.file("t.csv");
  make_table(table, 1280 + 100, 61, 300, /*labels=*/true);
  TrainOptions o = small_options(table);
  o.id_col = "uid";
  o.layers = {64, 32};
  o.epochs = 1;  // 20 steps of 64
  o.valid_frac = 100.0 / 1380.0;
  o.batch_norm = c.bn;
  o.dropout = c.dropout;
  if (c.bag) o.matrix = make_bag_matrix(dir.path().string(), 300, 62);
  o.lazy_adam = c.lazy;
  if (c.task != TrainTask::Regression) {
    o.target = c.task == TrainTask::Binary ? "binary" : "label";
    o.task = c.task;
  } else {
    o.has_y_range = true, o.y_lo = -4, o.y_hi = 4;
  }
  const auto cpu = train(o);
  o.device = Device::Cuda;
  const auto gpu = train(o);
  ASSERT_EQ(gpu.device, Device::Cuda);
  testing::expect_training_close(gpu, cpu);
  for (std::size_t i = 0; i < cpu.model.state.size(); ++i)
    EXPECT_NEAR(gpu.model.state[i], cpu.model.state[i], 1e-3 + 1e-3 * std::fabs(cpu.model.state[i])) << "state " << i;
  // --deterministic: no floating-point atomics, so run to run bitwise the same, and as
  // close to the CPU as the default.
  o.deterministic = true;
  const auto first = train(o);
  const auto again = train(o);
  EXPECT_EQ(0, std::memcmp(again.model.params.data(), first.model.params.data(), first.model.params.size() * 4));
  for (std::size_t i = 0; i < cpu.model.params.size(); ++i)
    ASSERT_NEAR(first.model.params[i], cpu.model.params[i], 1e-3) << "parameter " << i;
  // The same kernels launched one by one instead of replayed as a captured CUDA graph
  // (the default; with a bag or lazy Adam the graph reads each step's entries and row
  // list from device buffers, re-captured when they grow): the same run.
  o.cuda_graph = false;
  const auto eager = train(o);
  for (std::size_t i = 0; i < first.model.params.size(); ++i)
    ASSERT_NEAR(eager.model.params[i], first.model.params[i], 1e-5) << "parameter " << i;
  EXPECT_NEAR(eager.history[0].train_loss, first.history[0].train_loss, 1e-6 * std::fabs(first.history[0].train_loss));
}

// Tensor-core GEMMs round their inputs (TF32: 10 mantissa bits, BF16: 7), so parameters
// drift from the FP32 run; the model must still learn as well.
TEST(TrainCudaPrecision, Tf32AndBf16LearnLikeFp32) {
  if (cuda_devices().empty()) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
  TempDir dir;
  const std::string table = dir.file("t.csv");
  make_table(table, 1380, 61, 300);
  TrainOptions o = small_options(table);
  o.layers = {64, 32};
  o.epochs = 3;
  o.device = Device::Cuda;
  const auto fp32 = train(o);
  for (GemmPrecision precision : {GemmPrecision::Tf32, GemmPrecision::Bf16}) {
    SCOPED_TRACE(gemm_precision_name(precision));
    o.precision = precision;
    const auto fast = train(o);
    EXPECT_NEAR(fast.history.back().valid_loss, fp32.history.back().valid_loss,
                0.05 * fp32.history.back().valid_loss);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, TrainCuda,
                         ::testing::Values(CudaCase{"regression", TrainTask::Regression, true, 0.0},
                                           CudaCase{"binary", TrainTask::Binary, true, 0.0},
                                           CudaCase{"multiclass", TrainTask::Multiclass, true, 0.0},
                                           CudaCase{"no_batch_norm", TrainTask::Regression, false, 0.0},
                                           CudaCase{"dropout", TrainTask::Regression, true, 0.2},
                                           CudaCase{"bag", TrainTask::Regression, true, 0.0, true},
                                           CudaCase{"lazy_adam_with_bag", TrainTask::Regression, true, 0.0, true, true}),
                         [](const ::testing::TestParamInfo<CudaCase>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace cohort
