// cub/device/device_select.cuh (emulation): DeviceSelect::Flagged as a sequential pass:
// the items whose flag is nonzero, in input order, and their count; recorded, like
// launches, inside a CUDA graph capture.
#pragma once

#include <cstddef>
#include <type_traits>

#include "cub/temp_storage.cuh"

namespace cub {

struct DeviceSelect {
  template <typename Input, typename Flags, typename Output, typename SelectedCount, typename NumItems>
  static cudaError_t Flagged(void* d_temp, std::size_t& temp_bytes, Input in, Flags flags, Output out,
                             SelectedCount selected_out, NumItems items, cudaStream_t = nullptr) {
    if (emulation::size_query("cub::DeviceSelect::Flagged", d_temp, temp_bytes, emulation::bytes_for(items), items))
      return cudaSuccess;
    const auto n = static_cast<std::size_t>(items);
    cohort::emulation::record_or_run([=] {
      std::size_t selected = 0;
      for (std::size_t i = 0; i < n; ++i)
        if (flags[i]) out[selected++] = in[i];
      *selected_out = static_cast<std::remove_reference_t<decltype(*selected_out)>>(selected);
    });
    return cudaSuccess;
  }
};

}  // namespace cub
