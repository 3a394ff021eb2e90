/*
 * train_cuda.cpp: the CUDA engine of `cohort train`. The encoded table lives on the
 * device; each step uploads the batch's row numbers, gathers, runs the network with
 * cuBLAS GEMMs (FP32; TF32 or BF16 tensor cores when asked) and the kernels of kernels/train.cu, then one fused
 * AdamW over the flat buffer [params | grads | m | v] (with --lazy-adam: over the dense
 * parameters, plus one over just the table rows the batch used). Steps are queued without
 * waiting: each one's loss (one double) stays on the device until take_losses reads a
 * run of them back, so the GPU never idles while the host prepares a batch. Same layout
 * and math as the CPU engine.
 */
#include "host/cuda/train_cuda.hpp"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "host/cuda/runtime.hpp"
#include "kernels/train.hpp"

namespace cohort::cuda {
namespace {

using train_detail::TrainLayout;

constexpr std::size_t kEvalChunk = 4096;
constexpr std::size_t kLossSlots = 64;  // steps queued before their losses are read back
constexpr std::size_t kCublasWorkspace = std::size_t(32) << 20;  // cuBLAS's advice for Hopper

/// Row-major C (m x n) = op(A) op(B) through column-major cuBLAS: C^T = op(B)^T op(A)^T.
/// FP32 matrices; compute CUBLAS_COMPUTE_32F, or the TF32 / BF16 tensor-core types.
void gemm_ex(cublasHandle_t h, cublasComputeType_t compute, bool ta, bool tb, int m, int n, int k, const float* a,
             int lda, const float* b, int ldb, float* c, int ldc) {
  const float one = 1.f, zero = 0.f;
  COHORT_CUBLAS_TRY(cublasGemmEx(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &one, b,
                                 CUDA_R_32F, ldb, a, CUDA_R_32F, lda, &zero, c, CUDA_R_32F, ldc, compute,
                                 CUBLAS_GEMM_DEFAULT));
}

class CudaEngine final : public train_detail::TrainEngine {
 public:
  explicit CudaEngine(const train_detail::EngineArgs& a)
      : cfg_(*a.config),
        L_(*a.layout),
        data_(*a.data),
        dropout_(a.dropout),
        seed_(a.seed),
        lazy_(a.lazy_adam),
        deterministic_(a.deterministic),
        blas_(stream_.get()) {
    cudaStream_t s = stream_.get();
    compute_ = a.precision == GemmPrecision::Tf32   ? CUBLAS_COMPUTE_32F_FAST_TF32
               : a.precision == GemmPrecision::Bf16 ? CUBLAS_COMPUTE_32F_FAST_16BF
                                                    : CUBLAS_COMPUTE_32F;
    const auto& d = *a.data;
    cats_ = DeviceBuffer<std::int32_t>(d.cats.size(), s);
    cats_.copy_from_host(d.cats.data(), d.cats.size(), s);
    cont_ = DeviceBuffer<float>(d.cont.size(), s);
    cont_.copy_from_host(d.cont.data(), d.cont.size(), s);
    target_ = DeviceBuffer<float>(d.target.size(), s);
    target_.copy_from_host(d.target.data(), d.target.size(), s);
    flat_ = DeviceBuffer<float>(4 * L_.n_params, s);
    COHORT_CUDA_TRY(cudaMemsetAsync(flat_.data(), 0, flat_.bytes(), s));
    flat_.copy_from_host(a.params->data(), L_.n_params, s);
    state_ = DeviceBuffer<float>(std::max<std::size_t>(L_.n_state, 1), s);
    state_.copy_from_host(a.state->data(), L_.n_state, s);
    // Embedding tables (the categorical columns: x0 columns [0, bag_col)).
    std::vector<std::size_t> offset(L_.emb), width(L_.width), column(L_.emb_col);
    std::vector<std::int32_t> owner(L_.bag_col);
    for (std::size_t c = 0; c < L_.n_cat; ++c)
      for (std::size_t j = 0; j < L_.width[c]; ++j) owner[L_.emb_col[c] + j] = static_cast<std::int32_t>(c);
    t_offset_ = upload(offset), t_width_ = upload(width), t_column_ = upload(column);
    t_owner_ = DeviceBuffer<std::int32_t>(std::max<std::size_t>(owner.size(), 1), s);
    t_owner_.copy_from_host(owner.data(), owner.size(), s);
    tables_ = {t_offset_.data(), t_width_.data(), t_column_.data(), t_owner_.data(), L_.n_cat, L_.bag_col};
    if (L_.bag_width > 0) bags_ = &d.bag;
    losses_ = DeviceBuffer<double>(kLossSlots, s);
    eval_loss_ = DeviceBuffer<double>(1, s);
    d_state_ = DeviceBuffer<StepState>(1, s);
    h_states_ = PinnedBuffer<StepState>(kLossSlots);
    // cuBLAS gets its workspace up front: it must not allocate inside a graph capture.
    cublas_workspace_ = DeviceBuffer<std::uint8_t>(kCublasWorkspace, s);
    COHORT_CUBLAS_TRY(cublasSetWorkspace(blas_.get(), cublas_workspace_.data(), kCublasWorkspace));
    use_graph_ = a.cuda_graph;
    stream_.synchronize();
  }

  // Queued steps still read the pinned staging slots: they finish before those are freed.
  ~CudaEngine() override { COHORT_CUDA_LOG(cudaStreamSynchronize(stream_.get())); }

  // Queues the step and returns: the host prepares the next batch while the GPU works.
  // The loss stays on the device (losses_) until take_losses or a full ring. The kernels
  // after the uploads are one CUDA graph, captured after the first step and replayed:
  // what changes per batch (rows, bag entries, lazy Adam's row list and its length) is
  // read from device buffers, and a buffer's reallocation drops the graph.
  void train_step(const std::uint32_t* rows, std::size_t B, const train_detail::StepParams& sp) override {
    cudaStream_t s = stream_.get();
    reserve(B);
    // The step's rows and changing values, staged in its slot of the pinned rings: a slot
    // is written again only after flush_losses has waited for its step.
    std::uint32_t* staged_rows = h_rows_.data() + pending_ * capacity_;
    std::copy(rows, rows + B, staged_rows);
    upload_batch_extras(rows, B, pending_, true);  // first: it makes host_touched_
    h_states_[pending_] = StepState{sp.adam, sp.step, static_cast<std::uint32_t>(pending_), host_touched_.size()};
    rows_.copy_from_host(staged_rows, B, s);
    d_state_.copy_from_host(&h_states_[pending_], 1, s);
    if (use_graph_ && graph_.ready() && graph_batch_ == B) {
      graph_.launch(s);
    } else {
      // Eagerly first (kernels load, and a fault shows at its launch), then captured for
      // the next steps: capturing queues nothing.
      step_kernels(B);
      if (use_graph_) {
        graph_.capture(s, [&] { step_kernels(B); });
        graph_batch_ = B;
      }
    }
    if (++pending_ == kLossSlots) flush_losses();
  }

  std::vector<double> take_losses() override {
    flush_losses();
    return std::exchange(host_losses_, {});
  }

  double eval_loss(const std::uint32_t* rows, std::size_t count) override {
    cudaStream_t s = stream_.get();
    double total = 0;
    for (std::size_t at = 0; at < count; at += kEvalChunk) {
      const std::size_t n = std::min(kEvalChunk, count - at);
      reserve(n);
      rows_.copy_from_host(rows + at, n, s);  // pageable: staged before the call returns
      upload_batch_extras(rows + at, n, pending_, false);  // waited for below, before the slot's reuse
      forward_kernels(n, false);
      loss_and_grad(logits_.data(), btarget_.data(), n, cfg_.n_out, static_cast<int>(cfg_.task), cfg_.has_y_range,
                    float(cfg_.y_lo), float(cfg_.y_hi), dlogits_.data(), sample_loss_.data(), eval_loss_.data(), nullptr,
                    s);
      double loss = 0;
      eval_loss_.copy_to_host(&loss, 1, s);
      stream_.synchronize();
      total += loss * static_cast<double>(n);
    }
    return count > 0 ? total / static_cast<double>(count) : 0.0;
  }

  void read_back(std::vector<float>& params, std::vector<float>& state) override {
    params.resize(L_.n_params);
    state.resize(L_.n_state);
    flat_.copy_to_host(params.data(), L_.n_params, stream_.get());
    state_.copy_to_host(state.data(), L_.n_state, stream_.get());
    stream_.synchronize();
  }

 private:
  void gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc) {
    gemm_ex(blas_.get(), compute_, ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
  }

  // One training step's kernels, after its uploads (rows_, d_state_, bags, touched rows).
  void step_kernels(std::size_t B) {
    cudaStream_t s = stream_.get();
    forward_kernels(B, true);
    loss_and_grad(logits_.data(), btarget_.data(), B, cfg_.n_out, static_cast<int>(cfg_.task), cfg_.has_y_range,
                  float(cfg_.y_lo), float(cfg_.y_hi), dlogits_.data(), sample_loss_.data(), losses_.data(),
                  d_state_.data(), s);
    run_backward(B);
    // Lazy Adam: the tables ([0, w[0])) only in the rows the batch used; the rest dense.
    adamw(flat_.data(), L_.n_params, lazy_ ? L_.w[0] : 0, L_.n_decay, d_state_.data(), s);
    if (lazy_) adamw_rows(flat_.data(), L_.n_params, touched_.data(), touched_.size(), d_state_.data(), s);
  }

  // Waits for the queued steps and appends their losses to host_losses_.
  void flush_losses() {
    if (pending_ == 0) return;
    const std::size_t old = host_losses_.size();
    host_losses_.resize(old + pending_);
    losses_.copy_to_host(host_losses_.data() + old, pending_, stream_.get());
    stream_.synchronize();
    pending_ = 0;
  }

  DeviceBuffer<std::size_t> upload(const std::vector<std::size_t>& v) {
    DeviceBuffer<std::size_t> d(std::max<std::size_t>(v.size(), 1), stream_.get());
    d.copy_from_host(v.data(), v.size(), stream_.get());
    return d;
  }

  // The batch's variable-size inputs, built on the host and copied to the device through
  // the pinned bytes of step slot `slot` (a slot is rewritten only after flush_losses has
  // waited for its step): the bag CSR, and lazy Adam's table rows (the CPU engine's list;
  // the batch's codes come from the host copy of the data, its bag items from the CSR).
  // Evaluation (training false) needs no table rows: it has no backward pass.
  void upload_batch_extras(const std::uint32_t* rows, std::size_t B, std::size_t slot, bool training) {
    const bool lazy_rows = lazy_ && training;
    if (!bags_ && !lazy_rows) return;
    cudaStream_t s = stream_.get();
    if (bags_) train_detail::gather_bags(*bags_, rows, B, host_bag_);
    if (lazy_rows) train_detail::touched_table_rows(L_, data_.cats.data(), rows, B, host_bag_.items, host_touched_);
    const std::size_t nnz = host_bag_.items.size();
    std::size_t bytes = lazy_rows ? staged_bytes<train_element::TableRow>(host_touched_.size()) : 0;
    if (bags_) bytes += staged_bytes<std::uint64_t>(B + 1) + staged_bytes<std::int32_t>(nnz) + staged_bytes<float>(nnz);
    if (staging_[slot].size() < bytes) staging_[slot] = PinnedBuffer<unsigned char>(bytes + bytes / 2);
    staged_ = 0;
    if (bags_) {
      if (bag_items_.size() < std::max<std::size_t>(nnz, 1)) {
        stream_.synchronize();
        graph_.reset();  // it holds the old buffers' addresses
        const std::size_t grown = std::max<std::size_t>(nnz, 1) + nnz / 2;  // fewer re-captures
        bag_items_ = DeviceBuffer<std::int32_t>(grown, s);
        bag_weights_ = DeviceBuffer<float>(grown, s);
        if (deterministic_) bag_sorted_ = sorted_scatter_buffers(grown, L_.bag_vocab - 1, bag_sort_);
      }
      if (bag_indptr_.size() < B + 1) {
        graph_.reset();
        bag_indptr_ = DeviceBuffer<std::uint64_t>(B + 1, s);
      }
      staged_copy(bag_indptr_, host_bag_.indptr.data(), B + 1, slot);
      staged_copy(bag_items_, host_bag_.items.data(), nnz, slot);
      staged_copy(bag_weights_, host_bag_.weights.data(), nnz, slot);
    }
    if (lazy_rows) {
      if (touched_.size() < host_touched_.size()) {
        stream_.synchronize();
        graph_.reset();
        touched_ = DeviceBuffer<train_element::TableRow>(host_touched_.size() + host_touched_.size() / 2, s);
      }
      staged_copy(touched_, host_touched_.data(), host_touched_.size(), slot);
    }
  }

  template <typename T>
  static std::size_t staged_bytes(std::size_t count) {
    return (count * sizeof(T) + 15) / 16 * 16;  // each array 16-byte aligned
  }

  // dst[0, count) = src through the next staged_bytes of slot's pinned bytes.
  template <typename T>
  void staged_copy(DeviceBuffer<T>& dst, const T* src, std::size_t count, std::size_t slot) {
    if (count == 0) return;
    T* pinned = reinterpret_cast<T*>(staging_[slot].data() + staged_);
    std::memcpy(pinned, src, count * sizeof(T));
    dst.copy_from_host(pinned, count, stream_.get());
    staged_ += staged_bytes<T>(count);
  }

  // Activation buffers for batches of up to `capacity_` rows.
  void reserve(std::size_t B) {
    if (B <= capacity_) return;
    cudaStream_t s = stream_.get();
    stream_.synchronize();
    capacity_ = B;
    graph_.reset();  // it holds the old buffers' addresses
    h_rows_ = PinnedBuffer<std::uint32_t>(kLossSlots * B);
    const std::size_t H = L_.hidden(), K = L_.n_cont;
    std::size_t widest = L_.dims[0];
    for (auto d : L_.dims) widest = std::max(widest, d);
    rows_ = DeviceBuffer<std::uint32_t>(B, s);
    bcats_ = DeviceBuffer<std::int32_t>(std::max<std::size_t>(B * L_.n_cat, 1), s);
    bcont_ = DeviceBuffer<float>(std::max<std::size_t>(B * K, 1), s);
    btarget_ = DeviceBuffer<float>(B, s);
    x0_ = DeviceBuffer<float>(B * L_.dims[0], s);
    cont_xhat_ = DeviceBuffer<float>(std::max<std::size_t>(B * K, 1), s);
    cont_mean_ = DeviceBuffer<float>(std::max<std::size_t>(K, 1), s);
    cont_invstd_ = DeviceBuffer<float>(std::max<std::size_t>(K, 1), s);
    a_.clear(), xhat_.clear(), y_.clear(), mean_.clear(), invstd_.clear();
    for (std::size_t l = 0; l < H; ++l) {
      const std::size_t F = L_.dims[l + 1];
      a_.emplace_back(B * F, s), xhat_.emplace_back(B * F, s), y_.emplace_back(B * F, s);
      mean_.emplace_back(F, s), invstd_.emplace_back(F, s);
    }
    logits_ = DeviceBuffer<float>(B * L_.n_out, s);
    dlogits_ = DeviceBuffer<float>(B * L_.n_out, s);
    sample_loss_ = DeviceBuffer<float>(B, s);
    dx_ = DeviceBuffer<float>(B * widest, s);
    // Segment sums of the batch reductions (column_sums with two outputs reuse it in turn).
    scratch_ = DeviceBuffer<float>(train_element::row_segments(B) * std::max(widest, L_.n_out), s);
    dx2_ = DeviceBuffer<float>(B * widest, s);
    if (deterministic_ && L_.n_cat > 0) {
      std::size_t codes = 1;  // the largest table's rows
      for (std::size_t rows : L_.vocab) codes = std::max(codes, rows);
      emb_sorted_ = sorted_scatter_buffers(L_.n_cat * B, codes - 1, emb_sort_);
    }
  }

  // The deterministic scatters' device memory for `items` keys of codes up to max_code
  // (the top code of code_bits stays free: the bag's marker of unused slots).
  struct SortBuffers {
    DeviceBuffer<std::uint64_t> keys;
    DeviceBuffer<std::uint32_t> rows;
    DeviceBuffer<std::uint8_t> temp;
  };
  SortedScatter sorted_scatter_buffers(std::size_t items, std::size_t max_code, SortBuffers& b) {
    cudaStream_t s = stream_.get();
    int code_bits = 1;
    while ((std::size_t(1) << code_bits) <= max_code + 1) ++code_bits;
    b.keys = DeviceBuffer<std::uint64_t>(2 * items, s);
    b.rows = DeviceBuffer<std::uint32_t>(2 * items, s);
    b.temp = DeviceBuffer<std::uint8_t>(sorted_scatter_temp_bytes(items), s);
    return {b.keys.data(), b.rows.data(), b.temp.data(), b.temp.size(), code_bits};
  }

  // The forward pass over the batch whose rows (and bags) are already on the device.
  void forward_kernels(std::size_t B, bool training) {
    cudaStream_t s = stream_.get();
    gather_rows(rows_.data(), B, cats_.data(), cont_.data(), target_.data(), L_.n_cat, L_.n_cont, bcats_.data(),
                bcont_.data(), btarget_.data(), s);
    float* p = flat_.data();
    const std::size_t D0 = L_.dims[0], K = L_.n_cont, H = L_.hidden();
    embedding_gather(p, tables_, bcats_.data(), B, x0_.data(), D0, s);
    if (bags_) {
      bag_gather(p + L_.bag, L_.bag_width, bag_indptr_.data(), bag_items_.data(), bag_weights_.data(), B,
                 x0_.data() + L_.bag_col, D0, s);
    }
    float* st = state_.data();
    if (K > 0) {
      if (L_.bn) {
        bn_stats(bcont_.data(), B, K, cont_mean_.data(), cont_invstd_.data(), st + L_.cont_rmean, st + L_.cont_rvar,
                 training, scratch_.data(), s);
        bn_apply(bcont_.data(), B, K, cont_mean_.data(), cont_invstd_.data(), p + L_.cont_gamma, p + L_.cont_beta,
                 cont_xhat_.data(), x0_.data() + L_.emb_cols, D0, s);
      } else {
        copy_columns(bcont_.data(), B, K, x0_.data() + L_.emb_cols, D0, s);
      }
    }
    const float* x = x0_.data();
    for (std::size_t l = 0; l < H; ++l) {
      const std::size_t din = L_.dims[l], dout = L_.dims[l + 1];
      gemm(false, true, int(B), int(dout), int(din), x, int(din), p + L_.w[l], int(din), a_[l].data(),
           int(dout));
      bias_relu(a_[l].data(), L_.bn ? nullptr : p + L_.bias[l], B, dout, s);
      if (L_.bn) {
        bn_stats(a_[l].data(), B, dout, mean_[l].data(), invstd_[l].data(), st + L_.rmean[l], st + L_.rvar[l], training,
                 scratch_.data(), s);
        bn_apply(a_[l].data(), B, dout, mean_[l].data(), invstd_[l].data(), p + L_.gamma[l], p + L_.beta[l],
                 xhat_[l].data(), y_[l].data(), dout, s);
      } else {
        COHORT_CUDA_TRY(cudaMemcpyAsync(y_[l].data(), a_[l].data(), B * dout * sizeof(float), cudaMemcpyDeviceToDevice, s));
      }
      if (training) dropout(y_[l].data(), B * dout, seed_, d_state_.data(), l, dropout_, s);
      x = y_[l].data();
    }
    const std::size_t din = L_.dims[H];
    gemm(false, true, int(B), int(L_.n_out), int(din), x, int(din), p + L_.w[H], int(din), logits_.data(),
         int(L_.n_out));
    add_bias(logits_.data(), p + L_.out_bias, B, L_.n_out, s);
  }

  void run_backward(std::size_t B) {
    cudaStream_t s = stream_.get();
    float* p = flat_.data();
    float* g = p + L_.n_params;
    // Gradients from zero; with lazy Adam the tables only in the batch's rows (the only
    // ones the scatters below add to), so a step costs O(batch) there, not O(table).
    const std::size_t zero_from = lazy_ ? L_.w[0] : 0;
    COHORT_CUDA_TRY(cudaMemsetAsync(g + zero_from, 0, (L_.n_params - zero_from) * sizeof(float), s));
    if (lazy_) zero_rows(g, touched_.data(), touched_.size(), d_state_.data(), s);
    const std::size_t H = L_.hidden(), D0 = L_.dims[0], K = L_.n_cont, no = L_.n_out;
    const float* x_last = H > 0 ? y_[H - 1].data() : x0_.data();
    const std::size_t d_last = L_.dims[H];
    gemm(true, false, int(no), int(d_last), int(B), dlogits_.data(), int(no), x_last, int(d_last),
         g + L_.w[H], int(d_last));
    column_sums(dlogits_.data(), no, nullptr, 0, B, no, g + L_.out_bias, nullptr, scratch_.data(), s);
    float* dx = dx_.data();
    float* dx_next = dx2_.data();
    gemm(false, false, int(B), int(d_last), int(no), dlogits_.data(), int(no), p + L_.w[H], int(d_last), dx,
         int(d_last));
    for (std::size_t l = H; l-- > 0;) {
      const std::size_t din = L_.dims[l], dout = L_.dims[l + 1];
      dropout(dx, B * dout, seed_, d_state_.data(), l, dropout_, s);
      if (L_.bn) {
        column_sums(dx, dout, xhat_[l].data(), dout, B, dout, g + L_.beta[l], g + L_.gamma[l], scratch_.data(), s);
        bn_relu_backward(dx, xhat_[l].data(), a_[l].data(), p + L_.gamma[l], invstd_[l].data(), g + L_.gamma[l],
                         g + L_.beta[l], B, dout, s);
      } else {
        relu_backward(dx, a_[l].data(), B * dout, s);
        column_sums(dx, dout, nullptr, 0, B, dout, g + L_.bias[l], nullptr, scratch_.data(), s);
      }
      const float* xin = l > 0 ? y_[l - 1].data() : x0_.data();
      gemm(true, false, int(dout), int(din), int(B), dx, int(dout), xin, int(din), g + L_.w[l], int(din));
      gemm(false, false, int(B), int(din), int(dout), dx, int(dout), p + L_.w[l], int(din), dx_next,
           int(din));
      std::swap(dx, dx_next);
    }
    embedding_scatter_add(g, tables_, bcats_.data(), B, dx, D0, deterministic_ ? &emb_sorted_ : nullptr, s);
    if (bags_)
      bag_scatter_add(g + L_.bag, L_.bag_width, bag_indptr_.data(), bag_items_.data(), bag_weights_.data(), B,
                      dx + L_.bag_col, D0, deterministic_ ? &bag_sorted_ : nullptr, bag_items_.size(), s);
    if (K > 0 && L_.bn)
      column_sums(dx + L_.emb_cols, D0, cont_xhat_.data(), K, B, K, g + L_.cont_beta, g + L_.cont_gamma, scratch_.data(),
                  s);
  }

  const TrainModelConfig& cfg_;
  const TrainLayout& L_;
  const train_detail::TrainData& data_;
  double dropout_;
  std::uint64_t seed_;
  bool lazy_;
  bool deterministic_;
  cublasComputeType_t compute_ = CUBLAS_COMPUTE_32F;
  Stream stream_;
  CublasHandle blas_;
  DeviceBuffer<std::int32_t> cats_, bcats_, t_owner_;
  DeviceBuffer<float> cont_, target_, flat_, state_, bcont_, btarget_, x0_, cont_xhat_, cont_mean_, cont_invstd_;
  DeviceBuffer<float> logits_, dlogits_, sample_loss_, dx_, dx2_, scratch_;
  std::vector<DeviceBuffer<float>> a_, xhat_, y_, mean_, invstd_;
  DeviceBuffer<std::size_t> t_offset_, t_width_, t_column_;
  DeviceBuffer<std::uint32_t> rows_;
  DeviceBuffer<double> losses_, eval_loss_;  // one slot per queued step; eval_loss's
  std::size_t pending_ = 0;                   // queued steps whose loss is in losses_
  std::vector<double> host_losses_;
  DeviceBuffer<StepState> d_state_;       // the current step's changing values
  PinnedBuffer<StepState> h_states_;      // one staging slot per queued step
  PinnedBuffer<std::uint32_t> h_rows_;    // kLossSlots x capacity_ staged batch rows
  DeviceBuffer<std::uint8_t> cublas_workspace_;
  bool use_graph_ = false;
  CapturedGraph graph_;                   // step_kernels for batches of graph_batch_ rows
  std::size_t graph_batch_ = 0;
  EmbeddingTables tables_;
  SortBuffers emb_sort_, bag_sort_;       // --deterministic: the sorted scatters' memory,
  SortedScatter emb_sorted_, bag_sorted_;  // sized with the batch and with the bag entries
  const BagRows* bags_ = nullptr;  // the data's bags (null without a bag input)
  BagRows host_bag_;                // the current batch's, uploaded below
  DeviceBuffer<std::uint64_t> bag_indptr_;
  DeviceBuffer<std::int32_t> bag_items_;
  DeviceBuffer<float> bag_weights_;
  std::vector<train_element::TableRow> host_touched_;  // lazy Adam's rows this step
  std::vector<PinnedBuffer<unsigned char>> staging_ = std::vector<PinnedBuffer<unsigned char>>(kLossSlots);
  std::size_t staged_ = 0;  // bytes of the current slot's staging in use
  DeviceBuffer<train_element::TableRow> touched_;
  std::size_t capacity_ = 0;
};

}  // namespace

std::unique_ptr<train_detail::TrainEngine> make_train_engine(const train_detail::EngineArgs& args) {
  return std::make_unique<CudaEngine>(args);
}

}  // namespace cohort::cuda
