/*
 * dictionary_element.hpp: the string hash and byte equality that group equal ids,
 * shared by the host dictionary (host/io/string_dictionary.hpp) and the device grouping
 * (kernels/dictionary.cu), so both compute the same hash of the same bytes.
 */
#pragma once

#include <cstddef>
#include <cstdint>

#include "cohort/config.hpp"

namespace cohort {

/// FNV-1a-style 64-bit hash, 8 bytes (little-endian) a step, with a final mix.
COHORT_HD inline std::uint64_t string_hash(const char* s, std::size_t n) {
  std::uint64_t h = 1469598103934665603ull;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w = 0;
    for (int b = 0; b < 8; ++b) w |= std::uint64_t(static_cast<unsigned char>(s[i + b])) << (8 * b);
    h = (h ^ w) * 1099511628211ull;
    h ^= h >> 29;
  }
  for (; i < n; ++i) h = (h ^ static_cast<unsigned char>(s[i])) * 1099511628211ull;
  h ^= h >> 32;
  return h * 0x9E3779B97F4A7C15ull;
}

COHORT_HD inline bool same_string(const char* a, std::size_t a_size, const char* b, std::size_t b_size) {
  if (a_size != b_size) return false;
  for (std::size_t k = 0; k < a_size; ++k)
    if (a[k] != b[k]) return false;
  return true;
}

}  // namespace cohort
