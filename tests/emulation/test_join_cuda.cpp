// test_join_cuda.cpp: host/cuda/join_cuda.cpp (CudaJoiner: the grid uploaded once, point
// batches through two slots with pinned staging, queue_fill/append, pair buffers grown,
// batches with more pairs than a slot holds filled in point ranges) on the emulator,
// against the CPU join (cpu::join_cpu): the same pairs in the same order. A 1-byte
// budget gives the smallest batches and pair buffers (4096 each): many batches, and with
// dense polygons split fills; the default budget (the stand-in's 1 GiB free) one batch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cohort/join.hpp"
#include "emulation/core.hpp"
#include "host/cpu/join_cpu.hpp"
#include "host/cuda/join_cuda.hpp"
#include "tests/emulation/star_ring.hpp"

namespace {


// Star-shaped (so simple) rings at random places in [0, 10)^2; `boxes` large boxes on
// top make every point fall in several features. Some features have a hole.
cohort::PolygonSet make_polygons(unsigned seed, int stars, int boxes) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  cohort::PolygonSet set;
  for (int f = 0; f < stars; ++f) {
    const double cx = 10 * unit(generator), cy = 10 * unit(generator), radius = 0.5 + 2 * unit(generator);
    cohort::testing::add_star_ring(set, generator, cx, cy, radius);
    if (f % 4 == 0) {  // a hole around the centre
      const double h = 0.1 * radius;
      set.add_ring({cx - h, cx + h, cx + h, cx - h}, {cy - h, cy - h, cy + h, cy + h});
    }
    set.end_polygon();
    set.end_feature("star" + std::to_string(f));
  }
  for (int f = 0; f < boxes; ++f) {
    const double x0 = -0.5 + unit(generator), y0 = -0.5 + unit(generator);
    set.add_ring({x0, x0 + 10, x0 + 10, x0}, {y0, y0, y0 + 10, y0 + 10});
    set.end_polygon();
    set.end_feature("box" + std::to_string(f));
  }
  return set;
}

// n points in [-1, 11)^2, the first ones on the polygons' vertices.
void make_points(const cohort::PolygonSet& set, std::size_t n, unsigned seed, std::vector<double>& x,
                 std::vector<double>& y) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> where(-1.0, 11.0);
  for (std::size_t v = 0; v < set.x.size() && x.size() < n / 4; ++v) {
    x.push_back(set.x[v]);
    y.push_back(set.y[v]);
  }
  while (x.size() < n) {
    x.push_back(where(generator));
    y.push_back(where(generator));
  }
}

// Returns the number of pairs.
std::size_t expect_same_join(cohort::cuda::CudaJoiner& joiner, const cohort::JoinGrid& grid,
                             const std::vector<double>& x, const std::vector<double>& y, std::size_t n, bool first,
                             const std::string& label) {
  SCOPED_TRACE(label + " n " + std::to_string(n) + (first ? " first" : " all"));
  const cohort::JoinPairs expected = cohort::cpu::join_cpu(grid, x.data(), y.data(), n, first);
  const long launches = cohort::emulation::stats().launches;
  const cohort::JoinPairs got = joiner.join(x.data(), y.data(), n, first);
  if (n > 0) {
    EXPECT_GT(cohort::emulation::stats().launches, launches) << "nothing ran on the emulator";
  }
  EXPECT_EQ(got.point.size(), expected.point.size());
  EXPECT_EQ(got.feature.size(), expected.feature.size());
  if (got.point.size() != expected.point.size() || got.feature.size() != expected.feature.size())
    return expected.size();
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got.point[i], expected.point[i]) << "pair " << i;
    EXPECT_EQ(got.feature[i], expected.feature[i]) << "pair " << i;
    if (got.point[i] != expected.point[i] || got.feature[i] != expected.feature[i]) break;
  }
  return expected.size();
}

struct Case {
  unsigned seed;
  int stars, boxes;
  std::size_t points;
};

// Sparse polygons (under one feature per point: batches fit a slot's pairs) and dense
// ones (about six per point: a 4096-point batch holds ~24000 pairs, filled in ranges).
TEST(EmulatedJoinCuda, MatchesCpuJoinAcrossBudgets) {
  for (const Case c : {Case{11, 6, 0, 9000}, Case{12, 12, 4, 9000}}) {
    const cohort::PolygonSet polygons = make_polygons(c.seed, c.stars, c.boxes);
    const cohort::JoinGrid grid = cohort::build_join_grid(polygons);
    std::vector<double> x, y;
    make_points(polygons, c.points, c.seed + 100, x, y);
    for (const std::size_t budget : {std::size_t{1}, std::size_t{0}}) {
      const std::string label = "seed " + std::to_string(c.seed) + " stars " + std::to_string(c.stars) + " boxes " +
                                std::to_string(c.boxes) + " gpu_memory " + std::to_string(budget);
      cohort::cuda::CudaJoiner joiner(grid, budget);
      // Joins of several sizes on one joiner: slots and pair buffers reused and grown.
      for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{4097}, c.points})
        for (const bool first : {false, true}) {
          const std::size_t pairs = expect_same_join(joiner, grid, x, y, n, first, label);
          // The cases are what they say: sparse batches fit 4096 pairs, dense ones do not.
          if (n == 4096 && !first) {
            if (c.boxes == 0) {
              EXPECT_LT(pairs, 4096u) << label;
            } else {
              EXPECT_GT(pairs, 3 * 4096u) << label;
            }
          }
        }
    }
  }
}

}  // namespace
