// cub/device/device_scan.cuh (emulation): DeviceScan::ExclusiveSum and InclusiveSum as
// sequential scans, with CUB's two-call protocol checked (cub/temp_storage.cuh);
// recorded, like launches, inside a CUDA graph capture.
#pragma once

#include <cstddef>

#include "cub/temp_storage.cuh"

namespace cub {

struct DeviceScan {
  // Any nonzero size: the launchers must allocate what the query says.
  static constexpr std::size_t kTempBytes = 256;

  template <typename Input, typename Output, typename NumItems>
  static cudaError_t ExclusiveSum(void* d_temp, std::size_t& temp_bytes, Input in, Output out, NumItems items,
                                  cudaStream_t = nullptr) {
    return scan(false, "cub::DeviceScan::ExclusiveSum", d_temp, temp_bytes, in, out, items);
  }
  template <typename Input, typename Output, typename NumItems>
  static cudaError_t InclusiveSum(void* d_temp, std::size_t& temp_bytes, Input in, Output out, NumItems items,
                                  cudaStream_t = nullptr) {
    return scan(true, "cub::DeviceScan::InclusiveSum", d_temp, temp_bytes, in, out, items);
  }

 private:
  template <typename Input, typename Output, typename NumItems>
  static cudaError_t scan(bool inclusive, const char* name, void* d_temp, std::size_t& temp_bytes, Input in,
                          Output out, NumItems items) {
    if (emulation::size_query(name, d_temp, temp_bytes, kTempBytes, items)) return cudaSuccess;
    cohort::emulation::record_or_run([=] {
      auto sum = decltype(+*in){};
      for (NumItems i = 0; i < items; ++i) {
        const auto item = in[i];  // read first: CUB allows in == out
        if (!inclusive) out[i] = sum;
        sum += item;
        if (inclusive) out[i] = sum;
      }
    });
    return cudaSuccess;
  }
};

}  // namespace cub
