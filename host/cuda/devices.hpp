/* devices.hpp: CUDA device discovery for the backend chooser and `cohort info`. */
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cohort/backend.hpp"

namespace cohort::cuda {

/// Devices the runtime sees; empty (never an exception) when there are none.
std::vector<GpuInfo> list_devices();
/// The number of CUDA devices, asked once per process (listing them creates a context on
/// each GPU; this does not); 0 when the runtime has none or fails.
int device_count();
/// The runtime's reason for seeing no device, e.g. "no CUDA-capable device is detected".
std::string unavailable_reason();
/// See cuda_pool_peak_bytes (backend.hpp).
std::size_t pool_peak_bytes(bool reset);

}  // namespace cohort::cuda
