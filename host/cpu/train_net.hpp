/*
 * train_net.hpp: CPU forward and backward of the tabular network on one batch, templated
 * on the scalar (float to train, double for the finite-difference gradient checks).
 * GEMMs go to OpenBLAS (row-major cblas_sgemm/dgemm); per-feature reductions run in a
 * fixed row order (parallel over features only), so results do not depend on threads.
 * Shapes: cats B x C (int32 vocab rows), cont B x K (standardised), logits B x n_out;
 * the optional bag input as a batch CSR (BagBatch).
 */
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "host/cpu/train_layout.hpp"
#include "kernels/train_element.hpp"

namespace cohort::train_detail {

constexpr double kBnEps = 1e-5;
constexpr double kBnMomentum = 0.1;

inline void gemm_block(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
                       float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b,
              ldb, 0.0f, c, ldc);
}
inline void gemm_block(bool ta, bool tb, int m, int n, int k, const double* a, int lda, const double* b, int ldb,
                       double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0, a, lda, b,
              ldb, 0.0, c, ldc);
}

/// Row-major C (M x N) = op(A) op(B), beta 0. The rows of C are cut into fixed blocks of
/// kGemmRows, one single-threaded BLAS call each, spread over OpenMP threads: the
/// summation order then never depends on the thread count (OpenBLAS's own threading
/// changes results). Callers hold a BlasSingleThread.
template <typename T>
void gemm(bool ta, bool tb, int m, int n, int k, const T* a, int lda, const T* b, int ldb, T* c, int ldc) {
  constexpr int kGemmRows = 64;
  const int blocks = (m + kGemmRows - 1) / kGemmRows;
#pragma omp parallel for schedule(dynamic) if (blocks > 1 && std::int64_t(m) * n * k > 1 << 18)
  for (int blk = 0; blk < blocks; ++blk) {
    const int r0 = blk * kGemmRows, rows = m - r0 < kGemmRows ? m - r0 : kGemmRows;
    // Row r0 of op(A): A + r0*lda (not transposed) or column r0 of A (transposed).
    const T* a0 = ta ? a + r0 : a + static_cast<std::size_t>(r0) * lda;
    gemm_block(ta, tb, rows, n, k, a0, lda, b, ldb, c + static_cast<std::size_t>(r0) * ldc, ldc);
  }
}

/// OpenBLAS single-threaded for a scope (restored after): see gemm().
class BlasSingleThread {
 public:
  BlasSingleThread() : previous_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
  ~BlasSingleThread() { openblas_set_num_threads(previous_); }
  BlasSingleThread(const BlasSingleThread&) = delete;
  BlasSingleThread& operator=(const BlasSingleThread&) = delete;

 private:
  int previous_;
};

/// out[f] = sum over rows of value(r, f), for f < cols, in train_element's segment order
/// (rows in order within kRowSegment-row segments, then the segments in order: the CUDA
/// kernels' order); parallel over features.
template <typename T, typename Value>
void column_sums(std::size_t rows, std::size_t cols, T* out, Value value) {
  constexpr std::size_t kBlock = 64;
  const std::int64_t blocks = static_cast<std::int64_t>((cols + kBlock - 1) / kBlock);
#pragma omp parallel for schedule(static) if (rows * cols > 16384)
  for (std::int64_t block = 0; block < blocks; ++block) {
    const std::size_t f0 = static_cast<std::size_t>(block) * kBlock, f1 = f0 + kBlock < cols ? f0 + kBlock : cols;
    T segment[kBlock];
    for (std::size_t f = f0; f < f1; ++f) out[f] = T(0);
    for (std::size_t r0 = 0; r0 < rows; r0 += train_element::kRowSegment) {
      const std::size_t r1 = std::min(rows, r0 + train_element::kRowSegment);
      for (std::size_t f = f0; f < f1; ++f) segment[f - f0] = T(0);
      for (std::size_t r = r0; r < r1; ++r)
        for (std::size_t f = f0; f < f1; ++f) segment[f - f0] += value(r, f);
      for (std::size_t f = f0; f < f1; ++f) out[f] += segment[f - f0];
    }
  }
}

template <typename T>
struct NetBuffers {
  std::vector<T> x0, cont_xhat, cont_mean, cont_invstd, logits, dlogits, dx;
  std::vector<std::vector<T>> a, xhat, y, mean, invstd, dy;  // per hidden layer
};

/// A batch's bags in CSR form (indptr has B + 1 entries, local to the batch).
struct BagBatch {
  const std::uint64_t* indptr = nullptr;
  const std::int32_t* items = nullptr;
  const float* weights = nullptr;
};

struct BatchContext {
  bool training = true;
  std::uint64_t seed = 0, step = 0;  // dropout mask key
  double dropout = 0.0;
};

/// Batch-norm of a B x F matrix in place over rows: training uses and updates batch
/// statistics (running var unbiased), evaluation uses the running ones.
template <typename T>
void batch_norm_forward(std::size_t rows, std::size_t cols, const T* in, T* out, T* xhat, const T* gamma,
                        const T* beta, T* rmean, T* rvar, T* mean, T* invstd, bool training) {
  // rmean/rvar: updated in training when not null, read in evaluation.
  namespace el = train_element;
  const T eps = T(kBnEps), mom = T(kBnMomentum);
  if (training) {
    column_sums(rows, cols, mean, [&](std::size_t r, std::size_t f) { return in[r * cols + f]; });
    for (std::size_t f = 0; f < cols; ++f) mean[f] /= T(rows);
    column_sums(rows, cols, invstd, [&](std::size_t r, std::size_t f) {
      const T d = in[r * cols + f] - mean[f];
      return d * d;
    });
    for (std::size_t f = 0; f < cols; ++f) {
      const T var = invstd[f] / T(rows);
      if (rmean) {
        rmean[f] = el::bn_running_update(rmean[f], mean[f], mom);
        rvar[f] = el::bn_running_update(rvar[f], rows > 1 ? var * T(rows) / T(rows - 1) : var, mom);
      }
      invstd[f] = el::bn_invstd(var, eps);
    }
  } else {
    for (std::size_t f = 0; f < cols; ++f) {
      mean[f] = rmean[f];
      invstd[f] = el::bn_invstd(rvar[f], eps);
    }
  }
#pragma omp parallel for schedule(static) if (rows * cols > 16384)
  for (std::int64_t r = 0; r < static_cast<std::int64_t>(rows); ++r)
    for (std::size_t f = 0; f < cols; ++f) {
      const std::size_t i = static_cast<std::size_t>(r) * cols + f;
      out[i] = el::bn_forward(in[i], mean[f], invstd[f], gamma[f], beta[f], &xhat[i]);
    }
}

/// Forward pass; fills buf.logits (B x n_out). state may be null in evaluation.
template <typename T>
void net_forward(const TrainLayout& L, const T* p, T* state, const std::int32_t* cats, const T* cont, std::size_t B,
                 const BatchContext& ctx, NetBuffers<T>& buf, const BagBatch* bag = nullptr) {
  namespace el = train_element;
  const std::size_t D0 = L.dims[0], H = L.hidden(), K = L.n_cont;
  buf.x0.resize(B * D0);
  buf.a.resize(H), buf.xhat.resize(H), buf.y.resize(H), buf.mean.resize(H), buf.invstd.resize(H), buf.dy.resize(H);
#pragma omp parallel for schedule(static) if (B * D0 > 16384)
  for (std::int64_t r = 0; r < static_cast<std::int64_t>(B); ++r) {
    T* row = buf.x0.data() + r * D0;
    for (std::size_t c = 0; c < L.n_cat; ++c) {
      const T* e = p + L.emb[c] + static_cast<std::size_t>(cats[r * L.n_cat + c]) * L.width[c];
      for (std::size_t j = 0; j < L.width[c]; ++j) row[L.emb_col[c] + j] = e[j];
    }
    if (L.bag_width > 0)
      for (std::size_t j = 0; j < L.bag_width; ++j)
        row[L.bag_col + j] = el::bag_column(p + L.bag, L.bag_width, j, bag->items, bag->weights, bag->indptr[r],
                                            bag->indptr[r + 1]);
  }
  if (K > 0) {
    if (L.bn) {
      buf.cont_xhat.resize(B * K), buf.cont_mean.resize(K), buf.cont_invstd.resize(K);
      std::vector<T> normed(B * K);
      batch_norm_forward(B, K, cont, normed.data(), buf.cont_xhat.data(), p + L.cont_gamma, p + L.cont_beta,
                         state ? state + L.cont_rmean : nullptr, state ? state + L.cont_rvar : nullptr,
                         buf.cont_mean.data(), buf.cont_invstd.data(), ctx.training);
      for (std::size_t r = 0; r < B; ++r)
        for (std::size_t k = 0; k < K; ++k) buf.x0[r * D0 + L.emb_cols + k] = normed[r * K + k];
    } else {
      for (std::size_t r = 0; r < B; ++r)
        for (std::size_t k = 0; k < K; ++k) buf.x0[r * D0 + L.emb_cols + k] = cont[r * K + k];
    }
  }
  const T* x = buf.x0.data();
  for (std::size_t l = 0; l < H; ++l) {
    const std::size_t din = L.dims[l], dout = L.dims[l + 1];
    auto& a = buf.a[l];
    a.resize(B * dout), buf.y[l].resize(B * dout), buf.xhat[l].resize(B * dout);
    buf.mean[l].resize(dout), buf.invstd[l].resize(dout);
    gemm(false, true, int(B), int(dout), int(din), x, int(din), p + L.w[l], int(din), a.data(), int(dout));
    const T* bias = L.bn ? nullptr : p + L.bias[l];
#pragma omp parallel for schedule(static) if (B * dout > 16384)
    for (std::int64_t r = 0; r < static_cast<std::int64_t>(B); ++r)
      for (std::size_t f = 0; f < dout; ++f) {
        T& v = a[r * dout + f];
        v = el::relu_forward(bias ? v + bias[f] : v);
      }
    T* y = buf.y[l].data();
    if (L.bn) {
      batch_norm_forward(B, dout, a.data(), y, buf.xhat[l].data(), p + L.gamma[l], p + L.beta[l],
                         state ? state + L.rmean[l] : nullptr, state ? state + L.rvar[l] : nullptr, buf.mean[l].data(), buf.invstd[l].data(), ctx.training);
    } else {
      std::copy(a.begin(), a.end(), buf.y[l].begin());
    }
    if (ctx.training && ctx.dropout > 0)
      for (std::size_t i = 0; i < B * dout; ++i)
        y[i] *= el::dropout_scale<T>(ctx.seed, ctx.step, (std::uint64_t(l) << 40) + i, ctx.dropout);
    x = y;
  }
  const std::size_t din = L.dims[H], no = L.n_out;
  buf.logits.resize(B * no);
  gemm(false, true, int(B), int(no), int(din), x, int(din), p + L.w[H], int(din), buf.logits.data(), int(no));
  for (std::size_t r = 0; r < B; ++r)
    for (std::size_t o = 0; o < no; ++o) buf.logits[r * no + o] += p[L.out_bias + o];
}

/// Mean loss over the batch; writes buf.dlogits = dLoss/dlogits (already / B).
/// targets: the value (regression), 0/1 (binary) or the class index (multiclass).
template <typename T>
double net_loss(const TrainModelConfig& cfg, const T* targets, std::size_t B, NetBuffers<T>& buf, bool want_grad) {
  namespace el = train_element;
  const std::size_t no = static_cast<std::size_t>(cfg.n_out);
  buf.dlogits.resize(B * no);
  double total = 0.0;
  const T lo = T(cfg.y_lo), hi = T(cfg.y_hi), scale = T(1) / T(B);
  for (std::size_t r = 0; r < B; ++r)
    total += static_cast<double>(el::sample_loss(static_cast<int>(cfg.task), buf.logits.data() + r * no, int(no),
                                                 targets[r], cfg.has_y_range, lo, hi, scale,
                                                 want_grad ? buf.dlogits.data() + r * no : nullptr));
  return cfg.task == TrainTask::Regression ? total / double(B * no) : total / double(B);
}

/// Backward pass from buf.dlogits; overwrites grads (n_params; rows of embedding tables
/// not in the batch get 0). With zero_tables false the embedding tables' gradients
/// [0, L.w[0]) are only added to: the caller zeroed the batch's rows (lazy Adam).
template <typename T>
void net_backward(const TrainLayout& L, const T* p, const std::int32_t* cats, std::size_t B, const BatchContext& ctx,
                  NetBuffers<T>& buf, T* grads, const BagBatch* bag = nullptr, bool zero_tables = true) {
  namespace el = train_element;
  const std::size_t H = L.hidden(), D0 = L.dims[0], K = L.n_cont;
  std::fill(grads + (zero_tables ? 0 : L.w[0]), grads + L.n_params, T(0));
  const std::size_t no = L.n_out;
  const T* x_last = H > 0 ? buf.y[H - 1].data() : buf.x0.data();
  const std::size_t d_last = L.dims[H];
  gemm(true, false, int(no), int(d_last), int(B), buf.dlogits.data(), int(no), x_last, int(d_last), grads + L.w[H],
       int(d_last));
  column_sums(B, no, grads + L.out_bias, [&](std::size_t r, std::size_t o) { return buf.dlogits[r * no + o]; });
  // dx of the layer input, then walk the hidden layers backwards.
  std::vector<T> dx(B * d_last);
  gemm(false, false, int(B), int(d_last), int(no), buf.dlogits.data(), int(no), p + L.w[H], int(d_last), dx.data(),
       int(d_last));
  for (std::size_t l = H; l-- > 0;) {
    const std::size_t din = L.dims[l], dout = L.dims[l + 1];
    std::vector<T>& dy = dx;  // B x dout
    if (ctx.dropout > 0)
      for (std::size_t i = 0; i < B * dout; ++i)
        dy[i] *= el::dropout_scale<T>(ctx.seed, ctx.step, (std::uint64_t(l) << 40) + i, ctx.dropout);
    const auto& a = buf.a[l];
    if (L.bn) {
      const auto& xh = buf.xhat[l];
      T* dgamma = grads + L.gamma[l];
      T* dbeta = grads + L.beta[l];
      column_sums(B, dout, dgamma, [&](std::size_t r, std::size_t f) { return dy[r * dout + f] * xh[r * dout + f]; });
      column_sums(B, dout, dbeta, [&](std::size_t r, std::size_t f) { return dy[r * dout + f]; });
      const T* gamma = p + L.gamma[l];
      const T* invstd = buf.invstd[l].data();
#pragma omp parallel for schedule(static) if (B * dout > 16384)
      for (std::int64_t r = 0; r < static_cast<std::int64_t>(B); ++r)
        for (std::size_t f = 0; f < dout; ++f) {
          const std::size_t i = static_cast<std::size_t>(r) * dout + f;
          const T da = el::bn_backward(dy[i], xh[i], gamma[f], invstd[f], dbeta[f] / T(B), dgamma[f] / T(B));
          dy[i] = el::relu_backward(a[i], da);
        }
    } else {
      for (std::size_t i = 0; i < B * dout; ++i) dy[i] = el::relu_backward(a[i], dy[i]);
      column_sums(B, dout, grads + L.bias[l], [&](std::size_t r, std::size_t f) { return dy[r * dout + f]; });
    }
    const T* xin = l > 0 ? buf.y[l - 1].data() : buf.x0.data();
    gemm(true, false, int(dout), int(din), int(B), dy.data(), int(dout), xin, int(din), grads + L.w[l], int(din));
    std::vector<T> dxin(B * din);
    gemm(false, false, int(B), int(din), int(dout), dy.data(), int(dout), p + L.w[l], int(din), dxin.data(), int(din));
    dx.swap(dxin);
  }
  // dx is now dL/dx0 (B x D0): embeddings (scatter-add, one column per thread) and cont BN.
#pragma omp parallel for schedule(dynamic) if (B * D0 > 16384)
  for (std::int64_t c = 0; c < static_cast<std::int64_t>(L.n_cat); ++c)
    for (std::size_t r = 0; r < B; ++r) {
      T* g = grads + L.emb[c] + static_cast<std::size_t>(cats[r * L.n_cat + c]) * L.width[c];
      const T* d = dx.data() + r * D0 + L.emb_col[c];
      for (std::size_t j = 0; j < L.width[c]; ++j) g[j] += d[j];
    }
  // The bag table: each entry adds weight x its row's dx, rows and entries in order (as
  // the CUDA kernel does per column).
  if (L.bag_width > 0)
    for (std::size_t r = 0; r < B; ++r)
      for (std::uint64_t k = bag->indptr[r]; k < bag->indptr[r + 1]; ++k) {
        T* g = grads + L.bag + static_cast<std::size_t>(bag->items[k]) * L.bag_width;
        const T* d = dx.data() + r * D0 + L.bag_col;
        for (std::size_t j = 0; j < L.bag_width; ++j) g[j] += T(bag->weights[k]) * d[j];
      }
  if (K > 0 && L.bn) {
    const T* xh = buf.cont_xhat.data();
    column_sums(B, K, grads + L.cont_gamma,
                [&](std::size_t r, std::size_t k) { return dx[r * D0 + L.emb_cols + k] * xh[r * K + k]; });
    column_sums(B, K, grads + L.cont_beta, [&](std::size_t r, std::size_t k) { return dx[r * D0 + L.emb_cols + k]; });
  }
  buf.dx.swap(dx);
}

}  // namespace cohort::train_detail
