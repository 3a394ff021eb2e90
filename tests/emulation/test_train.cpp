// test_train.cpp: kernels/train.cu's launchers on the emulator against the CPU engine's
// code (train_net.hpp's column_sums, batch_norm_forward and net_loss; train_element's
// per-element functions in the CPU's loops). Where both sum in the same order the results
// must be bitwise equal, also with blocks, warps and lanes run last to first; atomic
// adds only within rounding of a double sum. Batches of 1, of whole and partial 64-row
// segments; launchers given empty work must not launch at all.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "emulation/core.hpp"
#include "host/cpu/train_net.hpp"
#include "kernels/train.hpp"

namespace {

namespace el = cohort::train_element;
namespace cu = cohort::cuda;
namespace td = cohort::train_detail;

constexpr float kPoison = -777.25f;  // in columns a launcher must not write

std::vector<float> uniform(std::size_t n, std::mt19937& generator, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> value(lo, hi);
  std::vector<float> out(n);
  for (float& x : out) x = value(generator);
  return out;
}

std::vector<std::int32_t> indices(std::size_t n, std::int32_t bound, std::mt19937& generator) {
  std::vector<std::int32_t> out(n);
  for (auto& x : out) x = static_cast<std::int32_t>(generator() % static_cast<unsigned>(bound));
  return out;
}

void expect_bitwise(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(std::memcmp(&got[i], &want[i], sizeof(float)), 0)
        << what << ": element " << i << " is " << got[i] << ", expected " << want[i];
}

// How many grids `call` launched.
template <typename Call>
long launches_of(Call&& call) {
  const long before = cohort::emulation::stats().launches;
  call();
  return cohort::emulation::stats().launches - before;
}

// Runs the test body in both scheduling orders (sums in a fixed order must not care).
class TrainKernels : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { cohort::emulation::options().reverse_order = GetParam(); }
  void TearDown() override { cohort::emulation::options().reverse_order = false; }
};

INSTANTIATE_TEST_SUITE_P(Order, TrainKernels, ::testing::Values(false, true),
                         [](const auto& order) { return order.param ? "Reversed" : "Forward"; });

TEST_P(TrainKernels, GatherRows) {
  const std::size_t n = 90, n_cat = 3, n_cont = 2;
  std::mt19937 generator(11);
  const auto cats = indices(n * n_cat, 1000, generator);
  const auto cont = uniform(n * n_cont, generator), target = uniform(n, generator);
  for (const std::size_t batch : {std::size_t{1}, std::size_t{37}, std::size_t{300}}) {
    SCOPED_TRACE("seed 11, batch " + std::to_string(batch));
    std::vector<std::uint32_t> rows(batch);
    for (auto& r : rows) r = static_cast<std::uint32_t>(generator() % n);
    std::vector<std::int32_t> bcats(batch * n_cat);
    std::vector<float> bcont(batch * n_cont), btarget(batch);
    cu::gather_rows(rows.data(), batch, cats.data(), cont.data(), target.data(), n_cat, n_cont, bcats.data(),
                    bcont.data(), btarget.data(), nullptr);
    for (std::size_t r = 0; r < batch; ++r) {
      for (std::size_t c = 0; c < n_cat; ++c) ASSERT_EQ(bcats[r * n_cat + c], cats[rows[r] * n_cat + c]);
      for (std::size_t k = 0; k < n_cont; ++k) ASSERT_EQ(bcont[r * n_cont + k], cont[rows[r] * n_cont + k]);
      ASSERT_EQ(btarget[r], target[rows[r]]);
    }
  }
  EXPECT_EQ(launches_of([] {
              cu::gather_rows(nullptr, 0, nullptr, nullptr, nullptr, 3, 2, nullptr, nullptr, nullptr, nullptr);
            }),
            0);
}

// Three embedding tables (widths 4, 1, 7; vocabularies 5, 3, 9) in one flat buffer.
struct Tables {
  std::vector<std::size_t> offset{0, 20, 23}, width{4, 1, 7}, column{0, 4, 5};
  std::vector<std::int32_t> owner{0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2};
  std::vector<std::int32_t> vocab{5, 3, 9};
  std::size_t params = 23 + 9 * 7, n_cat = 3, emb_cols = 12;
  cu::EmbeddingTables view() const {
    return {offset.data(), width.data(), column.data(), owner.data(), n_cat, emb_cols};
  }
  std::vector<std::int32_t> cats(std::size_t batch, std::mt19937& generator) const {
    std::vector<std::int32_t> out(batch * n_cat);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = indices(1, vocab[i % n_cat], generator)[0];
    return out;
  }
};

TEST_P(TrainKernels, EmbeddingGatherAndScatterAdd) {
  const Tables tables;
  const std::size_t ld = tables.emb_cols + 3;
  for (const std::size_t batch : {std::size_t{1}, std::size_t{64}, std::size_t{150}}) {
    SCOPED_TRACE("seed 12, batch " + std::to_string(batch));
    std::mt19937 generator(12);
    const auto params = uniform(tables.params, generator);
    const auto bcats = tables.cats(batch, generator);
    std::vector<float> x0(batch * ld, kPoison);
    cu::embedding_gather(params.data(), tables.view(), bcats.data(), batch, x0.data(), ld, nullptr);
    std::vector<float> want_x0(batch * ld, kPoison);
    for (std::size_t r = 0; r < batch; ++r)
      for (std::size_t c = 0; c < tables.n_cat; ++c)
        for (std::size_t j = 0; j < tables.width[c]; ++j)
          want_x0[r * ld + tables.column[c] + j] =
              params[tables.offset[c] + static_cast<std::size_t>(bcats[r * tables.n_cat + c]) * tables.width[c] + j];
    expect_bitwise(x0, want_x0, "x0");

    // The CPU's net_backward loop: per table, rows in order, from zero gradients as in
    // training: the sorted (deterministic) scatter must give its bits; from nonzero ones,
    // each gradient plus its rows' sum.
    const auto dx0 = uniform(batch * ld, generator), grads = uniform(tables.params, generator);
    std::vector<float> want(tables.params, 0.0f);
    std::vector<double> exact(grads.begin(), grads.end());
    for (std::size_t c = 0; c < tables.n_cat; ++c)
      for (std::size_t r = 0; r < batch; ++r)
        for (std::size_t j = 0; j < tables.width[c]; ++j) {
          const std::size_t g = tables.offset[c] + std::size_t(bcats[r * tables.n_cat + c]) * tables.width[c] + j;
          want[g] += dx0[r * ld + tables.column[c] + j];
          exact[g] += double(dx0[r * ld + tables.column[c] + j]);
        }
    const std::size_t items = tables.n_cat * batch;
    std::vector<std::uint64_t> keys(2 * items);
    std::vector<std::uint32_t> rows(2 * items);
    std::vector<unsigned char> temp(cu::sorted_scatter_temp_bytes(items));
    const cu::SortedScatter sorted{keys.data(), rows.data(), temp.data(), temp.size(), 4};  // codes < 9 < 2^4
    std::vector<float> deterministic(tables.params, 0.0f), added = grads, atomic = grads;
    cu::embedding_scatter_add(deterministic.data(), tables.view(), bcats.data(), batch, dx0.data(), ld, &sorted,
                              nullptr);
    expect_bitwise(deterministic, want, "deterministic gradients");
    cu::embedding_scatter_add(added.data(), tables.view(), bcats.data(), batch, dx0.data(), ld, &sorted, nullptr);
    std::vector<float> want_added = grads;
    for (std::size_t g = 0; g < want_added.size(); ++g) want_added[g] += want[g];
    expect_bitwise(added, want_added, "deterministic gradients added to nonzero ones");
    cu::embedding_scatter_add(atomic.data(), tables.view(), bcats.data(), batch, dx0.data(), ld, nullptr, nullptr);
    for (std::size_t g = 0; g < atomic.size(); ++g) ASSERT_NEAR(atomic[g], exact[g], 1e-5 * double(batch)) << "parameter " << g;
  }
  const cu::EmbeddingTables empty{};
  EXPECT_EQ(launches_of([&] {
              cu::embedding_gather(nullptr, empty, nullptr, 10, nullptr, 4, nullptr);
              cu::embedding_gather(nullptr, tables.view(), nullptr, 0, nullptr, 4, nullptr);
              const cu::SortedScatter no_buffers{};
              cu::embedding_scatter_add(nullptr, tables.view(), nullptr, 0, nullptr, 4, &no_buffers, nullptr);
              cu::embedding_scatter_add(nullptr, tables.view(), nullptr, 0, nullptr, 4, nullptr, nullptr);
            }),
            0);
}

TEST_P(TrainKernels, BagGatherAndScatterAdd) {
  const std::size_t width = 5, vocab = 11, ld = 9;
  for (const std::size_t batch : {std::size_t{1}, std::size_t{70}}) {
    SCOPED_TRACE("seed 13, batch " + std::to_string(batch));
    std::mt19937 generator(13);
    std::vector<std::uint64_t> indptr{0};
    for (std::size_t r = 0; r < batch; ++r) indptr.push_back(indptr.back() + generator() % 5);  // empty bags too
    const auto items = indices(indptr.back(), std::int32_t(vocab), generator);
    const auto weights = uniform(indptr.back(), generator, 0.f, 2.f), table = uniform(vocab * width, generator);
    std::vector<float> x0(batch * ld, kPoison), want_x0(batch * ld, kPoison);
    cu::bag_gather(table.data(), width, indptr.data(), items.data(), weights.data(), batch, x0.data(), ld, nullptr);
    for (std::size_t r = 0; r < batch; ++r)
      for (std::size_t j = 0; j < width; ++j)
        want_x0[r * ld + j] = el::bag_column(table.data(), width, j, items.data(), weights.data(), indptr[r],
                                             indptr[r + 1]);
    expect_bitwise(x0, want_x0, "bag x0");

    // The CPU's net_backward loop: rows, then entries, in order, from zero gradients as in
    // training: the sorted (deterministic) scatter must give its bits, also over more
    // slots than entries; from nonzero ones, each gradient plus its entries' sum.
    const auto dx0 = uniform(batch * ld, generator), grads = uniform(vocab * width, generator);
    std::vector<float> want(vocab * width, 0.0f);
    std::vector<double> exact(grads.begin(), grads.end());
    for (std::size_t r = 0; r < batch; ++r)
      for (std::uint64_t k = indptr[r]; k < indptr[r + 1]; ++k)
        for (std::size_t j = 0; j < width; ++j) {
          want[std::size_t(items[k]) * width + j] += weights[k] * dx0[r * ld + j];
          exact[std::size_t(items[k]) * width + j] += double(weights[k] * dx0[r * ld + j]);
        }
    const std::size_t capacity = items.size() + 7;  // unused slots too
    std::vector<std::int32_t> slots = items;
    slots.resize(capacity, 3);  // stale entries past indptr[batch]: ignored
    std::vector<std::uint64_t> keys(2 * capacity);
    std::vector<std::uint32_t> entries(2 * capacity);
    std::vector<unsigned char> temp(cu::sorted_scatter_temp_bytes(capacity));
    const cu::SortedScatter sorted{keys.data(), entries.data(), temp.data(), temp.size(), 4};  // items < 11 < 2^4 - 1
    std::vector<float> deterministic(vocab * width, 0.0f), added = grads, atomic = grads;
    cu::bag_scatter_add(deterministic.data(), width, indptr.data(), slots.data(), weights.data(), batch, dx0.data(),
                        ld, &sorted, capacity, nullptr);
    expect_bitwise(deterministic, want, "deterministic bag gradients");
    cu::bag_scatter_add(added.data(), width, indptr.data(), slots.data(), weights.data(), batch, dx0.data(), ld,
                        &sorted, capacity, nullptr);
    std::vector<float> want_added = grads;
    for (std::size_t g = 0; g < want_added.size(); ++g) want_added[g] += want[g];
    expect_bitwise(added, want_added, "deterministic bag gradients added to nonzero ones");
    cu::bag_scatter_add(atomic.data(), width, indptr.data(), items.data(), weights.data(), batch, dx0.data(), ld,
                        nullptr, 0, nullptr);
    for (std::size_t g = 0; g < atomic.size(); ++g) ASSERT_NEAR(atomic[g], exact[g], 1e-5 * double(batch)) << "parameter " << g;
  }
  EXPECT_EQ(launches_of([] {
              cu::bag_gather(nullptr, 0, nullptr, nullptr, nullptr, 5, nullptr, 1, nullptr);
              const cu::SortedScatter no_buffers{};
              cu::bag_scatter_add(nullptr, 5, nullptr, nullptr, nullptr, 0, nullptr, 5, &no_buffers, 8, nullptr);
              cu::bag_scatter_add(nullptr, 5, nullptr, nullptr, nullptr, 0, nullptr, 5, nullptr, 0, nullptr);
            }),
            0);
}

TEST_P(TrainKernels, BatchNormMatchesTheCpu) {
  const std::size_t features = 7, ld_out = features + 2;
  for (const std::size_t batch : {std::size_t{1}, std::size_t{64}, std::size_t{65}, std::size_t{200}}) {
    for (const bool training : {true, false}) {
      SCOPED_TRACE("seed 14, batch " + std::to_string(batch) + (training ? ", training" : ", evaluation"));
      std::mt19937 generator(14);
      const auto in = uniform(batch * features, generator, -3.f, 5.f), gamma = uniform(features, generator),
                 beta = uniform(features, generator);
      const auto running_mean = uniform(features, generator), running_var = uniform(features, generator, 0.5f, 2.f);
      std::vector<float> want_out(batch * features), want_xhat(batch * features), want_mean(features),
          want_invstd(features), want_rmean = running_mean, want_rvar = running_var;
      td::batch_norm_forward(batch, features, in.data(), want_out.data(), want_xhat.data(), gamma.data(), beta.data(),
                             want_rmean.data(), want_rvar.data(), want_mean.data(), want_invstd.data(), training);

      std::vector<float> mean(features), invstd(features), rmean = running_mean, rvar = running_var;
      std::vector<float> scratch(el::row_segments(batch) * features), xhat(batch * features),
          out(batch * ld_out, kPoison);
      cu::bn_stats(in.data(), batch, features, mean.data(), invstd.data(), rmean.data(), rvar.data(), training,
                   scratch.data(), nullptr);
      cu::bn_apply(in.data(), batch, features, mean.data(), invstd.data(), gamma.data(), beta.data(), xhat.data(),
                   out.data(), ld_out, nullptr);
      expect_bitwise(mean, want_mean, "mean");
      expect_bitwise(invstd, want_invstd, "invstd");
      expect_bitwise(rmean, want_rmean, "running mean");
      expect_bitwise(rvar, want_rvar, "running variance");
      expect_bitwise(xhat, want_xhat, "xhat");
      for (std::size_t r = 0; r < batch; ++r)
        for (std::size_t f = 0; f < ld_out; ++f)
          ASSERT_EQ(out[r * ld_out + f], f < features ? want_out[r * features + f] : kPoison) << r << ", " << f;
      if (training) {  // without running statistics (null rmean): the same batch statistics
        std::vector<float> mean2(features), invstd2(features);
        cu::bn_stats(in.data(), batch, features, mean2.data(), invstd2.data(), nullptr, nullptr, true, scratch.data(),
                     nullptr);
        expect_bitwise(mean2, want_mean, "mean without running statistics");
        expect_bitwise(invstd2, want_invstd, "invstd without running statistics");
      }
    }
  }
  EXPECT_EQ(launches_of([] {
              cu::bn_stats(nullptr, 10, 0, nullptr, nullptr, nullptr, nullptr, true, nullptr, nullptr);
              cu::bn_stats(nullptr, 0, 7, nullptr, nullptr, nullptr, nullptr, true, nullptr, nullptr);  // no batch
              cu::bn_apply(nullptr, 0, 7, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 7, nullptr);
            }),
            0);
}

TEST_P(TrainKernels, ColumnSumsInSegmentOrder) {
  const std::size_t features = 6, ld = 9, ld_other = 8;
  for (const std::size_t batch : {std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{257}}) {
    SCOPED_TRACE("seed 15, batch " + std::to_string(batch));
    std::mt19937 generator(15);
    const auto in = uniform(batch * ld, generator), other = uniform(batch * ld_other, generator);
    std::vector<float> want(features), want2(features);
    td::column_sums(batch, features, want.data(), [&](std::size_t r, std::size_t f) { return in[r * ld + f]; });
    td::column_sums(batch, features, want2.data(),
                    [&](std::size_t r, std::size_t f) { return in[r * ld + f] * other[r * ld_other + f]; });
    std::vector<float> out(features), out2(features, kPoison), scratch(el::row_segments(batch) * features);
    cu::column_sums(in.data(), ld, nullptr, 0, batch, features, out.data(), out2.data(), scratch.data(), nullptr);
    expect_bitwise(out, want, "sums");
    expect_bitwise(out2, std::vector<float>(features, kPoison), "no products without `other`");
    cu::column_sums(in.data(), ld, other.data(), ld_other, batch, features, out.data(), out2.data(), scratch.data(),
                    nullptr);
    expect_bitwise(out, want, "sums");
    expect_bitwise(out2, want2, "sums of products");
  }
  EXPECT_EQ(launches_of([] {
              cu::column_sums(nullptr, 6, nullptr, 0, 0, 6, nullptr, nullptr, nullptr, nullptr);
              cu::column_sums(nullptr, 6, nullptr, 0, 10, 0, nullptr, nullptr, nullptr, nullptr);
            }),
            0);
}

TEST_P(TrainKernels, ElementwiseForwardAndBackward) {
  const std::size_t batch = 67, features = 5, n = batch * features;
  std::mt19937 generator(16);
  SCOPED_TRACE("seed 16");
  const auto a = uniform(n, generator), bias = uniform(features, generator), dy = uniform(n, generator),
             xhat = uniform(n, generator), gamma = uniform(features, generator),
             invstd = uniform(features, generator, 0.5f, 2.f), dgamma = uniform(features, generator),
             dbeta = uniform(features, generator);
  std::vector<float> got = a, got_no_bias = a, got_add = a;
  std::vector<float> want(n), want_no_bias(n), want_add(n);
  for (std::size_t i = 0; i < n; ++i) {
    want[i] = el::relu_forward(a[i] + bias[i % features]);
    want_no_bias[i] = el::relu_forward(a[i]);
    want_add[i] = a[i] + bias[i % features];
  }
  cu::bias_relu(got.data(), bias.data(), batch, features, nullptr);
  cu::bias_relu(got_no_bias.data(), nullptr, batch, features, nullptr);
  cu::add_bias(got_add.data(), bias.data(), batch, features, nullptr);
  expect_bitwise(got, want, "bias_relu");
  expect_bitwise(got_no_bias, want_no_bias, "bias_relu without bias");
  expect_bitwise(got_add, want_add, "add_bias");
  std::vector<float> copied(batch * (features + 2), kPoison), want_copied(batch * (features + 2), kPoison);
  for (std::size_t i = 0; i < n; ++i) want_copied[(i / features) * (features + 2) + i % features] = a[i];
  cu::copy_columns(a.data(), batch, features, copied.data(), features + 2, nullptr);
  expect_bitwise(copied, want_copied, "copy_columns");

  std::vector<float> bn_dy = dy, relu_dy = dy, want_bn(n), want_relu(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t f = i % features;
    want_bn[i] = el::relu_backward(
        a[i], el::bn_backward(dy[i], xhat[i], gamma[f], invstd[f], dbeta[f] / float(batch), dgamma[f] / float(batch)));
    want_relu[i] = el::relu_backward(a[i], dy[i]);
  }
  cu::bn_relu_backward(bn_dy.data(), xhat.data(), a.data(), gamma.data(), invstd.data(), dgamma.data(), dbeta.data(),
                       batch, features, nullptr);
  cu::relu_backward(relu_dy.data(), a.data(), n, nullptr);
  expect_bitwise(bn_dy, want_bn, "bn_relu_backward");
  expect_bitwise(relu_dy, want_relu, "relu_backward");
  EXPECT_EQ(launches_of([] {
              cu::bias_relu(nullptr, nullptr, 0, 5, nullptr);
              cu::add_bias(nullptr, nullptr, 5, 0, nullptr);
              cu::copy_columns(nullptr, 0, 5, nullptr, 5, nullptr);
              cu::bn_relu_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 5, nullptr);
              cu::relu_backward(nullptr, nullptr, 0, nullptr);
            }),
            0);
}

TEST_P(TrainKernels, DropoutUsesTheCpuKeys) {
  const std::size_t count = 1000;
  const std::uint64_t seed = 99, layer = 2;
  const double p = 0.3;
  std::mt19937 generator(17);
  const auto x = uniform(count, generator, 0.5f, 1.f);
  cu::StepState state;
  state.step = 17;
  std::vector<float> got = x, want(count);
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < count; ++i) {
    want[i] = x[i] * el::dropout_scale<float>(seed, state.step, (layer << 40) + i, p);
    dropped += want[i] == 0.f;
  }
  ASSERT_GT(dropped, 200u);  // the mask is not trivial
  ASSERT_LT(dropped, 400u);
  cu::dropout(got.data(), count, seed, &state, layer, p, nullptr);
  expect_bitwise(got, want, "dropout, seed 17");
  EXPECT_EQ(launches_of([] {
              cu::dropout(nullptr, 0, 1, nullptr, 0, 0.5, nullptr);
              cu::dropout(nullptr, 10, 1, nullptr, 0, 0.0, nullptr);
            }),
            0);
}

TEST_P(TrainKernels, LossAndGradMatchNetLoss) {
  struct Case {
    cohort::TrainTask task;
    int n_out;
    bool y_range;
  };
  for (const Case c : {Case{cohort::TrainTask::Regression, 1, false}, Case{cohort::TrainTask::Regression, 1, true},
                       Case{cohort::TrainTask::Regression, 3, true}, Case{cohort::TrainTask::Binary, 1, false},
                       Case{cohort::TrainTask::Multiclass, 4, false}}) {
    for (const std::size_t batch : {std::size_t{1}, std::size_t{300}}) {
      const int task = static_cast<int>(c.task);
      SCOPED_TRACE("seed 18, task " + std::to_string(task) + ", n_out " + std::to_string(c.n_out) +
                   (c.y_range ? ", y_range" : "") + ", batch " + std::to_string(batch));
      std::mt19937 generator(18);
      const std::size_t no = std::size_t(c.n_out);
      cohort::TrainModelConfig config;
      config.task = c.task;
      config.n_out = c.n_out;
      config.has_y_range = c.y_range;
      config.y_lo = -0.5;
      config.y_hi = 2.5;
      td::NetBuffers<float> buffers;
      buffers.logits = uniform(batch * no, generator, -4.f, 4.f);
      std::vector<float> target = uniform(batch, generator, -1.f, 3.f);
      for (float& t : target)
        if (c.task == cohort::TrainTask::Binary) t = t > 1.f ? 1.f : 0.f;
        else if (c.task == cohort::TrainTask::Multiclass) t = float(generator() % no);
      const double want_loss = td::net_loss(config, target.data(), batch, buffers, true);

      std::vector<float> dlogits(batch * no), sample_loss(batch);
      std::vector<double> losses(4, -1.0);
      cu::StepState state;
      state.loss_slot = 2;
      cu::loss_and_grad(buffers.logits.data(), target.data(), batch, c.n_out, task, c.y_range, float(config.y_lo),
                        float(config.y_hi), dlogits.data(), sample_loss.data(), losses.data(), &state, nullptr);
      expect_bitwise(dlogits, buffers.dlogits, "dlogits");
      // net_loss adds each output in double; the kernel adds a row's outputs in float.
      if (no == 1 || c.task != cohort::TrainTask::Regression)
        EXPECT_EQ(losses[2], want_loss);
      else
        EXPECT_NEAR(losses[2], want_loss, 1e-6 * std::abs(want_loss));
      EXPECT_EQ(losses[0], -1.0);
      EXPECT_EQ(losses[1], -1.0);
      EXPECT_EQ(losses[3], -1.0);
      cu::loss_and_grad(buffers.logits.data(), target.data(), batch, c.n_out, task, c.y_range, float(config.y_lo),
                        float(config.y_hi), dlogits.data(), sample_loss.data(), losses.data(), nullptr, nullptr);
      EXPECT_EQ(losses[0], losses[2]) << "no StepState: slot 0";
    }
  }
  EXPECT_EQ(launches_of([] {
              cu::loss_and_grad(nullptr, nullptr, 0, 1, 0, false, 0.f, 1.f, nullptr, nullptr, nullptr, nullptr,
                                nullptr);
            }),
            0);
}

el::AdamStep adam_step() {
  const float lr = 1e-2f, beta1 = 0.9f, beta2 = 0.99f;
  return {lr, beta1, beta2, 1e-5f, 1.f - lr * 0.01f, 1.f - beta1 * beta1 * beta1, 1.f - beta2 * beta2 * beta2};
}

// The flat buffer [p | g | m | v] of n parameters, v >= 0.
std::vector<float> flat_buffer(std::size_t n, std::mt19937& generator) {
  std::vector<float> flat = uniform(4 * n, generator);
  for (std::size_t i = 3 * n; i < 4 * n; ++i) flat[i] = std::abs(flat[i]);
  return flat;
}

TEST_P(TrainKernels, AdamWDecaysItsRangeOnly) {
  const std::size_t n = 700;
  std::mt19937 generator(19);
  const auto flat = flat_buffer(n, generator);
  cu::StepState state;
  state.adam = adam_step();
  for (const auto& [begin, n_decay] : {std::pair<std::size_t, std::size_t>{0, 0}, {100, 300}, {0, 700}, {699, 0}}) {
    SCOPED_TRACE("seed 19, begin " + std::to_string(begin) + ", n_decay " + std::to_string(n_decay));
    std::vector<float> got = flat, want = flat;
    for (std::size_t i = begin; i < n; ++i)
      el::adamw_update(&want[i], want[n + i], &want[2 * n + i], &want[3 * n + i], state.adam, i < n_decay);
    cu::adamw(got.data(), n, begin, n_decay, &state, nullptr);
    expect_bitwise(got, want, "flat buffer");
  }
  EXPECT_EQ(launches_of([] { cu::adamw(nullptr, 700, 700, 0, nullptr, nullptr); }), 0);
}

TEST_P(TrainKernels, LazyAdamTouchesTheCountedRowsOnly) {
  const std::size_t n = 2000;
  // Rows wider than a block (256 threads) too; the last two are past the count.
  const std::vector<el::TableRow> rows{{0, 3}, {1000, 300}, {10, 1}, {400, 257}, {1500, 100}, {1700, 50}};
  std::mt19937 generator(20);
  const auto flat = flat_buffer(n, generator);
  cu::StepState state;
  state.adam = adam_step();
  for (const std::uint64_t count : {0u, 1u, 4u}) {
    SCOPED_TRACE("seed 20, count " + std::to_string(count));
    state.touched_rows = count;
    std::vector<float> got = flat, want = flat, zeroed = flat, want_zeroed = flat;
    for (std::size_t t = 0; t < count; ++t)
      for (std::size_t i = rows[t].offset; i < rows[t].offset + rows[t].width; ++i) {
        el::adamw_update(&want[i], want[n + i], &want[2 * n + i], &want[3 * n + i], state.adam, true);
        want_zeroed[n + i] = 0.f;
      }
    cu::adamw_rows(got.data(), n, rows.data(), rows.size(), &state, nullptr);
    cu::zero_rows(zeroed.data() + n, rows.data(), rows.size(), &state, nullptr);
    expect_bitwise(got, want, "adamw_rows");
    expect_bitwise(zeroed, want_zeroed, "zero_rows");
  }
  EXPECT_EQ(launches_of([] {
              cu::adamw_rows(nullptr, 10, nullptr, 0, nullptr, nullptr);
              cu::zero_rows(nullptr, nullptr, 0, nullptr, nullptr);
            }),
            0);
}

}  // namespace
