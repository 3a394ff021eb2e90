/*
 * check.hpp: the one checked-call helper of the CUDA side.
 *
 * COHORT_CUDA_TRY(call), COHORT_CUBLAS_TRY(call) and COHORT_CUSPARSE_TRY(call) run
 * the call and, when it fails, throw cohort::CudaError naming the call text, the
 * file:line and the library's error name and description. COHORT_CHECK_LAUNCH(stream)
 * checks a kernel launch (and synchronizes the stream in debug builds, so a faulting
 * kernel is reported at its launch site, except while the stream is being captured
 * into a CUDA graph). Destructors use COHORT_CUDA_LOG instead:
 * they must not throw.
 */
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include "cohort/error.hpp"

namespace cohort::cuda {

[[noreturn]] void throw_cuda_error(const char* call, const char* file, int line,
                                   const char* error_name, const char* error_text);

inline void check(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess)
    throw_cuda_error(call, file, line, cudaGetErrorName(status), cudaGetErrorString(status));
}
void check(cublasStatus_t status, const char* call, const char* file, int line);
void check(cusparseStatus_t status, const char* call, const char* file, int line);

/// For destructors: prints the failure to stderr instead of throwing.
void log_failure(cudaError_t status, const char* call, const char* file, int line) noexcept;

/// Debug builds' COHORT_CHECK_LAUNCH: waits for the stream, unless it is being captured
/// into a CUDA graph (a wait there would end the capture with an error).
void synchronize_unless_capturing(cudaStream_t stream);

}  // namespace cohort::cuda

#define COHORT_CUDA_TRY(call) ::cohort::cuda::check((call), #call, __FILE__, __LINE__)
#define COHORT_CUBLAS_TRY(call) ::cohort::cuda::check((call), #call, __FILE__, __LINE__)
#define COHORT_CUSPARSE_TRY(call) ::cohort::cuda::check((call), #call, __FILE__, __LINE__)
#define COHORT_CUDA_LOG(call)                                                  \
  do {                                                                         \
    cudaError_t cohort_status_ = (call);                                       \
    if (cohort_status_ != cudaSuccess)                                         \
      ::cohort::cuda::log_failure(cohort_status_, #call, __FILE__, __LINE__);  \
  } while (0)

#ifdef NDEBUG
#define COHORT_CHECK_LAUNCH(stream) COHORT_CUDA_TRY(cudaGetLastError())
#else
#define COHORT_CHECK_LAUNCH(stream)                      \
  do {                                                   \
    COHORT_CUDA_TRY(cudaGetLastError());                 \
    ::cohort::cuda::synchronize_unless_capturing(stream); \
  } while (0)
#endif
