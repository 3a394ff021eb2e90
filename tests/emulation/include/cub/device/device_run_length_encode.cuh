// cub/device/device_run_length_encode.cuh (emulation): DeviceRunLengthEncode::Encode as
// a sequential pass: each run of equal items gives its item, its length and one run;
// recorded, like launches, inside a CUDA graph capture.
#pragma once

#include <cstddef>
#include <type_traits>

#include "cub/temp_storage.cuh"

namespace cub {

struct DeviceRunLengthEncode {
  template <typename Input, typename UniqueOutput, typename LengthOutput, typename RunCountOutput, typename NumItems>
  static cudaError_t Encode(void* d_temp, std::size_t& temp_bytes, Input in, UniqueOutput unique_out,
                            LengthOutput lengths_out, RunCountOutput runs_out, NumItems items, cudaStream_t = nullptr) {
    if (emulation::size_query("cub::DeviceRunLengthEncode::Encode", d_temp, temp_bytes, emulation::bytes_for(items),
                              items))
      return cudaSuccess;
    const auto n = static_cast<std::size_t>(items);
    cohort::emulation::record_or_run([=] {
      std::size_t runs = 0;
      for (std::size_t i = 0; i < n; ++runs) {
        std::size_t end = i + 1;
        while (end < n && in[end] == in[i]) ++end;
        unique_out[runs] = in[i];
        lengths_out[runs] = static_cast<std::remove_reference_t<decltype(lengths_out[runs])>>(end - i);
        i = end;
      }
      *runs_out = static_cast<std::remove_reference_t<decltype(*runs_out)>>(runs);
    });
    return cudaSuccess;
  }
};

}  // namespace cub
