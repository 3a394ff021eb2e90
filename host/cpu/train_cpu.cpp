/*
 * train_cpu.cpp: the CPU training engine: one flat buffer [params | grads | m | v],
 * batches gathered from the encoded data, forward/backward from train_net.hpp and the
 * fused AdamW loop over the flat buffer (train_element.hpp's adamw_update).
 */
#include <algorithm>
#include <cstring>
#include <utility>

#include "host/cpu/train_engine.hpp"
#include "host/cpu/train_net.hpp"

namespace cohort::train_detail {
namespace {

struct Batch {
  std::vector<std::int32_t> cats;
  std::vector<float> cont, target;
  BagRows bag;
  BagBatch bag_view() const { return {bag.indptr.data(), bag.items.data(), bag.weights.data()}; }
};

void gather(const TrainData& d, const std::uint32_t* rows, std::size_t n, Batch& b) {
  b.cats.resize(n * d.n_cat), b.cont.resize(n * d.n_cont), b.target.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t r = rows[i];
    std::copy_n(d.cats.data() + r * d.n_cat, d.n_cat, b.cats.data() + i * d.n_cat);
    std::copy_n(d.cont.data() + r * d.n_cont, d.n_cont, b.cont.data() + i * d.n_cont);
    b.target[i] = d.target[r];
  }
  if (d.bag.indptr.size() == d.rows + 1) gather_bags(d.bag, rows, n, b.bag);
}

constexpr std::size_t kEvalChunk = 4096;

class CpuEngine final : public TrainEngine {
 public:
  explicit CpuEngine(const EngineArgs& a)
      : cfg_(*a.config),
        L_(*a.layout),
        data_(*a.data),
        state_(*a.state),
        dropout_(a.dropout),
        seed_(a.seed),
        lazy_(a.lazy_adam) {
    const std::size_t n = L_.n_params;
    flat_.assign(4 * n, 0.0f);
    std::copy(a.params->begin(), a.params->end(), flat_.begin());
  }

  void train_step(const std::uint32_t* rows, std::size_t B, const StepParams& sp) override {
    gather(data_, rows, B, batch_);
    BatchContext ctx{true, seed_, sp.step, dropout_};
    float* p = flat_.data();
    float* g = p + L_.n_params;
    const BagBatch bag = batch_.bag_view();
    net_forward(L_, p, state_.data(), batch_.cats.data(), batch_.cont.data(), B, ctx, buf_, &bag);
    const double loss = net_loss(cfg_, batch_.target.data(), B, buf_, true);
    if (lazy_) touched_table_rows(L_, batch_.cats.data(), nullptr, B, batch_.bag.items, touched_);
    for (const auto& row : touched_) std::fill_n(g + row.offset, row.width, 0.0f);  // the only table rows backward adds to
    net_backward(L_, p, batch_.cats.data(), B, ctx, buf_, g, &bag, !lazy_);
    float* m = g + L_.n_params;
    float* v = m + L_.n_params;
    const std::int64_t n = static_cast<std::int64_t>(L_.n_params), n_decay = static_cast<std::int64_t>(L_.n_decay);
    const std::int64_t dense_begin = lazy_ ? static_cast<std::int64_t>(L_.w[0]) : 0;
#pragma omp parallel for schedule(static)
    for (std::int64_t i = dense_begin; i < n; ++i)
      train_element::adamw_update(p + i, g[i], m + i, v + i, sp.adam, i < n_decay);
    const std::int64_t n_touched = static_cast<std::int64_t>(touched_.size());
#pragma omp parallel for schedule(static) if (n_touched > 64)
    for (std::int64_t t = 0; t < n_touched; ++t) {
      const auto row = touched_[static_cast<std::size_t>(t)];
      for (std::size_t i = row.offset; i < row.offset + row.width; ++i)
        train_element::adamw_update(p + i, g[i], m + i, v + i, sp.adam, true);  // tables are decayed
    }
    losses_.push_back(loss);
  }

  std::vector<double> take_losses() override { return std::exchange(losses_, {}); }

  double eval_loss(const std::uint32_t* rows, std::size_t count) override {
    double total = 0;
    BatchContext ctx{false, seed_, 0, 0.0};
    for (std::size_t at = 0; at < count; at += kEvalChunk) {
      const std::size_t n = std::min(kEvalChunk, count - at);
      gather(data_, rows + at, n, batch_);
      const BagBatch bag = batch_.bag_view();
      net_forward(L_, flat_.data(), state_.data(), batch_.cats.data(), batch_.cont.data(), n, ctx, buf_, &bag);
      total += net_loss(cfg_, batch_.target.data(), n, buf_, false) * static_cast<double>(n);
    }
    return count > 0 ? total / static_cast<double>(count) : 0.0;
  }

  void read_back(std::vector<float>& params, std::vector<float>& state) override {
    params.assign(flat_.begin(), flat_.begin() + static_cast<std::ptrdiff_t>(L_.n_params));
    state = state_;
  }

 private:
  const TrainModelConfig& cfg_;
  const TrainLayout& L_;
  const TrainData& data_;
  std::vector<float> flat_, state_;
  double dropout_;
  std::uint64_t seed_;
  bool lazy_;
  std::vector<train_element::TableRow> touched_;  // lazy Adam's rows this step
  std::vector<double> losses_;                    // since the last take_losses
  Batch batch_;
  NetBuffers<float> buf_;
  BlasSingleThread blas_single_;
};

}  // namespace

std::unique_ptr<TrainEngine> make_cpu_engine(const EngineArgs& args) { return std::make_unique<CpuEngine>(args); }

std::vector<float> predict_logits_cpu(const TrainedModel& model, const TrainData& data) {
  BlasSingleThread blas_single;
  const TrainLayout L = make_layout(model.config);
  const std::size_t no = L.n_out;
  std::vector<float> logits(data.rows * no);
  std::vector<float> state = model.state;
  NetBuffers<float> buf;
  BatchContext ctx{false, 0, 0, 0.0};
  std::vector<std::uint32_t> rows(data.rows);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::uint32_t>(i);
  Batch batch;
  for (std::size_t at = 0; at < data.rows; at += kEvalChunk) {
    const std::size_t n = std::min(kEvalChunk, data.rows - at);
    gather(data, rows.data() + at, n, batch);
    const BagBatch bag = batch.bag_view();
    net_forward(L, model.params.data(), state.data(), batch.cats.data(), batch.cont.data(), n, ctx, buf, &bag);
    std::copy(buf.logits.begin(), buf.logits.end(), logits.begin() + static_cast<std::ptrdiff_t>(at * no));
  }
  return logits;
}

}  // namespace cohort::train_detail
