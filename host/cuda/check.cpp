/* check.cpp: turns CUDA, cuBLAS and cuSPARSE status codes into cohort::CudaError. */
#include "host/cuda/check.hpp"

#include <cstdio>
#include <string>

namespace cohort::cuda {

void throw_cuda_error(const char* call, const char* file, int line, const char* error_name,
                      const char* error_text) {
  throw CudaError(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                  error_name + " (" + error_text + ")");
}

void check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw_cuda_error(call, file, line, cublasGetStatusName(status), cublasGetStatusString(status));
}

void check(cusparseStatus_t status, const char* call, const char* file, int line) {
  if (status != CUSPARSE_STATUS_SUCCESS)
    throw_cuda_error(call, file, line, cusparseGetErrorName(status), cusparseGetErrorString(status));
}

void synchronize_unless_capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  COHORT_CUDA_TRY(cudaStreamIsCapturing(stream, &status));
  if (status == cudaStreamCaptureStatusNone) COHORT_CUDA_TRY(cudaStreamSynchronize(stream));
}

void log_failure(cudaError_t status, const char* call, const char* file, int line) noexcept {
  std::fprintf(stderr, "warning: %s failed at %s:%d: %s (%s)\n", call, file, line,
               cudaGetErrorName(status), cudaGetErrorString(status));
}

}  // namespace cohort::cuda
