/*
 * join_cpu.cpp: the CPU backend of the join. OpenMP over blocks of points; each block
 * collects its pairs (join_point, the code the CUDA kernel runs), then the block sizes
 * are scanned and the blocks copied into place, so the output is sorted by point and,
 * within a point, by feature (cells keep their entries in feature order).
 */
#include "host/cpu/join_cpu.hpp"

#include <algorithm>
#include <vector>

#include "kernels/join_element.hpp"

namespace cohort::cpu {

JoinPairs join_cpu(const JoinGrid& grid, const double* x, const double* y, std::size_t n, bool first) {
  JoinPairs out;
  if (n == 0) return out;
  const JoinGridView view = host_view(grid);
  constexpr std::size_t kBlock = std::size_t(1) << 15;
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<std::vector<std::uint64_t>> block_point(blocks);
  std::vector<std::vector<std::uint32_t>> block_feature(blocks);
#pragma omp parallel for schedule(dynamic, 1)
  for (std::size_t b = 0; b < blocks; ++b) {
    auto& points = block_point[b];
    auto& features = block_feature[b];
    const std::size_t end = std::min(n, (b + 1) * kBlock);
    for (std::size_t i = b * kBlock; i < end; ++i)
      join_point(view, x[i], y[i], first, [&](std::uint32_t f) {
        points.push_back(i);
        features.push_back(f);
      });
  }
  std::vector<std::size_t> offset(blocks + 1, 0);
  for (std::size_t b = 0; b < blocks; ++b) offset[b + 1] = offset[b] + block_point[b].size();
  out.point.resize(offset[blocks]);
  out.feature.resize(offset[blocks]);
#pragma omp parallel for schedule(static)
  for (std::size_t b = 0; b < blocks; ++b) {
    std::copy(block_point[b].begin(), block_point[b].end(), out.point.begin() + static_cast<std::ptrdiff_t>(offset[b]));
    std::copy(block_feature[b].begin(), block_feature[b].end(),
              out.feature.begin() + static_cast<std::ptrdiff_t>(offset[b]));
  }
  return out;
}

}  // namespace cohort::cpu
