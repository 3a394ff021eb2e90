/*
 * smoke.hpp: a tiny kernel used to check that a CUDA build really runs on the device
 * at hand (tests/test_cuda_smoke.cpp compares it with the CPU result).
 */
#pragma once

#include <cstddef>
#include <vector>

namespace cohort::cuda {

/// Copies x and y to the device, runs y = a*x + y there and returns the result.
std::vector<float> axpy_on_device(float a, const std::vector<float>& x, const std::vector<float>& y);

}  // namespace cohort::cuda
