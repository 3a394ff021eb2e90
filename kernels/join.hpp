/*
 * join.hpp: launchers of the join kernels (kernels/join.cu), stream last. Device
 * pointers only; the grid view points at device copies of the JoinGrid arrays.
 *   join_count  counts[i] = features containing point i (at most 1 with first)
 *   join_scan   offsets = exclusive prefix sum of counts (n + 1 entries, offsets[n] = total)
 *   join_fill   writes point base + i and its features at offsets[i] - pair_base...
 *               (pair_base: the first pair of a range of points filled on its own)
 */
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/join_element.hpp"

namespace cohort::cuda {

void join_count(const JoinGridView& grid, const double* d_x, const double* d_y, std::size_t n, bool first,
                std::uint64_t* d_counts, cudaStream_t stream);

/// Bytes of temporary storage join_scan needs for n + 1 items.
std::size_t join_scan_temp_bytes(std::size_t n);
void join_scan(const std::uint64_t* d_counts, std::uint64_t* d_offsets, std::size_t n, void* d_temp,
               std::size_t temp_bytes, cudaStream_t stream);

void join_fill(const JoinGridView& grid, const double* d_x, const double* d_y, std::size_t n, bool first,
               const std::uint64_t* d_offsets, std::uint64_t base, std::uint64_t pair_base, std::uint64_t* d_point,
               std::uint32_t* d_feature, cudaStream_t stream);

}  // namespace cohort::cuda
