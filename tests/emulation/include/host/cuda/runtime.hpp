// host/cuda/runtime.hpp (emulation): stands in for the real one, which needs the CUDA
// toolkit; the kernels take ceil_div, COHORT_CHECK_LAUNCH, COHORT_CUDA_TRY and (through
// check.hpp) cohort/error.hpp from it. An emulated launch or call throws at once when it
// fails, so there is nothing left to check.
#pragma once

#include "cohort/error.hpp"
#include "cuda_runtime.h"

namespace cohort::cuda {

template <typename T>
constexpr T ceil_div(T a, T b) {
  return (a + b - 1) / b;
}

}  // namespace cohort::cuda

#define COHORT_CHECK_LAUNCH(stream) static_cast<void>(stream)
#define COHORT_CUDA_TRY(call) static_cast<void>(call)
