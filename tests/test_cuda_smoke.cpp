/*
 * test_cuda_smoke.cpp: the checked-call helper (runs without a GPU: it only needs the
 * runtime's error tables) and a device kernel compared with the CPU (skips visibly
 * without a GPU).
 */
#include <gtest/gtest.h>

#include "cohort/backend.hpp"
#include "cohort/error.hpp"

#ifdef COHORT_WITH_CUDA
#include "host/cuda/check.hpp"
#include "kernels/smoke.hpp"
#include "kernels/smoke_element.hpp"
#endif

namespace cohort {
namespace {

#ifdef COHORT_WITH_CUDA
TEST(CudaCheck, FailureNamesCallFileLineAndError) {
  try {
    COHORT_CUDA_TRY(cudaErrorInvalidValue);
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cudaErrorInvalidValue"), std::string::npos) << what;
    EXPECT_NE(what.find("test_cuda_smoke.cpp:"), std::string::npos) << what;
    EXPECT_NE(what.find("invalid argument"), std::string::npos) << what;
  }
  EXPECT_NO_THROW(COHORT_CUDA_TRY(cudaSuccess));
}

TEST(CudaCheck, LibraryFailuresAreNamedToo) {
  try {
    COHORT_CUBLAS_TRY(CUBLAS_STATUS_NOT_INITIALIZED);
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("CUBLAS_STATUS_NOT_INITIALIZED"), std::string::npos) << e.what();
  }
  EXPECT_THROW(COHORT_CUSPARSE_TRY(CUSPARSE_STATUS_INVALID_VALUE), CudaError);
}

TEST(CudaSmoke, AxpyMatchesCpu) {
  if (cuda_devices().empty()) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
  const std::size_t n = 100'003;  // not a multiple of the block size
  std::vector<float> x(n), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i % 97) * 0.25f;
    y[i] = 1.0f - static_cast<float>(i % 13);
  }
  const auto gpu = cuda::axpy_on_device(3.0f, x, y);
  ASSERT_EQ(gpu.size(), n);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(gpu[i], axpy_element(3.0f, x[i], y[i])) << "at " << i;
}

TEST(CudaSmoke, PoolPeakCountsTheDeviceBuffers) {
  if (cuda_devices().empty()) {
    EXPECT_EQ(cuda_pool_peak_bytes(true), 0u);  // what the benchmarks print without a GPU
    GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
  }
  const std::size_t n = 1 << 20;
  cuda_pool_peak_bytes(true);
  cuda::axpy_on_device(2.0f, std::vector<float>(n, 1.0f), std::vector<float>(n, 1.0f));  // x and y on the device
  EXPECT_GE(cuda_pool_peak_bytes(), 2 * n * sizeof(float));
}
#else
TEST(CudaSmoke, SkippedInCpuOnlyBuild) {
  EXPECT_FALSE(built_with_cuda());
  GTEST_SKIP() << "CPU-only build: CUDA tests are not compiled";
}
#endif

}  // namespace
}  // namespace cohort
