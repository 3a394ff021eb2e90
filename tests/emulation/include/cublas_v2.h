// cublas_v2.h (emulation): the part of cuBLAS that host/cuda/similar_cuda.cpp calls, as
// plain host GEMMs on "device" (host) memory. Column-major, as cuBLAS: C (m x n) =
// alpha * op(A) * op(B) + beta * C. The math mode is kept on the handle: TF32 tensor-op
// math rounds the FP32 inputs to TF32 (10 mantissa bits, nearest even) first; GemmEx
// takes BF16 inputs (CUDA_R_16BF, stored as their 16 bits) into an FP32 output, or FP32
// ones (host/cuda/train_cuda.cpp), rounded as its fast compute type says. Each
// product is accumulated in float, in order of the inner index: not cuBLAS's order, but
// inside the candidate window the callers allow for any FP32 accumulation order.
#pragma once

#include <cstdint>
#include <cstring>

#include "cuda_runtime.h"
#include "emulation/core.hpp"

enum cublasStatus_t { CUBLAS_STATUS_SUCCESS = 0 };
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum cublasMath_t { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 };
enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16BF = 14 };
enum cublasComputeType_t {
  CUBLAS_COMPUTE_32F = 68,
  CUBLAS_COMPUTE_32F_FAST_16BF = 75,
  CUBLAS_COMPUTE_32F_FAST_TF32 = 77
};
enum cublasGemmAlgo_t { CUBLAS_GEMM_DEFAULT = -1 };

struct cublasContext {
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
  int sgemm_calls = 0, gemm_ex_calls = 0;
};
using cublasHandle_t = cublasContext*;

// The workspace is cuBLAS's own business: nothing to emulate.
inline cublasStatus_t cublasSetWorkspace(cublasHandle_t, void*, std::size_t) { return CUBLAS_STATUS_SUCCESS; }

inline cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

namespace cohort::emulation {

inline float tf32_round(float value) {
  std::uint32_t u;
  std::memcpy(&u, &value, sizeof u);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;
  std::memcpy(&value, &u, sizeof value);
  return value;
}

inline float bf16_value(std::uint16_t bits) {
  const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &u, sizeof value);
  return value;
}

// Element (row, col) of op(X), X column-major with leading dimension ld.
template <typename Load>
void host_gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, Load a, int lda, Load b,
               int ldb, float beta, float* c, int ldc) {
  if (m < 0 || n < 0 || k < 0 || ldc < m || lda < (ta == CUBLAS_OP_N ? m : k) || ldb < (tb == CUBLAS_OP_N ? k : n))
    fail("cuBLAS GEMM: bad sizes or leading dimensions");
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      float sum = 0.0f;
      for (int l = 0; l < k; ++l) {
        const float x = ta == CUBLAS_OP_N ? a(i + static_cast<std::int64_t>(l) * lda) : a(l + static_cast<std::int64_t>(i) * lda);
        const float y = tb == CUBLAS_OP_N ? b(l + static_cast<std::int64_t>(j) * ldb) : b(j + static_cast<std::int64_t>(l) * ldb);
        sum += x * y;
      }
      float& out = c[i + static_cast<std::int64_t>(j) * ldc];
      out = beta == 0.0f ? alpha * sum : alpha * sum + beta * out;
    }
}

}  // namespace cohort::emulation

inline cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                  const float* alpha, const float* a, int lda, const float* b, int ldb,
                                  const float* beta, float* c, int ldc) {
  ++handle->sgemm_calls;
  const bool tf32 = handle->math == CUBLAS_TF32_TENSOR_OP_MATH;
  auto load = [tf32](const float* x) {
    return [x, tf32](std::int64_t at) { return tf32 ? cohort::emulation::tf32_round(x[at]) : x[at]; };
  };
  // Host-pointer scalars are read when the call is made (or captured).
  cohort::emulation::record_or_run([=, alpha_value = *alpha, beta_value = *beta] {
    cohort::emulation::host_gemm(ta, tb, m, n, k, alpha_value, load(a), lda, load(b), ldb, beta_value, c, ldc);
  });
  return CUBLAS_STATUS_SUCCESS;
}

// Only BF16 inputs into an FP32 output with FP32 compute: what the callers use.
inline cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                   int k, const void* alpha, const void* a, cudaDataType_t a_type, int lda,
                                   const void* b, cudaDataType_t b_type, int ldb, const void* beta, void* c,
                                   cudaDataType_t c_type, int ldc, cublasComputeType_t compute, cublasGemmAlgo_t) {
  ++handle->gemm_ex_calls;
  if (a_type == CUDA_R_32F && b_type == CUDA_R_32F && c_type == CUDA_R_32F) {
    // FP32 matrices (host/cuda/train_cuda.cpp): the fast compute types round the inputs
    // as the tensor cores do (TF32, or BF16 nearest even); CUBLAS_COMPUTE_32F takes them whole.
    auto round = [compute](float value) {
      if (compute == CUBLAS_COMPUTE_32F_FAST_TF32) return cohort::emulation::tf32_round(value);
      if (compute != CUBLAS_COMPUTE_32F_FAST_16BF) return value;
      std::uint32_t u;
      std::memcpy(&u, &value, sizeof u);
      if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x7fffu + ((u >> 16) & 1u)) & ~0xffffu;
      std::memcpy(&value, &u, sizeof value);
      return value;
    };
    auto load = [round](const void* x) {
      return [p = static_cast<const float*>(x), round](std::int64_t at) { return round(p[at]); };
    };
    cohort::emulation::record_or_run([=, alpha_value = *static_cast<const float*>(alpha),
                                      beta_value = *static_cast<const float*>(beta)] {
      cohort::emulation::host_gemm(ta, tb, m, n, k, alpha_value, load(a), lda, load(b), ldb, beta_value,
                                   static_cast<float*>(c), ldc);
    });
    return CUBLAS_STATUS_SUCCESS;
  }
  if (a_type != CUDA_R_16BF || b_type != CUDA_R_16BF || c_type != CUDA_R_32F || compute != CUBLAS_COMPUTE_32F)
    cohort::emulation::fail("cublasGemmEx: only FP32 x FP32 -> FP32, or BF16 x BF16 -> FP32 with FP32 compute, is emulated");
  auto load = [](const void* x) {
    return [p = static_cast<const std::uint16_t*>(x)](std::int64_t at) { return cohort::emulation::bf16_value(p[at]); };
  };
  cohort::emulation::record_or_run([=, alpha_value = *static_cast<const float*>(alpha),
                                    beta_value = *static_cast<const float*>(beta)] {
    cohort::emulation::host_gemm(ta, tb, m, n, k, alpha_value, load(a), lda, load(b), ldb, beta_value,
                                 static_cast<float*>(c), ldc);
  });
  return CUBLAS_STATUS_SUCCESS;
}
