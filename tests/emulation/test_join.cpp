// test_join.cpp: kernels/join.cu's count -> scan -> fill on the emulator, run on a grid
// that build_join_grid made on the host (JoinGridView of host pointers), against the CPU
// join (cpu::join_cpu, what join_points runs for Device::Cpu): the same pairs in the same
// order, with and without `first`, filled at once or in point ranges (pair_base and a
// batch base past 2^32, as CudaJoiner fills a batch with more pairs than a slot holds).
// Polygons overlap, share edges, have holes and several parts; points lie on vertices,
// edges and cell borders, and outside the grid.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cohort/join.hpp"
#include "emulation/core.hpp"
#include "host/cpu/join_cpu.hpp"
#include "kernels/join.hpp"
#include "tests/emulation/star_ring.hpp"

namespace {

constexpr std::uint64_t kPoison = 0xdeadbeefcafef00dull;

void add_box(cohort::PolygonSet& set, double x0, double y0, double x1, double y1) {
  set.add_ring({x0, x1, x1, x0}, {y0, y0, y1, y1});
}

cohort::PolygonSet make_polygons(unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> where(0.0, 10.0), size(0.5, 3.0);
  cohort::PolygonSet set;
  for (int f = 0; f < 9; ++f) {  // unit squares sharing edges and corners
    add_box(set, f % 3, f / 3, f % 3 + 1, f / 3 + 1);
    set.end_polygon();
    set.end_feature("square" + std::to_string(f));
  }
  add_box(set, 4, 4, 9, 9);  // a hole
  add_box(set, 5, 5, 7, 8);
  set.end_polygon();
  set.end_feature("holed");
  add_box(set, 0.5, 6, 2, 9.5);  // two parts
  set.end_polygon();
  cohort::testing::add_star_ring(set, generator, 8, 1.5, 1.2);
  set.end_polygon();
  set.end_feature("parts");
  for (int f = 0; f < 12; ++f) {  // overlapping everything
    cohort::testing::add_star_ring(set, generator, where(generator), where(generator), size(generator));
    set.end_polygon();
    set.end_feature("star" + std::to_string(f));
  }
  return set;
}

// Returns the index of the first of four points far outside the grid.
std::size_t make_points(const cohort::PolygonSet& set, unsigned seed, std::vector<double>& x, std::vector<double>& y) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> where(-1.0, 11.0);
  for (std::size_t r = 0; r < set.rings(); ++r)  // vertices and edge midpoints
    for (std::uint64_t v = set.ring_offsets[r]; v < set.ring_offsets[r + 1]; ++v) {
      const std::uint64_t next = v + 1 < set.ring_offsets[r + 1] ? v + 1 : set.ring_offsets[r];
      x.insert(x.end(), {set.x[v], (set.x[v] + set.x[next]) / 2});
      y.insert(y.end(), {set.y[v], (set.y[v] + set.y[next]) / 2});
    }
  for (int i = 0; i < 40; ++i) {  // on the squares' shared edges and the grid's likely borders
    x.insert(x.end(), {1.0, i / 8.0, 2.0, 2.5});
    y.insert(y.end(), {i / 8.0, 2.0, i / 13.0, 5.0});
  }
  const std::size_t far = x.size();
  x.insert(x.end(), {-1e6, 1e6, 5.0, 5.0});
  y.insert(y.end(), {5.0, 5.0, -1e6, 1e6});
  while (x.size() < 3000) {
    x.push_back(where(generator));
    y.push_back(where(generator));
  }
  return far;
}

// count -> scan -> fill of points [0, n) on the emulator, the fill cut at `cuts` (point
// indices, increasing) into ranges filled on their own; points numbered from base.
cohort::JoinPairs emulated_join(const cohort::JoinGridView& view, const std::vector<double>& x,
                                const std::vector<double>& y, bool first, const std::vector<std::size_t>& cuts,
                                std::uint64_t base, std::vector<std::uint64_t>& counts) {
  const std::size_t n = x.size();
  counts.assign(n + 1, kPoison);
  cohort::cuda::join_count(view, x.data(), y.data(), n, first, counts.data(), nullptr);
  std::vector<std::uint64_t> offsets(n + 1, kPoison);
  std::vector<unsigned char> temp(cohort::cuda::join_scan_temp_bytes(n));
  cohort::cuda::join_scan(counts.data(), offsets.data(), n, temp.data(), temp.size(), nullptr);
  cohort::JoinPairs pairs;
  pairs.point.assign(offsets[n] + 1, kPoison);  // one more: a write past the end shows
  pairs.feature.assign(offsets[n] + 1, 0xdeadbeefu);
  std::vector<std::size_t> bounds = {0};
  bounds.insert(bounds.end(), cuts.begin(), cuts.end());
  bounds.push_back(n);
  for (std::size_t r = 0; r + 1 < bounds.size(); ++r) {
    const std::size_t i0 = bounds[r], i1 = bounds[r + 1];
    const std::uint64_t pair_base = offsets[i0], pairs_here = offsets[i1] - pair_base;
    // The range's pairs go to the start of the buffer (as CudaJoiner's slot holds them);
    // the rest must stay untouched.
    std::vector<std::uint64_t> point(offsets[n] + 1, kPoison);
    std::vector<std::uint32_t> feature(offsets[n] + 1, 0xdeadbeefu);
    cohort::cuda::join_fill(view, x.data() + i0, y.data() + i0, i1 - i0, first, offsets.data() + i0, base + i0,
                            pair_base, point.data(), feature.data(), nullptr);
    EXPECT_TRUE(std::all_of(point.begin() + static_cast<std::ptrdiff_t>(pairs_here), point.end(),
                            [](std::uint64_t p) { return p == kPoison; }))
        << "range [" << i0 << ", " << i1 << "): written past its pairs";
    std::copy_n(point.begin(), pairs_here, pairs.point.begin() + static_cast<std::ptrdiff_t>(pair_base));
    std::copy_n(feature.begin(), pairs_here, pairs.feature.begin() + static_cast<std::ptrdiff_t>(pair_base));
  }
  pairs.point.pop_back();
  pairs.feature.pop_back();
  return pairs;
}

void check_join(const cohort::JoinGrid& grid, const std::vector<double>& x, const std::vector<double>& y, bool first,
                std::uint64_t base, const std::vector<std::size_t>& cuts) {
  SCOPED_TRACE(std::string(first ? "first" : "all") + ", base " + std::to_string(base) + ", " +
               std::to_string(cuts.size() + 1) + " fill ranges");
  const std::size_t n = x.size();
  const cohort::JoinPairs want = cohort::cpu::join_cpu(grid, x.data(), y.data(), n, first);
  std::vector<std::uint64_t> counts;
  const cohort::JoinPairs got = emulated_join(cohort::host_view(grid), x, y, first, cuts, base, counts);
  std::vector<std::uint64_t> want_counts(n + 1, 0);
  for (const std::uint64_t p : want.point) ++want_counts[p];
  EXPECT_TRUE(counts == want_counts) << "join_count differs from the CPU join's pairs per point";
  const auto matched = std::count_if(want_counts.begin(), want_counts.end(), [](std::uint64_t c) { return c > 0; });
  if (!first) {
    EXPECT_GT(want.size(), static_cast<std::size_t>(matched)) << "no point in two features: the test lost its overlaps";
  }
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i)
    ASSERT_TRUE(got.point[i] == base + want.point[i] && got.feature[i] == want.feature[i])
        << "pair " << i << ": (" << got.point[i] << ", " << got.feature[i] << "), want (" << base + want.point[i]
        << ", " << want.feature[i] << ")";
}

TEST(JoinEmulation, CountScanFillGiveTheCpuJoinsPairs) {
  for (const unsigned seed : {1u, 2u}) {
    const cohort::PolygonSet polygons = make_polygons(seed);
    std::vector<double> x, y;
    const std::size_t far = make_points(polygons, seed + 100, x, y);
    const std::size_t n = x.size();
    for (const std::int64_t cells : {std::int64_t{0}, std::int64_t{7}, std::int64_t{5000}}) {
      SCOPED_TRACE("seed " + std::to_string(seed) + ", cells " + std::to_string(cells));
      const cohort::JoinGrid grid = cohort::build_join_grid(polygons, cells);
      for (const bool first : {false, true}) {
        check_join(grid, x, y, first, 0, {});
        // Ranges of one point, of points without pairs (the far ones) and long ones.
        check_join(grid, x, y, first, (std::uint64_t{1} << 32) + 5, {1, 2, far, far + 4, n - 1});
      }
    }
  }
}

TEST(JoinEmulation, NoPointsGiveNoPairs) {
  const cohort::JoinGrid grid = cohort::build_join_grid(make_polygons(3));
  std::vector<std::uint64_t> counts;
  const cohort::JoinPairs pairs = emulated_join(cohort::host_view(grid), {}, {}, false, {}, 0, counts);
  EXPECT_EQ(pairs.size(), 0u);
  EXPECT_EQ(counts, std::vector<std::uint64_t>{0});
}

}  // namespace
