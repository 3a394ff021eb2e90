/*
 * train_element.hpp: per-element math of the tabular network, shared by the CPU backend
 * (g++, float for training and double for gradient checks) and the CUDA kernels (nvcc).
 * Everything is a COHORT_HD inline template on the scalar type T.
 *   the behavioural bag (weighted sum of item embeddings); activations: ReLU, sigmoid y_range; batch norm per feature (normalise, backward,
 *   running update); losses per sample with their gradient w.r.t. the logits;
 *   the AdamW step of one parameter; the one-cycle schedule; splitmix64 and dropout masks.
 */
#pragma once

#include <cmath>
#include <cstdint>

#include "cohort/config.hpp"

namespace cohort::train_element {

COHORT_HD inline float exp_(float x) { return expf(x); }
COHORT_HD inline double exp_(double x) { return exp(x); }
COHORT_HD inline float log_(float x) { return logf(x); }
COHORT_HD inline double log_(double x) { return log(x); }
COHORT_HD inline float log1p_(float x) { return log1pf(x); }
COHORT_HD inline double log1p_(double x) { return log1p(x); }
COHORT_HD inline float sqrt_(float x) { return sqrtf(x); }
COHORT_HD inline double sqrt_(double x) { return sqrt(x); }
COHORT_HD inline float abs_(float x) { return fabsf(x); }
COHORT_HD inline double abs_(double x) { return fabs(x); }

// ---- behavioural bag ----------------------------------------------------------------
/// Column j of a bag vector: sum over entries k in [begin, end), in entry order, of
/// weights[k] * table[items[k], j] (table rows of `width` values).
template <typename T>
COHORT_HD inline T bag_column(const T* table, std::size_t width, std::size_t j, const std::int32_t* items,
                              const float* weights, std::uint64_t begin, std::uint64_t end) {
  T sum = T(0);
  for (std::uint64_t k = begin; k < end; ++k) sum += T(weights[k]) * table[static_cast<std::size_t>(items[k]) * width + j];
  return sum;
}

// ---- activations -------------------------------------------------------------------
template <typename T>
COHORT_HD inline T relu_forward(T z) { return z > T(0) ? z : T(0); }
/// dL/dz from dL/da for a = relu(z) (the subgradient at 0 is 0, as in PyTorch).
template <typename T>
COHORT_HD inline T relu_backward(T z, T da) { return z > T(0) ? da : T(0); }

template <typename T>
COHORT_HD inline T sigmoid(T x) {
  // Stable for large |x|: never exponentiates a positive number.
  if (x >= T(0)) return T(1) / (T(1) + exp_(-x));
  const T e = exp_(x);
  return e / (T(1) + e);
}
/// y = sigmoid(x)*(hi-lo)+lo.
template <typename T>
COHORT_HD inline T y_range_forward(T x, T lo, T hi) { return sigmoid(x) * (hi - lo) + lo; }
/// dL/dx from dL/dy.
template <typename T>
COHORT_HD inline T y_range_backward(T x, T lo, T hi, T dy) {
  const T s = sigmoid(x);
  return dy * (hi - lo) * s * (T(1) - s);
}

// ---- sums over the batch --------------------------------------------------------------
/// Batch reductions (batch-norm statistics; bias, scale and output-bias gradients) add a
/// feature's rows in fixed segments of kRowSegment rows, in row order, then the segment
/// sums in segment order: the same order on both backends, and on the GPU one thread
/// per (segment, feature) rather than one per feature walking the whole batch.
constexpr std::size_t kRowSegment = 64;
COHORT_HD inline std::size_t row_segments(std::size_t rows) { return (rows + kRowSegment - 1) / kRowSegment; }

// ---- batch norm (per feature; mean and biased variance over the batch) -------------
template <typename T>
COHORT_HD inline T bn_invstd(T var, T eps) { return T(1) / sqrt_(var + eps); }
/// Writes xhat, returns gamma*xhat + beta.
template <typename T>
COHORT_HD inline T bn_forward(T x, T mean, T invstd, T gamma, T beta, T* xhat) {
  *xhat = (x - mean) * invstd;
  return gamma * *xhat + beta;
}
/// dL/dx of one element, given the batch means of dy and dy*xhat for its feature.
template <typename T>
COHORT_HD inline T bn_backward(T dy, T xhat, T gamma, T invstd, T mean_dy, T mean_dy_xhat) {
  return gamma * invstd * (dy - mean_dy - xhat * mean_dy_xhat);
}
/// Running statistic r <- (1-m) r + m b (PyTorch keeps the unbiased variance).
template <typename T>
COHORT_HD inline T bn_running_update(T running, T batch_value, T momentum) {
  return (T(1) - momentum) * running + momentum * batch_value;
}

// ---- losses: per sample loss and dL/dlogit (not yet divided by the batch) -----------
template <typename T>
COHORT_HD inline T mse_loss(T pred, T target) { return (pred - target) * (pred - target); }
template <typename T>
COHORT_HD inline T mse_grad(T pred, T target) { return T(2) * (pred - target); }

/// BCE with logits: max(x,0) - x*y + log(1 + exp(-|x|)).
template <typename T>
COHORT_HD inline T bce_logits_loss(T x, T y) {
  return (x > T(0) ? x : T(0)) - x * y + log1p_(exp_(-abs_(x)));
}
template <typename T>
COHORT_HD inline T bce_logits_grad(T x, T y) { return sigmoid(x) - y; }

/// Softmax cross-entropy of one sample over n logits; writes dL/dlogit into grad
/// (softmax - onehot) when grad is not null; returns the loss.
template <typename T>
COHORT_HD inline T softmax_ce(const T* logits, int n, int label, T* grad) {
  T m = logits[0];
  for (int i = 1; i < n; ++i) m = logits[i] > m ? logits[i] : m;
  T sum = T(0);
  for (int i = 0; i < n; ++i) sum += exp_(logits[i] - m);
  if (grad)
    for (int i = 0; i < n; ++i) grad[i] = exp_(logits[i] - m) / sum - (i == label ? T(1) : T(0));
  return log_(sum) - (logits[label] - m);
}

/// One sample's loss (regression: summed over its n outputs, each against the target)
/// for task 0 regression, 1 binary, 2 multiclass (TrainTask's values); when grad is not
/// null, writes dL/dlogit * scale (scale: 1 / batch). Both backends call this, so a
/// batch's loss is the same float per sample on each, summed in row order in double.
template <typename T>
COHORT_HD inline T sample_loss(int task, const T* logits, int n_out, T target, bool y_range, T lo, T hi, T scale,
                               T* grad) {
  if (task == 0) {
    T loss = T(0);
    for (int o = 0; o < n_out; ++o) {
      const T pred = y_range ? y_range_forward(logits[o], lo, hi) : logits[o];
      loss += mse_loss(pred, target);
      if (grad) {
        const T d = mse_grad(pred, target) * scale / T(n_out);
        grad[o] = y_range ? y_range_backward(logits[o], lo, hi, d) : d;
      }
    }
    return loss;
  }
  if (task == 1) {
    if (grad) grad[0] = bce_logits_grad(logits[0], target) * scale;
    return bce_logits_loss(logits[0], target);
  }
  const T loss = softmax_ce(logits, n_out, int(target), grad);
  if (grad)
    for (int o = 0; o < n_out; ++o) grad[o] *= scale;
  return loss;
}

// ---- optimiser ----------------------------------------------------------------------
/// One embedding-table row of the flat parameter buffer: what lazy Adam updates.
struct TableRow {
  std::uint64_t offset;  ///< index of the row's first parameter
  std::uint64_t width;
};

struct AdamStep {
  float lr, beta1, beta2, eps;
  float wd_factor;  ///< 1 - lr*wd for decayed parameters
  float debias1;    ///< 1 - beta1^t (fastai uses the current scheduled beta1)
  float debias2;    ///< 1 - beta2^t
};
/// fastai Adam with true weight decay, one parameter.
template <typename T>
COHORT_HD inline void adamw_update(T* p, T g, T* m, T* v, const AdamStep& s, bool decay) {
  T w = *p;
  if (decay) w *= T(s.wd_factor);
  *m = T(s.beta1) * *m + (T(1) - T(s.beta1)) * g;
  *v = T(s.beta2) * *v + (T(1) - T(s.beta2)) * g * g;
  const T denom = sqrt_(*v / T(s.debias2)) + T(s.eps);
  *p = w - (T(s.lr) / T(s.debias1)) * *m / denom;
}

/// fastai SchedCos: start + (1 + cos(pi*(1-pos))) * (end-start)/2, pos in [0,1].
COHORT_HD inline double sched_cos(double start, double end, double pos) {
  return start + (1.0 + cos(3.14159265358979323846 * (1.0 - pos))) * (end - start) / 2.0;
}
/// fastai combined_cos(pct, start, middle, end) at pos.
COHORT_HD inline double one_cycle(double pos, double pct, double start, double middle, double end) {
  if (pos < pct) return sched_cos(start, middle, pct > 0 ? pos / pct : 1.0);
  return sched_cos(middle, end, pct < 1 ? (pos - pct) / (1.0 - pct) : 1.0);
}

// ---- randomness ---------------------------------------------------------------------
COHORT_HD inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
/// Uniform [0,1) from a counter-based hash.
COHORT_HD inline double uniform01(std::uint64_t key) {
  return static_cast<double>(splitmix64(key) >> 11) * (1.0 / 9007199254740992.0);
}
/// Dropout scale of one element: 0 (dropped) or 1/(1-p); the same key gives the same
/// mask on both backends.
template <typename T>
COHORT_HD inline T dropout_scale(std::uint64_t seed, std::uint64_t step, std::uint64_t index, double p) {
  if (p <= 0.0) return T(1);
  const std::uint64_t key = splitmix64(seed ^ splitmix64(step * 0x100000001B3ull + 7)) ^ index;
  return uniform01(key) < p ? T(0) : T(1.0 / (1.0 - p));
}

}  // namespace cohort::train_element
