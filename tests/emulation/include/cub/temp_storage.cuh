// cub/temp_storage.cuh (emulation, not a CUB header): CUB's two-call protocol for the
// sequential stand-ins. A null d_temp asks for the size; too little storage faults, as
// a launcher that skips the query or passes less runs out of bounds on a GPU.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

#include "cuda_runtime.h"

namespace cub::emulation {

/// True when the call was only the size query (answered with `needed`); faults when
/// `available` is too small or the item count is negative.
template <typename NumItems>
bool size_query(const char* algorithm, const void* d_temp, std::size_t& temp_bytes, std::size_t needed,
                NumItems items) {
  // A count cast to a signed type it does not fit turns negative.
  if constexpr (std::is_signed_v<NumItems>)
    if (items < 0) cohort::emulation::fail(std::string(algorithm) + ": negative item count " + std::to_string(items));
  if (d_temp == nullptr) {
    temp_bytes = needed;
    return true;
  }
  if (temp_bytes < needed)
    cohort::emulation::fail(std::string(algorithm) + ": " + std::to_string(temp_bytes) +
                            " bytes of temporary storage, it asked for " + std::to_string(needed));
  return false;
}

/// A size that grows with the item count: a query for fewer items than the call fails.
template <typename NumItems>
std::size_t bytes_for(NumItems items) {
  return 256 + 16 * static_cast<std::size_t>(items);
}

}  // namespace cub::emulation
