// cub/device/device_radix_sort.cuh (emulation): DeviceRadixSort::SortPairs and SortKeys
// as a sequential stable sort on the key bits [begin_bit, end_bit) (CUB's order: bits
// outside the range are ignored, equal keys keep their input order, the output keys are
// whole). Signed keys are ordered as CUB's bit twiddling does: the sign bit flipped, so
// the bits of a non-negative key are its own. Inside a CUDA graph capture the sort is
// recorded.
#pragma once

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "cub/temp_storage.cuh"

namespace cub {

struct DeviceRadixSort {
  template <typename Key, typename Value, typename NumItems>
  static cudaError_t SortPairs(void* d_temp, std::size_t& temp_bytes, const Key* keys_in, Key* keys_out,
                               const Value* values_in, Value* values_out, NumItems items, int begin_bit = 0,
                               int end_bit = int(sizeof(Key) * 8), cudaStream_t = nullptr) {
    if (!checked("cub::DeviceRadixSort::SortPairs", d_temp, temp_bytes, keys_in, items, begin_bit, end_bit))
      return cudaSuccess;
    const auto n = static_cast<std::size_t>(items);
    // Queued like a launch: inside a CUDA graph capture it is recorded, not run.
    cohort::emulation::record_or_run([=] {
      const auto order = sorted_order(keys_in, n, begin_bit, end_bit);
      // Through copies: CUB's outputs must not overlap its inputs, but a bad launcher's may.
      const std::vector<Key> keys(keys_in, keys_in + n);
      const std::vector<Value> values(values_in, values_in + n);
      for (std::size_t i = 0; i < n; ++i) {
        keys_out[i] = keys[order[i]];
        values_out[i] = values[order[i]];
      }
    });
    return cudaSuccess;
  }

  template <typename Key, typename NumItems>
  static cudaError_t SortKeys(void* d_temp, std::size_t& temp_bytes, const Key* keys_in, Key* keys_out,
                              NumItems items, int begin_bit = 0, int end_bit = int(sizeof(Key) * 8),
                              cudaStream_t = nullptr) {
    if (!checked("cub::DeviceRadixSort::SortKeys", d_temp, temp_bytes, keys_in, items, begin_bit, end_bit))
      return cudaSuccess;
    const auto n = static_cast<std::size_t>(items);
    cohort::emulation::record_or_run([=] {
      const auto order = sorted_order(keys_in, n, begin_bit, end_bit);
      const std::vector<Key> keys(keys_in, keys_in + n);
      for (std::size_t i = 0; i < n; ++i) keys_out[i] = keys[order[i]];
    });
    return cudaSuccess;
  }

 private:
  // Checks the bit range and the two-call protocol; false for the size query.
  template <typename Key, typename NumItems>
  static bool checked(const char* name, const void* d_temp, std::size_t& temp_bytes, const Key*, NumItems items,
                      int begin_bit, int end_bit) {
    static_assert(std::is_integral_v<Key>, "the stand-in sorts integer keys only");
    constexpr int kBits = int(sizeof(Key) * 8);
    if (begin_bit < 0 || end_bit > kBits || begin_bit >= end_bit)
      cohort::emulation::fail(std::string(name) + ": bit range [" + std::to_string(begin_bit) + ", " +
                              std::to_string(end_bit) + ") of a " + std::to_string(kBits) + "-bit key");
    return !emulation::size_query(name, d_temp, temp_bytes, emulation::bytes_for(items), items);
  }

  // The stable order of keys[0, n) by their bits [begin_bit, end_bit).
  template <typename Key>
  static std::vector<std::size_t> sorted_order(const Key* keys, std::size_t n, int begin_bit, int end_bit) {
    using Bits = std::make_unsigned_t<Key>;
    constexpr int kBits = int(sizeof(Key) * 8);
    const Bits mask = end_bit - begin_bit == kBits ? Bits(~Bits(0)) : Bits((Bits(1) << (end_bit - begin_bit)) - 1);
    const Bits flip = std::is_signed_v<Key> ? Bits(Bits(1) << (kBits - 1)) : Bits(0);
    auto digit = [&](Key key) { return Bits(Bits(Bits(key) ^ flip) >> begin_bit & mask); };
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return digit(keys[a]) < digit(keys[b]); });
    return order;
  }
};

}  // namespace cub
