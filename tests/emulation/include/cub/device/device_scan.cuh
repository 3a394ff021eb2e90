// cub/device/device_scan.cuh (emulation): DeviceScan::ExclusiveSum as a sequential scan,
// with CUB's two-call protocol (a null d_temp asks for the size) checked, since a
// launcher that skips the size query or passes too little storage fails on a GPU.
#pragma once

#include <cstddef>
#include <string>

#include "cuda_runtime.h"

namespace cub {

struct DeviceScan {
  // Any nonzero size: the launchers must allocate what the query says.
  static constexpr std::size_t kTempBytes = 256;

  template <typename Input, typename Output>
  static cudaError_t ExclusiveSum(void* d_temp, std::size_t& temp_bytes, Input in, Output out, int items,
                                  cudaStream_t = nullptr) {
    // CUB counts items in int: a count cast from a size that does not fit turns negative.
    if (items < 0)
      cohort::emulation::fail("cub::DeviceScan::ExclusiveSum: negative item count " + std::to_string(items));
    if (d_temp == nullptr) {
      temp_bytes = kTempBytes;
      return cudaSuccess;
    }
    if (temp_bytes < kTempBytes)
      cohort::emulation::fail("cub::DeviceScan::ExclusiveSum: " + std::to_string(temp_bytes) +
                              " bytes of temporary storage, it asked for " + std::to_string(kTempBytes));
    auto sum = decltype(+*in){};
    for (int i = 0; i < items; ++i) {
      const auto item = in[i];  // read first: CUB allows in == out
      out[i] = sum;
      sum += item;
    }
    return cudaSuccess;
  }
};

}  // namespace cub
