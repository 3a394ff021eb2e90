/*
 * similar_element.hpp: the per-element arithmetic of `cohort similar`, shared by the
 * CPU backend (g++) and the CUDA kernels (nvcc), so both produce the same bits.
 *
 *   normalize_row    x / ||x|| in float32: sum of squares in double (dot_double; a
 *                    float*float product is exact in double), one sqrt, one reciprocal,
 *                    one product per element in double, one rounding to float. Every
 *                    step is a correctly rounded IEEE operation on host and device.
 *   cosine_score     dot of two normalized rows: float products accumulated in double
 *                    in dot_double's fixed order (exact products, so FMA contraction
 *                    cannot change the result), rounded once to float, clamped to [-1, 1].
 *   ranks_before     the output order: score descending, then index ascending.
 *   candidate_window how far below the k-th best fast (GEMM) score a candidate may lie
 *                    and still be in the exact top k, for FP32 or rounded (TF32, BF16)
 *                    GEMM inputs.
 *
 * Window derivation (u = 2^-24): normalized rows have norm <= 1 + u. A float32 dot of
 * length d in any order (blocked, split-K, FMA) errs by at most d*u*sum|a_i b_i| <=
 * d*u*(1 + 3u). cosine_score errs by d*2^-53 before rounding, u/2 for the rounding and
 * at most ~3u for the clamp. So |fast - exact| <= eps = (2d + 16) u with ample slack,
 * including the rounding of the threshold subtraction. If the k best fast scores have
 * k-th value T, the k-th best exact score is >= T - eps, and any row in the exact top k
 * has fast score >= T - 2 eps: keeping every row with fast >= T' - 2 eps for any
 * T' <= T (a running k-th best) keeps the exact top k.
 *
 * Rounded inputs (tensor cores): each element of both rows carries a relative error of
 * at most r (the format's rounding), so the exact dot of the rounded rows differs from
 * the dot of the rows by at most (2r + r^2) sum|a_i b_i| <= (2r + r^2)(1 + 3u). Their
 * products are exact in FP32 (8 + 8 or 11 + 11 significant bits). Tensor-core sums are
 * not IEEE FP32 on every generation (they may truncate, and drop low bits when aligning
 * addends), so the accumulation term assumes 16u a step instead of u: 16 d u (1 + r)^2,
 * still small next to 2r. eps = (2r + r^2)(1 + 2^-20) + (16d + 16) u (1 + r)^2, where
 * 1 + 2^-20 covers the (1 + 3u) above and the float rounding of eps itself.
 */
#pragma once

#include <math.h>

#include <cstddef>
#include <cstdint>

#include "cohort/config.hpp"

namespace cohort {

/// Sum of a[i] * b[i] in double in a fixed order: four interleaved partial sums
/// (i mod 4), combined as (s0 + s1) + (s2 + s3). Four chains instead of one keep the
/// adds pipelined; the order is the same on every backend.
COHORT_HD inline double dot_double(const float* a, const float* b, std::size_t d) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  std::size_t i = 0;
  for (; i + 4 <= d; i += 4) {
    s0 += static_cast<double>(a[i]) * static_cast<double>(b[i]);
    s1 += static_cast<double>(a[i + 1]) * static_cast<double>(b[i + 1]);
    s2 += static_cast<double>(a[i + 2]) * static_cast<double>(b[i + 2]);
    s3 += static_cast<double>(a[i + 3]) * static_cast<double>(b[i + 3]);
  }
  if (i < d) s0 += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  if (i + 1 < d) s1 += static_cast<double>(a[i + 1]) * static_cast<double>(b[i + 1]);
  if (i + 2 < d) s2 += static_cast<double>(a[i + 2]) * static_cast<double>(b[i + 2]);
  return (s0 + s1) + (s2 + s3);
}

COHORT_HD inline double row_norm(const float* x, std::size_t d) { return ::sqrt(dot_double(x, x, d)); }

/// out = x / ||x|| (out may alias x), as x[i] * (1 / ||x||) in double, rounded once to
/// float. A zero row gives zeros (callers reject zero rows unless allow_zero).
COHORT_HD inline void normalize_row(const float* x, std::size_t d, float* out) {
  const double norm = row_norm(x, d);
  const double inverse = norm > 0.0 ? 1.0 / norm : 0.0;
  for (std::size_t i = 0; i < d; ++i) out[i] = static_cast<float>(static_cast<double>(x[i]) * inverse);
}

COHORT_HD inline float clamp_score(float s) { return s > 1.0f ? 1.0f : (s < -1.0f ? -1.0f : s); }

/// Cosine of two normalized rows; bit-identical on every backend.
COHORT_HD inline float cosine_score(const float* a, const float* b, std::size_t d) {
  return clamp_score(static_cast<float>(dot_double(a, b, d)));
}

/// True when (score_a, index_a) comes first: higher score, then smaller index.
COHORT_HD inline bool ranks_before(float score_a, std::int64_t index_a, float score_b, std::int64_t index_b) {
  return score_a > score_b || (score_a == score_b && index_a < index_b);
}

/// Relative rounding of a GEMM input: TF32 keeps 10 mantissa bits and the hardware may
/// truncate (2^-10); BF16 keeps 7 and to_bf16 rounds to nearest (2^-8).
constexpr float kTf32InputRounding = 9.765625e-4f;  // 2^-10
constexpr float kBf16InputRounding = 3.90625e-3f;   // 2^-8

/// 2 * eps: rows whose fast score is below (running k-th best) - window can be dropped.
/// input_rounding: 0 for FP32 inputs, else the bound r above.
COHORT_HD inline float candidate_window(std::size_t d, float input_rounding = 0.0f) {
  const float u = 5.9604644775390625e-8f;  // 2^-24
  if (input_rounding == 0.0f) return 2.0f * static_cast<float>(2 * d + 16) * u;
  const float r = input_rounding;
  const float eps = (2.0f * r + r * r) * (1.0f + 9.5367431640625e-7f) +  // 2^-20
                    static_cast<float>(16 * d + 16) * u * (1.0f + r) * (1.0f + r);
  return 2.0f * eps;
}

}  // namespace cohort
