/*
 * dictionary.hpp: grouping a column of string ids on the device, the device half of
 * the matrix engine's dictionary encoding (launcher declaration only, so host code
 * stays plain C++). The host dictionary then sees each distinct string once.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cohort::cuda {

/// The distinct strings of a column: group r is one distinct string (groups ordered by
/// hash), first[r] its first row and hash[r] its string_hash; group[i] is row i's group.
/// collision: two different strings shared a hash, so some group holds unequal rows
/// and the caller must encode the column on the host instead.
struct StringGroups {
  std::vector<std::uint32_t> group, first;
  std::vector<std::uint64_t> hash;
  bool collision = false;
};

/// Row i is bytes[offsets[i], offsets[i + 1]); n < 2^31. Hashes on the device, a stable
/// radix sort of (hash, row), run heads marked and scanned into group numbers, every row
/// compared with its group's first row. hash_mask (tests) is and-ed into the hashes to
/// force collisions.
StringGroups group_strings_cuda(const char* bytes, const std::size_t* offsets, std::size_t n,
                                std::uint64_t hash_mask = ~std::uint64_t(0));

}  // namespace cohort::cuda
