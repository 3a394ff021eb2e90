/*
 * test_join.cpp: the point-in-polygon join.
 *   JoinElement*  the boundary rule on hand-checked cases (unit squares, shared edges)
 *   JoinGrid*     grid answer == brute force over all edges, for every point, on random
 *                 polygon sets and adversarial points, many grid resolutions and offsets
 *   JoinRule*     tilings: every point inside the tiling belongs to exactly one tile
 *   JoinRead*     polygon / point readers: formats, ids, every malformed case
 *   JoinFiles*    join_files and the CLI: chunked == whole, counts, nothing written on error
 *   JoinCuda*     CUDA == CPU (skipped without a device)
 * Results are integers (pairs), so every comparison is exact. Seeds are printed on failure.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cohort/error.hpp"
#include "cohort/geometry.hpp"
#include "cohort/join.hpp"
#include "cohort/npy.hpp"
#include "host/cpu/join_grid.hpp"
#include "kernels/join_element.hpp"
#include "test_util.hpp"

namespace cohort {
namespace {

using testing::TempDir;
using testing::read_file;
using testing::run_cli;
using testing::write_file;

constexpr double kPi = 3.14159265358979323846;

// ---------------------------------------------------------------- reference

// Brute force, written independently of join_element.hpp: even-odd over every ring edge
// of the feature, the documented half-open rule with canonical endpoint order.
bool reference_inside(const PolygonSet& s, std::size_t f, double px, double py) {
  bool inside = false;
  for (auto p = s.feature_polygon_offsets[f]; p < s.feature_polygon_offsets[f + 1]; ++p)
    for (auto r = s.polygon_ring_offsets[p]; r < s.polygon_ring_offsets[p + 1]; ++r) {
      const auto b = s.ring_offsets[r], e = s.ring_offsets[r + 1];
      for (auto i = b; i < e; ++i) {
        const auto j = (i + 1 == e) ? b : i + 1;
        if ((s.y[i] > py) == (s.y[j] > py)) continue;
        const bool i_low = s.y[i] < s.y[j];
        const double lx = i_low ? s.x[i] : s.x[j], ly = i_low ? s.y[i] : s.y[j];
        const double hx = i_low ? s.x[j] : s.x[i], hy = i_low ? s.y[j] : s.y[i];
        const double a = (hx - lx) * (py - ly);
        const double c = (px - lx) * (hy - ly);
        if (a - c > 0.0) inside = !inside;
      }
    }
  return inside;
}

JoinPairs reference_join(const PolygonSet& s, const std::vector<double>& x, const std::vector<double>& y,
                         bool first) {
  JoinPairs out;
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t f = 0; f < s.features(); ++f)
      if (reference_inside(s, f, x[i], y[i])) {
        out.point.push_back(i);
        out.feature.push_back(static_cast<std::uint32_t>(f));
        if (first) break;
      }
  return out;
}

// ---------------------------------------------------------------- generators

using Rng = std::mt19937_64;
double uniform(Rng& rng, double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }

struct Ring {
  std::vector<double> x, y;
};

Ring radial_ring(Rng& rng, double cx, double cy, double r_min, double r_max, int n, bool sorted_random_angles) {
  Ring ring;
  std::vector<double> angles(n);
  for (int k = 0; k < n; ++k)
    angles[k] = sorted_random_angles ? uniform(rng, 0, 2 * kPi) : 2 * kPi * k / n;
  std::sort(angles.begin(), angles.end());
  for (int k = 0; k < n; ++k) {
    const double r = uniform(rng, r_min, r_max);
    ring.x.push_back(cx + r * std::cos(angles[k]));
    ring.y.push_back(cy + r * std::sin(angles[k]));
  }
  if (rng() % 2) {  // random orientation
    std::reverse(ring.x.begin(), ring.x.end());
    std::reverse(ring.y.begin(), ring.y.end());
  }
  if (rng() % 2) {  // closed or not
    ring.x.push_back(ring.x[0]);
    ring.y.push_back(ring.y[0]);
  }
  return ring;
}

// Random polygon set in [0, scale]^2 shifted by (ox, oy): convex, star, concave, holes,
// MultiPolygons, slivers, overlapping, one big many-vertex polygon.
PolygonSet random_polygons(Rng& rng, int count, double scale, double ox, double oy) {
  PolygonSet s;
  for (int i = 0; i < count; ++i) {
    const int kind = static_cast<int>(rng() % 6);
    const double cx = ox + uniform(rng, 0, scale), cy = oy + uniform(rng, 0, scale);
    const double r = scale * uniform(rng, 0.02, 0.2);
    auto add = [&](const Ring& ring) { s.add_ring(ring.x, ring.y); };
    switch (kind) {
      case 0:  // convex
        add(radial_ring(rng, cx, cy, r, r, 3 + static_cast<int>(rng() % 12), true));
        s.end_polygon();
        break;
      case 1:  // star / concave
        add(radial_ring(rng, cx, cy, 0.2 * r, r, 5 + static_cast<int>(rng() % 40), false));
        s.end_polygon();
        break;
      case 2:  // shell with holes
        add(radial_ring(rng, cx, cy, 0.8 * r, r, 8 + static_cast<int>(rng() % 20), false));
        add(radial_ring(rng, cx - 0.3 * r, cy, 0.1 * r, 0.25 * r, 3 + static_cast<int>(rng() % 8), true));
        add(radial_ring(rng, cx + 0.35 * r, cy, 0.1 * r, 0.3 * r, 4 + static_cast<int>(rng() % 8), false));
        s.end_polygon();
        break;
      case 3:  // MultiPolygon of 2-3 parts
        for (int part = 0; part < 2 + static_cast<int>(rng() % 2); ++part) {
          add(radial_ring(rng, ox + uniform(rng, 0, scale), oy + uniform(rng, 0, scale), 0.3 * r, r,
                          3 + static_cast<int>(rng() % 10), false));
          s.end_polygon();
        }
        break;
      case 4: {  // thin sliver
        const double len = scale * uniform(rng, 0.1, 0.8), th = uniform(rng, 0, 2 * kPi);
        const double w = scale * 1e-7;
        Ring ring;
        ring.x = {cx, cx + len * std::cos(th), cx + len * std::cos(th) - w * std::sin(th)};
        ring.y = {cy, cy + len * std::sin(th), cy + len * std::sin(th) + w * std::cos(th)};
        add(ring);
        s.end_polygon();
        break;
      }
      default: {  // axis-aligned rectangle (edges on round coordinates, horizontal edges)
        const double w = r, h = r * uniform(rng, 0.3, 2);
        Ring ring;
        ring.x = {cx, cx + w, cx + w, cx};
        ring.y = {cy, cy, cy + h, cy + h};
        add(ring);
        s.end_polygon();
      }
    }
    s.end_feature("f" + std::to_string(i));
  }
  // One polygon spanning the whole extent with many vertices (thousands of cells).
  const Ring big = radial_ring(rng, ox + scale / 2, oy + scale / 2, 0.3 * scale, 0.6 * scale, 1500, false);
  s.add_ring(big.x, big.y);
  s.end_polygon();
  s.end_feature("big");
  return s;
}

// Adversarial points: uniform, clustered near vertices, exactly on vertices, on edges,
// on horizontal lines through vertices, on grid cell borders, outside and far away.
void random_points(Rng& rng, const PolygonSet& s, const JoinGrid& g, double scale, double ox, double oy,
                   std::size_t n, std::vector<double>& x, std::vector<double>& y) {
  const std::size_t nv = s.vertices();
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t v = rng() % nv, w = rng() % nv;
    double px = 0, py = 0;
    switch (rng() % 9) {
      case 0:
      case 1:
        px = ox + uniform(rng, -0.1, 1.1) * scale;
        py = oy + uniform(rng, -0.1, 1.1) * scale;
        break;
      case 2:
        px = s.x[v] + std::normal_distribution<double>(0, scale * 1e-7)(rng);
        py = s.y[v] + std::normal_distribution<double>(0, scale * 1e-7)(rng);
        break;
      case 3:
        px = s.x[v];
        py = s.y[v];
        break;
      case 4: {  // on (or within an ulp of) the edge v -> v+1 of its ring
        std::size_t r = 0;
        while (s.ring_offsets[r + 1] <= v) ++r;
        const std::size_t u = (v + 1 == s.ring_offsets[r + 1]) ? s.ring_offsets[r] : v + 1;
        const double t = (rng() % 3 == 0) ? 0.5 : uniform(rng, 0, 1);
        px = s.x[v] + t * (s.x[u] - s.x[v]);
        py = s.y[v] + t * (s.y[u] - s.y[v]);
        break;
      }
      case 5:
        px = s.x[w];
        py = s.y[v];
        break;
      case 6: {  // cell borders and corners
        const double c = static_cast<double>(rng() % static_cast<std::uint64_t>(g.cols + 1));
        const double r = static_cast<double>(rng() % static_cast<std::uint64_t>(g.rows + 1));
        px = (rng() % 2) ? g.x0 + c / g.inv_w : ox + uniform(rng, 0, scale);
        py = (rng() % 2) ? g.y0 + r / g.inv_h : s.y[v];
        break;
      }
      case 7:
        px = ox + uniform(rng, -1e6, 1e6) * scale;
        py = oy + uniform(rng, -1e6, 1e6) * scale;
        break;
      default:
        px = std::nextafter(s.x[v], (rng() % 2) ? 1e300 : -1e300);
        py = std::nextafter(s.y[v], (rng() % 2) ? 1e300 : -1e300);
    }
    x.push_back(px);
    y.push_back(py);
  }
}

void expect_same(const JoinPairs& got, const JoinPairs& want, const std::string& context) {
  ASSERT_EQ(got.size(), want.size()) << context;
  for (std::size_t k = 0; k < got.size(); ++k) {
    ASSERT_EQ(got.point[k], want.point[k]) << context << " pair " << k;
    ASSERT_EQ(got.feature[k], want.feature[k]) << context << " pair " << k << " point " << got.point[k];
  }
}

PolygonSet squares_ab() {  // A = [0,1]^2, B = [1,2]x[0,1]
  PolygonSet s;
  s.add_ring({0, 1, 1, 0}, {0, 0, 1, 1});
  s.end_polygon();
  s.end_feature("A");
  s.add_ring({1, 1, 2, 2}, {0, 1, 1, 0});  // other orientation
  s.end_polygon();
  s.end_feature("B");
  return s;
}

JoinOptions cpu_options(bool first = false) {
  JoinOptions o;
  o.device = Device::Cpu;
  o.first = first;
  return o;
}

// ---------------------------------------------------------------- JoinElement

TEST(JoinElement, RayCrossingHalfOpenRule) {
  const double up[4] = {1, 0, 1, 1};  // x = 1 from y = 0 to 1
  EXPECT_TRUE(join_ray_crosses(up, 0.5, 0.5));
  EXPECT_FALSE(join_ray_crosses(up, 1.0, 0.5));  // on the edge: not a crossing
  EXPECT_FALSE(join_ray_crosses(up, 1.5, 0.5));
  EXPECT_TRUE(join_ray_crosses(up, 0.5, 0.0));   // lower endpoint's y included
  EXPECT_FALSE(join_ray_crosses(up, 0.5, 1.0));  // upper endpoint's y excluded
}

TEST(JoinElement, UnitSquareBoundaries) {
  const PolygonSet s = squares_ab();
  const JoinGrid grid = build_join_grid(s);
  auto owners = [&](double px, double py) {
    std::vector<double> x{px}, y{py};
    const JoinPairs pairs = join_points(grid, x.data(), y.data(), 1, cpu_options());
    return std::vector<std::uint32_t>(pairs.feature.begin(), pairs.feature.end());
  };
  using V = std::vector<std::uint32_t>;
  EXPECT_EQ(owners(0.5, 0.5), V{0});
  EXPECT_EQ(owners(0.0, 0.5), V{0});   // left edge: inside
  EXPECT_EQ(owners(0.5, 0.0), V{0});   // bottom edge: inside
  EXPECT_EQ(owners(0.5, 1.0), V{});    // top edge: outside
  EXPECT_EQ(owners(1.0, 0.5), V{1});   // shared edge: exactly one owner (B)
  EXPECT_EQ(owners(1.0, 0.0), V{1});   // shared bottom vertex
  EXPECT_EQ(owners(0.0, 0.0), V{0});   // lower-left vertex
  EXPECT_EQ(owners(2.0, 0.5), V{});    // B's right edge
  EXPECT_EQ(owners(-5.0, 0.5), V{});
  EXPECT_EQ(owners(1e300, -1e300), V{});
}

// ---------------------------------------------------------------- JoinGrid

struct GridCase {
  std::uint64_t seed;
  double scale, ox, oy;
  std::int64_t cells;
};

void check_grid_against_reference(const GridCase& c) {
  Rng rng(c.seed);
  const PolygonSet s = random_polygons(rng, 24, c.scale, c.ox, c.oy);
  const JoinGrid grid = build_join_grid(s, c.cells);
  std::vector<double> x, y;
  random_points(rng, s, grid, c.scale, c.ox, c.oy, 6000, x, y);
  const std::string context = "seed " + std::to_string(c.seed) + " scale " + std::to_string(c.scale) +
                              " offset " + std::to_string(c.ox) + " cells " + std::to_string(c.cells) + " grid " +
                              std::to_string(grid.cols) + "x" + std::to_string(grid.rows);
  for (bool first : {false, true}) {
    const JoinPairs got = join_points(grid, x.data(), y.data(), x.size(), cpu_options(first));
    const JoinPairs want = reference_join(s, x, y, first);
    expect_same(got, want, context + (first ? " first" : ""));
    if (!first) {
      EXPECT_GT(want.size(), 100u) << context;  // the test must exercise matches
    }
  }
}

TEST(JoinGrid, MatchesBruteForceUnitScale) {
  for (std::uint64_t seed : {1, 2, 3})
    for (std::int64_t cells : {0, 1, 17, 2000, 300000}) check_grid_against_reference({seed, 1.0, 0, 0, cells});
}

TEST(JoinGrid, MatchesBruteForceLonLat) {
  for (std::uint64_t seed : {11, 12})
    for (std::int64_t cells : {0, 50000}) check_grid_against_reference({seed, 0.3, -73.99, 40.7, cells});
}

TEST(JoinGrid, MatchesBruteForceProjectedMillions) {
  for (std::uint64_t seed : {21, 22})
    for (std::int64_t cells : {0, 5000, 1000000}) check_grid_against_reference({seed, 30000.0, 2.5e6, 6.1e6, cells});
}

// Vertices and points on grid lines and one ulp either side: the clipping tolerance
// and the monotone cell arithmetic are what keep these exact.
TEST(JoinGrid, VerticesAndPointsOnCellLines) {
  for (std::uint64_t seed : {61, 62, 63}) {
    Rng rng(seed);
    const double ox = seed == 63 ? 3.3e6 : 0.0, scale = seed == 63 ? 1e4 : 1.0;
    PolygonSet s;
    s.add_ring({ox, ox + scale, ox + scale, ox}, {ox, ox, ox + scale, ox + scale});
    s.end_polygon();
    s.end_feature("frame");
    const std::int64_t cells = 144;
    const JoinGrid probe = build_join_grid(s, cells);
    auto line = [&](bool is_x) {
      const double v = is_x ? probe.x0 + static_cast<double>(rng() % (probe.cols + 1)) / probe.inv_w
                            : probe.y0 + static_cast<double>(rng() % (probe.rows + 1)) / probe.inv_h;
      const int wiggle = static_cast<int>(rng() % 5) - 2;  // -2..2 ulps
      double w = v;
      for (int k = 0; k < std::abs(wiggle); ++k) w = std::nextafter(w, wiggle > 0 ? 1e300 : -1e300);
      return std::min(std::max(w, ox), ox + scale);
    };
    for (int f = 0; f < 40; ++f) {
      std::vector<double> rx, ry;
      const int n = 3 + static_cast<int>(rng() % 6);
      for (int k = 0; k < n; ++k) {
        rx.push_back(line(true));
        ry.push_back(line(false));
      }
      if (!ring_problem(rx, ry).empty()) continue;
      s.add_ring(rx, ry);
      s.end_polygon();
      s.end_feature("g" + std::to_string(f));
    }
    const JoinGrid grid = build_join_grid(s, cells);
    ASSERT_EQ(grid.x0, probe.x0);
    ASSERT_EQ(grid.inv_w, probe.inv_w);
    ASSERT_EQ(grid.inv_h, probe.inv_h);
    std::vector<double> x, y;
    for (int i = 0; i < 40000; ++i) {
      x.push_back(rng() % 4 ? line(true) : ox + uniform(rng, 0, scale));
      y.push_back(rng() % 4 ? line(false) : s.y[rng() % s.vertices()]);
    }
    expect_same(join_points(grid, x.data(), y.data(), x.size(), cpu_options()), reference_join(s, x, y, false),
                "seed " + std::to_string(seed));
  }
}

// One very detailed polygon spanning the extent among small ones: the automatic grid must
// stay within its memory bound (edge references per edge) and still be exact.
TEST(JoinGrid, DetailedPolygonKeepsMemoryBounded) {
  Rng rng(71);
  PolygonSet s;
  Ring big;  // a wiggly coastline-like outline: short edges, 200k vertices
  for (int k = 0; k < 200000; ++k) {
    const double t = 2 * kPi * k / 200000;
    const double r = 0.35 + 0.1 * std::sin(7 * t) + 0.03 * std::sin(331 * t) + uniform(rng, 0, 1e-4);
    big.x.push_back(0.5 + r * std::cos(t));
    big.y.push_back(0.5 + r * std::sin(t));
  }
  s.add_ring(big.x, big.y);
  s.end_polygon();
  s.end_feature("detailed");
  for (int i = 0; i < 300; ++i) {
    const double cx = uniform(rng, 0, 1), cy = uniform(rng, 0, 1), r = 0.002;
    s.add_ring({cx - r, cx + r, cx + r, cx - r}, {cy - r, cy - r, cy + r, cy + r});
    s.end_polygon();
    s.end_feature("s" + std::to_string(i));
  }
  const JoinGrid grid = build_join_grid(s);
  const double edges = 200000.0 + 300 * 2;
  EXPECT_LT(static_cast<double>(grid.edge_count), 64 * edges + (1 << 20)) << grid.cols << "x" << grid.rows;
  std::vector<double> x, y;
  random_points(rng, s, grid, 1.0, 0, 0, 400, x, y);
  expect_same(join_points(grid, x.data(), y.data(), x.size(), cpu_options()), reference_join(s, x, y, false),
              "seed 71");
}

TEST(JoinGrid, LargeOverlappingPolygonsKeepEntriesBounded) {
  // 200 overlapping 20-gons, each box a seventh of the extent: few edges, but every cell
  // a polygon covers holds an entry, so the cell count must give way to the budget.
  Rng rng(72);
  PolygonSet s;
  for (int i = 0; i < 200; ++i) {
    const double cx = uniform(rng, 0, 1), cy = uniform(rng, 0, 1);
    std::vector<double> rx, ry;
    for (int k = 0; k < 20; ++k) {
      rx.push_back(cx + 0.3 * std::cos(2 * kPi * k / 20));
      ry.push_back(cy + 0.3 * std::sin(2 * kPi * k / 20));
    }
    s.add_ring(rx, ry);
    s.end_polygon();
    s.end_feature("z" + std::to_string(i));
  }
  const JoinGrid grid = build_join_grid(s);
  EXPECT_LT(static_cast<double>(grid.entry_count), 64.0 * 200 * 20 + (1 << 21)) << grid.cols << "x" << grid.rows;
  std::vector<double> x, y;
  random_points(rng, s, grid, 1.0, 0, 0, 2000, x, y);
  expect_same(join_points(grid, x.data(), y.data(), x.size(), cpu_options()), reference_join(s, x, y, false),
              "seed 72");
}

TEST(JoinGrid, EmptyAndTinyInputs) {
  const PolygonSet s = squares_ab();
  const JoinGrid grid = build_join_grid(s);
  EXPECT_EQ(join_points(grid, nullptr, nullptr, 0, cpu_options()).size(), 0u);
  std::vector<double> x{0.5, std::nan("")}, y{0.5, 0.5};
  EXPECT_THROW(join_points(grid, x.data(), y.data(), 2, cpu_options()), InvalidInput);
}

// The CPU backend checks coordinates while it joins: the error names the first bad point
// whichever block it is in; huge finite coordinates are no error (and outside).
TEST(JoinGrid, NonFinitePointNamedFirstHugeFiniteOutside) {
  const PolygonSet s = squares_ab();
  const JoinGrid grid = build_join_grid(s);
  std::vector<double> x(100000, 0.5), y(100000, 0.5);
  x[3] = 1e308, y[4] = -1e308, x[5] = std::numeric_limits<double>::max();
  const JoinPairs ok = join_points(grid, x.data(), y.data(), x.size(), cpu_options());
  EXPECT_EQ(ok.size(), x.size() - 3);
  y[90000] = std::numeric_limits<double>::infinity();
  x[70001] = std::nan("");
  y[99999] = -std::numeric_limits<double>::infinity();
  try {
    join_points(grid, x.data(), y.data(), x.size(), cpu_options());
    ADD_FAILURE() << "no error";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("point 70001 has a NaN or infinite coordinate"), std::string::npos) << e.what();
  }
}

TEST(JoinGrid, ManyBlocksOfPoints) {  // more points than one CPU block, order kept
  const PolygonSet s = squares_ab();
  const JoinGrid grid = build_join_grid(s, 64);
  Rng rng(5);
  std::vector<double> x, y;
  for (int i = 0; i < 100000; ++i) {
    x.push_back(uniform(rng, -0.5, 2.5));
    y.push_back(uniform(rng, -0.5, 1.5));
  }
  expect_same(join_points(grid, x.data(), y.data(), x.size(), cpu_options()), reference_join(s, x, y, false),
              "seed 5");
}

// The grid's layout: occupancy words and ranks, record offsets, and records that parse
// exactly into entries (features increasing within a cell) and edges.
TEST(JoinGrid, RecordsParseIntoEntriesByRank) {
  for (std::uint64_t seed : {81, 82})
    for (std::int64_t cells : {0, 1, 31, 33, 1000, 100000}) {
      Rng rng(seed);
      const PolygonSet s = random_polygons(rng, 24, 1.0, 0, 0);
      const JoinGrid g = build_join_grid(s, cells);
      const std::string context = "seed " + std::to_string(seed) + " cells " + std::to_string(cells);
      const std::size_t ncells = static_cast<std::size_t>(g.cols) * g.rows;
      ASSERT_EQ(g.occupied.size(), (ncells + 31) / 32) << context;
      std::uint64_t rank = 0, entries = 0, edges = 0;
      for (std::size_t c = 0; c < ncells; ++c) {
        const JoinCellWord w = g.occupied[c / 32];
        if (c % 32 == 0) {
          EXPECT_EQ(w.rank, rank) << context << " cell " << c;
        }
        if (!((w.bits >> (c % 32)) & 1u)) continue;
        ASSERT_EQ(join_rank(w, static_cast<std::uint32_t>(c % 32)), rank) << context << " cell " << c;
        const std::uint64_t begin = g.cell_offsets[rank], end = g.cell_offsets[rank + 1];
        ASSERT_LT(begin, end) << context << " cell " << c;
        std::int64_t last_feature = -1;
        for (std::uint64_t k = begin; k < end;) {
          const std::uint64_t header = join_header(g.records[k]);
          const std::uint32_t feature = static_cast<std::uint32_t>(header);
          const std::uint32_t count = static_cast<std::uint32_t>(header >> 32) & kJoinCountMask;
          EXPECT_GT(static_cast<std::int64_t>(feature), last_feature) << context << " cell " << c;
          EXPECT_LT(feature, s.features()) << context;
          last_feature = feature;
          for (std::uint32_t j = 0; j < count; ++j)
            EXPECT_LT(g.records[k + 1 + 4 * j + 1], g.records[k + 1 + 4 * j + 3]) << context;  // lo.y < hi.y
          k += 1 + 4 * std::uint64_t(count);
          ASSERT_LE(k, end) << context << " cell " << c;
          ++entries;
          edges += count;
        }
        ++rank;
      }
      for (std::size_t c = ncells; c < 32 * g.occupied.size(); ++c)
        EXPECT_FALSE((g.occupied[c / 32].bits >> (c % 32)) & 1u) << context;
      EXPECT_EQ(g.cell_offsets.size(), rank + 1) << context;
      EXPECT_EQ(g.records.size(), g.cell_offsets.back()) << context;
      EXPECT_EQ(entries, g.entry_count) << context;
      EXPECT_EQ(edges, g.edge_count) << context;
      EXPECT_GT(entries, 0u) << context;
    }
}

// Record offsets are 32-bit: a grid whose records would outgrow them is coarsened when
// automatic (and still exact) and an error when the cell count was given.
TEST(JoinGrid, RecordLimitCoarsensAutomaticGridRejectsExplicit) {
  Rng rng(85);
  const PolygonSet s = random_polygons(rng, 24, 1.0, 0, 0);
  const JoinGrid full = build_join_grid(s);
  const std::uint64_t limit = full.records.size() / 3;
  const JoinGrid small = build_join_grid_capped(s, 0, limit);
  EXPECT_LE(small.records.size(), limit);
  EXPECT_LT(std::int64_t(small.cols) * small.rows, std::int64_t(full.cols) * full.rows);
  std::vector<double> x, y;
  random_points(rng, s, small, 1.0, 0, 0, 3000, x, y);
  expect_same(join_points(small, x.data(), y.data(), x.size(), cpu_options()), reference_join(s, x, y, false),
              "seed 85 capped");
  EXPECT_THROW(build_join_grid_capped(s, std::int64_t(full.cols) * full.rows, limit), InvalidInput);
  EXPECT_THROW(build_join_grid_capped(s, 0, 10), InvalidInput);  // not even one cell fits
  EXPECT_EQ(build_join_grid_capped(s, 0, full.records.size()).records, full.records);  // exactly fits: unchanged
}

// join_point, the CUDA kernel's per-point function, run on the host: the same pairs as
// the CPU backend's grouped steps and as brute force.
TEST(JoinGrid, JoinPointEqualsGroupedCpuAndReference) {
  for (std::uint64_t seed : {91, 92})
    for (std::int64_t cells : {0, 40, 300000}) {
      Rng rng(seed);
      const PolygonSet s = random_polygons(rng, 24, 1.0, 0, 0);
      const JoinGrid g = build_join_grid(s, cells);
      std::vector<double> x, y;
      random_points(rng, s, g, 1.0, 0, 0, 5000, x, y);
      const std::string context = "seed " + std::to_string(seed) + " cells " + std::to_string(cells);
      const JoinGridView view = host_view(g);
      for (bool first : {false, true}) {
        JoinPairs direct;
        for (std::size_t i = 0; i < x.size(); ++i)
          join_point(view, x[i], y[i], first, [&](std::uint32_t f) {
            direct.point.push_back(i);
            direct.feature.push_back(f);
          });
        expect_same(direct, join_points(g, x.data(), y.data(), x.size(), cpu_options(first)), context);
        expect_same(direct, reference_join(s, x, y, first), context);
      }
    }
}

TEST(JoinElement, PopcountAndRank) {
  Rng rng(93);
  std::vector<std::uint32_t> values{0u, 1u, 0x80000000u, 0xffffffffu, 0x55555555u, 0xaaaaaaaau, 0x7fffffffu};
  for (int i = 0; i < 1000; ++i) values.push_back(static_cast<std::uint32_t>(rng()));
  for (std::uint32_t v : values) {
    int want = 0;
    for (int b = 0; b < 32; ++b) want += (v >> b) & 1u;
    ASSERT_EQ(join_popcount(v), static_cast<std::uint32_t>(want)) << "value " << v;
    for (std::uint32_t bit = 0; bit < 32; ++bit) {
      std::uint64_t below = 0;
      for (std::uint32_t b = 0; b < bit; ++b) below += (v >> b) & 1u;
      ASSERT_EQ(join_rank(JoinCellWord{v, 4000000000u}, bit), 4000000000u + below) << "value " << v << " bit " << bit;
    }
  }
}

// ---------------------------------------------------------------- JoinRule

// A jittered lattice of quads (or triangles) sharing edges and vertices exactly.
PolygonSet tiling(Rng& rng, int n, bool triangles, double ox, double oy, double cell) {
  std::vector<double> vx((n + 1) * (n + 1)), vy((n + 1) * (n + 1));
  for (int i = 0; i <= n; ++i)
    for (int j = 0; j <= n; ++j) {
      vx[i * (n + 1) + j] = ox + cell * (i + uniform(rng, -0.3, 0.3));
      vy[i * (n + 1) + j] = oy + cell * (j + uniform(rng, -0.3, 0.3));
    }
  PolygonSet s;
  auto v = [&](int i, int j) { return i * (n + 1) + j; };
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const int a = v(i, j), b = v(i + 1, j), c = v(i + 1, j + 1), d = v(i, j + 1);
      if (triangles) {
        s.add_ring({vx[a], vx[b], vx[c]}, {vy[a], vy[b], vy[c]});
        s.end_polygon();
        s.end_feature("t" + std::to_string(i) + "_" + std::to_string(j) + "a");
        s.add_ring({vx[a], vx[d], vx[c]}, {vy[a], vy[d], vy[c]});  // opposite orientation
        s.end_polygon();
        s.end_feature("t" + std::to_string(i) + "_" + std::to_string(j) + "b");
      } else {
        s.add_ring({vx[a], vx[b], vx[c], vx[d]}, {vy[a], vy[b], vy[c], vy[d]});
        s.end_polygon();
        s.end_feature("q" + std::to_string(i) + "_" + std::to_string(j));
      }
    }
  return s;
}

TEST(JoinRule, SharedEdgesAndVerticesHaveExactlyOneOwner) {
  for (std::uint64_t seed : {31, 32, 33})
    for (bool triangles : {false, true}) {
      Rng rng(seed);
      const int n = 12;
      const double cell = seed == 33 ? 250.0 : 0.01, ox = seed == 33 ? 4.5e6 : -122.4, oy = seed == 33 ? 1.2e6 : 37.7;
      const PolygonSet s = tiling(rng, n, triangles, ox, oy, cell);
      const JoinGrid grid = build_join_grid(s);
      std::vector<double> x, y;
      // Interior lattice vertices, points on interior edges, random interior points.
      for (std::size_t f = 0; f < s.features(); ++f)
        for (auto i = s.ring_offsets[f]; i < s.ring_offsets[f + 1]; ++i) {
          const auto j = (i + 1 == s.ring_offsets[f + 1]) ? s.ring_offsets[f] : i + 1;
          for (double t : {0.0, 0.5, uniform(rng, 0, 1), uniform(rng, 0, 1)}) {
            x.push_back(s.x[i] + t * (s.x[j] - s.x[i]));
            y.push_back(s.y[i] + t * (s.y[j] - s.y[i]));
          }
        }
      // Keep points well inside the tiling (its outer boundary has one owner side only).
      std::vector<double> ix, iy;
      for (std::size_t k = 0; k < x.size(); ++k)
        if (x[k] > ox + 1.5 * cell && x[k] < ox + (n - 1.5) * cell && y[k] > oy + 1.5 * cell &&
            y[k] < oy + (n - 1.5) * cell) {
          ix.push_back(x[k]);
          iy.push_back(y[k]);
        }
      ASSERT_GT(ix.size(), 500u);
      const JoinPairs pairs = join_points(grid, ix.data(), iy.data(), ix.size(), cpu_options());
      std::vector<int> owners(ix.size(), 0);
      for (auto p : pairs.point) ++owners[p];
      for (std::size_t k = 0; k < ix.size(); ++k)
        ASSERT_EQ(owners[k], 1) << "seed " << seed << (triangles ? " triangles" : " quads") << " point (" << ix[k]
                                << ", " << iy[k] << ")";
      expect_same(pairs, reference_join(s, ix, iy, false), "seed " + std::to_string(seed));
    }
}

// ---------------------------------------------------------------- JoinRead

TEST(JoinRead, WktCsvPolygonsMultiPolygonsHolesAndIds) {
  TempDir dir;
  const std::string path = dir.file("p.csv");
  // Ids pass through byte for byte (latin-1 byte 0xE9, quotes, commas).
  write_file(path,
             "store_id,name,category,wkt\n"
             "\"caf\xE9, \"\"x\"\"\",n,c,\"POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 2))\"\n"
             "s2,n,c,\"multipolygon(((10 10,11 10,11 11)),((20 20,21 20,21 21,20 20)))\"\n"
             "s3,n,c,\"POLYGON((1e6 2e6,1.5e6 2e6,1.5e6 2.5e6))\"\n");
  const PolygonReadResult r = read_polygons(path);
  ASSERT_EQ(r.polygons.features(), 3u);
  EXPECT_EQ(r.polygons.ids[0], "caf\xE9, \"x\"");
  EXPECT_EQ(r.polygons.ids[1], "s2");
  EXPECT_EQ(r.polygons.polygons(), 4u);
  EXPECT_EQ(r.polygons.rings(), 5u);
  EXPECT_EQ(r.polygons.vertices(), 4u + 4 + 3 + 3 + 3);  // closing vertices dropped
  EXPECT_EQ(r.polygons.x[14], 1e6);
  const JoinGrid grid = build_join_grid(r.polygons);
  std::vector<double> x{0.5, 1.5, 10.9, 20.9, 1.1e6}, y{0.5, 1.5, 10.5, 20.5, 2.01e6};
  const JoinPairs pairs = join_points(grid, x.data(), y.data(), x.size(), cpu_options());
  EXPECT_EQ(pairs.point, (std::vector<std::uint64_t>{0, 2, 3, 4}));  // 1.5,1.5 is in the hole
  EXPECT_EQ(pairs.feature, (std::vector<std::uint32_t>{0, 1, 1, 2}));
  PolygonSet repeated;  // repeated vertices are fine while 3 are distinct
  EXPECT_NO_THROW(parse_wkt_feature("POLYGON ((0 0, 1 0, 1 1, 1 1, 0 0))", "r", repeated));
  EXPECT_EQ(repeated.vertices(), 4u);
}

TEST(JoinRead, GeoJsonFeatureCollection) {
  TempDir dir;
  const std::string path = dir.file("p.geojson");
  write_file(path, R"({"type":"FeatureCollection","features":[
    {"type":"Feature","properties":{"store_id":"a\u00e9","n":1},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},
    {"type":"Feature","properties":{"store_id":17},"geometry":{"type":"MultiPolygon","coordinates":[[[[2,2],[3,2],[3,3]]],[[[5,5],[6,5],[6,6]]]]}},
    {"type":"Feature","id":"top","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0,9],[1,0,9],[1,1,9]]]}}
  ]})");
  const PolygonReadResult r = read_polygons(path);
  ASSERT_EQ(r.polygons.features(), 3u);
  EXPECT_EQ(r.polygons.ids[0], "a\xC3\xA9");
  EXPECT_EQ(r.polygons.ids[1], "17");
  EXPECT_EQ(r.polygons.ids[2], "top");
  EXPECT_EQ(r.polygons.polygons(), 4u);
  PolygonReadOptions by_name;
  by_name.id_column = "n";
  EXPECT_THROW(read_polygons(path, by_name), InvalidInput);  // feature 1 has no "n"
}

void expect_polygon_error(const std::string& name, const std::string& content, const std::string& where,
                          const std::string& what) {
  TempDir dir;
  const std::string path = dir.file(name);
  write_file(path, content);
  try {
    read_polygons(path);
    ADD_FAILURE() << "no error for " << content;
  } catch (const InvalidInput& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path + where), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
  }
  PolygonReadOptions skip;
  skip.skip_invalid = true;
  try {
    const PolygonReadResult r = read_polygons(path, skip);
    EXPECT_EQ(r.skipped, 1u) << content;
    EXPECT_EQ(r.polygons.features(), r.records - 1);
  } catch (const InvalidInput& e) {  // only when nothing valid is left
    EXPECT_NE(std::string(e.what()).find("no valid polygons"), std::string::npos) << e.what();
  }
}

TEST(JoinRead, MalformedWktRejectedWithLine) {
  const std::string head = "id,wkt\nok,\"POLYGON ((0 0, 1 0, 1 1))\"\n";
  expect_polygon_error("a.csv", head + "b,\"POLYGON ((0 0, 1 0, 1 1)\"\n", ":3", "expected ')'");
  expect_polygon_error("a.csv", head + "b,\"POLYGON ((0 0, 1 x, 1 1))\"\n", ":3", "expected a number");
  expect_polygon_error("a.csv", head + "b,\"POLYGON ((0 0, 1 0, 0 0))\"\n", ":3", "fewer than 3 distinct");
  expect_polygon_error("a.csv", head + "b,\"POLYGON ((0 0, nan 0, 1 1))\"\n", ":3", "NaN or infinite");
  expect_polygon_error("a.csv", head + "b,\"POLYGON ((0 0, inf 0, 1 1))\"\n", ":3", "NaN or infinite");
  expect_polygon_error("a.csv", head + "b,\"LINESTRING (0 0, 1 1)\"\n", ":3", "unknown geometry type");
  expect_polygon_error("a.csv", head + "b,\"POLYGON EMPTY\"\n", ":3", "empty geometry");
  expect_polygon_error("a.csv", head + "b,\"POLYGON Z ((0 0 1, 1 0 1, 1 1 1))\"\n", ":3", "2-d");
  expect_polygon_error("a.csv", head + "b,\"POLYGON ((0 0, 1 0, 1 1)) x\"\n", ":3", "after the geometry");
  expect_polygon_error("a.csv", head + "b,\n", ":3", "malformed WKT");
  expect_polygon_error("a.csv", head + "b\n", ":3", "expected 2 fields");  // ragged: skipped like the others
  expect_polygon_error("a.csv", head + "b,\"POLYGON ((0 0, 1 0, 1 1))\",x\n", ":3", "expected 2 fields");
}

TEST(JoinRead, MalformedGeoJsonRejectedWithFeature) {
  // A collection of a good feature and `bad`, on one line or (sep "\n") one per line.
  auto fc = [](const std::string& bad, const std::string& sep = "") {
    return R"({"type":"FeatureCollection","features":[)" + sep +
           R"({"type":"Feature","properties":{"id":1},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]}},)" +
           sep + bad + sep + "]}";
  };
  expect_polygon_error("a.geojson", fc(R"({"type":"Feature","geometry":{"type":"Point","coordinates":[0,0]}})"), "",
                       "feature 1: unknown geometry type 'Point'");
  expect_polygon_error("a.geojson", fc(R"({"type":"Feature","geometry":null})"), "", "feature 1: the feature has no geometry");
  expect_polygon_error("a.geojson",
                       fc(R"({"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0]]]}})"), "",
                       "feature 1: ring has fewer than 3 distinct");
  expect_polygon_error("a.geojson",
                       fc(R"({"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],["a",0],[1,1]]]}})"),
                       "", "feature 1: a coordinate is not a number");
  TempDir dir;
  write_file(dir.file("bad.geojson"), "{\"type\": [");
  EXPECT_THROW(read_polygons(dir.file("bad.geojson")), InvalidInput);
  // A syntax error: the DOM parser says what, an on-demand walk where (line and feature),
  // in a one-line file and in one feature per line; whole-file errors even with
  // skip_invalid.
  const std::string bad_number = R"({"type":"Feature","properties":{"id":2},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1e400,0],[1,1]]]}})";
  for (const auto& [content, where] : std::vector<std::pair<std::string, std::string>>{
           {fc(bad_number), "one.geojson:1: feature 1: not valid JSON"},
           {fc(bad_number, "\n"), "pretty.geojson:3: feature 1: not valid JSON"}}) {
    const std::string name = where.substr(0, where.find(':'));
    write_file(dir.file(name), content);
    PolygonReadOptions skip;
    skip.skip_invalid = true;
    for (const PolygonReadOptions& options : {PolygonReadOptions{}, skip}) {
      try {
        read_polygons(dir.file(name), options);
        ADD_FAILURE() << "read " << name;
      } catch (const InvalidInput& e) {
        EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
      }
    }
  }
  write_file(dir.file("latin1.geojson"), fc("{\"type\":\"Feature\",\"properties\":{\"id\":\"caf\xe9\"},\"geometry\":"
                                             "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1]]]}}"));
  try {
    read_polygons(dir.file("latin1.geojson"));
    ADD_FAILURE() << "a Latin-1 GeoJSON was read";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("UTF-8 (convert it"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_polygons(dir.file("missing.geojson")), InvalidInput);
  write_file(dir.file("p.txt"), "x");
  EXPECT_THROW(read_polygons(dir.file("p.txt")), InvalidInput);
}

TEST(JoinRead, PointsCsvDefaultsAndInvalid) {
  TempDir dir;
  const std::string path = dir.file("pings.csv");
  write_file(path, "ping_id,user_id,lon,lat,timestamp\np1,u,1.5,2.5,0\np2,u,,2,0\np3,u,nan,2,0\np4,u, 3 ,4,0\n"
                   "p5,u,1,1\np6,u,1,2,0\n");
  PointReadOptions options;
  {
    PointReader reader(path, options);
    PointChunk chunk;
    try {
      reader.next(chunk);
      ADD_FAILURE() << "missing coordinate accepted";
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find(path + ":3"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("missing coordinate"), std::string::npos) << e.what();
    }
  }
  options.skip_invalid = true;
  PointReader reader(path, options);
  PointChunk chunk;
  ASSERT_TRUE(reader.next(chunk));
  ASSERT_EQ(chunk.size(), 3u);
  EXPECT_EQ(chunk.id(0), "p1");
  EXPECT_EQ(chunk.id(1), "p4");
  EXPECT_EQ(chunk.x[1], 3.0);
  EXPECT_EQ(chunk.row[1], 3u);
  EXPECT_EQ(chunk.id(2), "p6");  // after the ragged p5 row, still its own record number
  EXPECT_EQ(chunk.row[2], 5u);
  EXPECT_EQ(reader.invalid(), 3u);
  EXPECT_NE(reader.first_problem().find(":3"), std::string::npos);
  EXPECT_FALSE(reader.next(chunk));
  PointReadOptions bad_column;
  bad_column.x_column = "nope";
  EXPECT_THROW(PointReader(path, bad_column), InvalidInput);
}

TEST(JoinRead, PointsNpy) {
  TempDir dir;
  const std::string path = dir.file("p.npy");
  const std::vector<float> xy{0.5f, 0.5f, 1.f, 2.f, NAN, 0.f};
  write_npy(path, xy.data(), {3, 2});
  PointReadOptions options;
  options.chunk_points = 2;
  PointReader strict(path, options);
  PointChunk chunk;
  ASSERT_TRUE(strict.next(chunk));
  EXPECT_EQ(chunk.size(), 2u);
  EXPECT_EQ(chunk.id(1), "1");
  EXPECT_THROW(strict.next(chunk), InvalidInput);
  options.skip_invalid = true;
  PointReader lenient(path, options);
  std::size_t total = 0;
  while (lenient.next(chunk)) total += chunk.size();
  EXPECT_EQ(total, 2u);
  EXPECT_EQ(lenient.invalid(), 1u);
}

// ---------------------------------------------------------------- JoinFiles

std::string polygons_csv(const PolygonSet& s) {
  std::string text = "id,name,wkt\n";
  for (std::size_t f = 0; f < s.features(); ++f) {
    text += s.ids[f] + ",n,\"MULTIPOLYGON (";
    for (auto p = s.feature_polygon_offsets[f]; p < s.feature_polygon_offsets[f + 1]; ++p) {
      text += p == s.feature_polygon_offsets[f] ? "(" : ", (";
      for (auto r = s.polygon_ring_offsets[p]; r < s.polygon_ring_offsets[p + 1]; ++r) {
        text += r == s.polygon_ring_offsets[p] ? "(" : ", (";
        for (auto i = s.ring_offsets[r]; i < s.ring_offsets[r + 1]; ++i) {
          char buffer[64];
          std::snprintf(buffer, sizeof buffer, "%s%.17g %.17g", i == s.ring_offsets[r] ? "" : ", ", s.x[i], s.y[i]);
          text += buffer;
        }
        text += ")";
      }
      text += ")";
    }
    text += ")\"\n";
  }
  return text;
}

TEST(JoinFiles, CsvIdBytesPassThroughWhateverTheirEncoding) {
  TempDir dir;
  const std::string store = "caf\xe9 \x80";    // Latin-1 and a stray byte: not UTF-8
  const std::string point = "\xff\xfe\x01id";  // and a point id of raw bytes
  write_file(dir.file("poly.csv"), "store,wkt\n" + store + ",\"POLYGON((0 0,2 0,2 2,0 2,0 0))\"\n");
  write_file(dir.file("pings.csv"), "id,lon,lat\n" + point + ",1,1\nplain,5,5\n");
  JoinFileOptions o;
  o.polygons = dir.file("poly.csv");
  o.polygon_id_column = "store";
  o.wkt_column = "wkt";
  o.points = dir.file("pings.csv");
  o.point_id_column = "id";
  o.x_column = "lon";
  o.y_column = "lat";
  o.out = dir.file("pairs.csv");
  o.counts = dir.file("counts.csv");
  o.device = Device::Cpu;
  o.progress = false;
  join_files(o);
  EXPECT_EQ(read_file(o.out), "point_id,polygon_id\n" + point + "," + store + "\n");
  EXPECT_EQ(read_file(o.counts), "polygon_id,count\n" + store + ",1\n");
}

TEST(JoinFiles, FirstKeepsTheSmallestId) {
  // Four overlapping squares all hold point p; r is only in "b" and "a"; q only in "10".
  TempDir dir;
  const char* square = "\"POLYGON((0 0,4 0,4 4,0 4,0 0))\"";
  write_file(dir.file("poly.csv"), std::string("id,wkt\n") + "b," + square + "\n10," + square + "\na," +
                                       "\"POLYGON((0 0,9 0,9 9,0 9,0 0))\"\n9," + square + "\nb,\"POLYGON((5 5,9 5,9 9,5 9,5 5))\"\n" +
                                       "10,\"POLYGON((-5 -5,-1 -5,-1 -1,-5 -1,-5 -5))\"\n");
  write_file(dir.file("pts.csv"), "id,x,y\np,1,1\nr,6,6\nq,-2,-2\nnone,20,20\n");
  JoinFileOptions o;
  o.polygons = dir.file("poly.csv");
  o.points = dir.file("pts.csv");
  o.out = dir.file("first.csv");
  o.counts = dir.file("counts.csv");
  o.first = true;
  o.device = Device::Cpu;
  o.progress = false;
  join_files(o);
  // integers by value before other ids: 9 < 10 < a < b
  EXPECT_EQ(read_file(o.out), "point_id,polygon_id\np,9\nr,a\nq,10\n");
  EXPECT_EQ(read_file(o.counts), "polygon_id,count\nb,0\n10,1\na,1\n9,1\n");  // ids in file order
  o.out = dir.file("first.npy");  // pairs name the features by their position in the file
  join_files(o);
  EXPECT_EQ(read_npy<std::int64_t>(o.out).data, (std::vector<std::int64_t>{0, 3, 1, 2, 2, 5}));
  o.first = false;
  o.out = dir.file("all.csv");
  join_files(o);
  EXPECT_EQ(read_file(o.out), "point_id,polygon_id\np,b\np,10\np,a\np,9\nr,a\nr,b\nq,10\n");
  // A skipped record still counts in the positions the .npy pairs give.
  write_file(dir.file("skip.csv"), std::string("id,wkt\n") + "bad,\"POLYGON((0 0,1 0))\"\nragged\nc," + square + "\n");
  o.polygons = dir.file("skip.csv");
  o.skip_invalid = true;
  o.out = dir.file("skip.npy");
  join_files(o);
  EXPECT_EQ(read_npy<std::int64_t>(o.out).data, (std::vector<std::int64_t>{0, 2}));  // p in "c", the third record
}

TEST(JoinFiles, ChunkedEqualsWholeAndMatchesReference) {
  TempDir dir;
  Rng rng(41);
  PolygonSet s = random_polygons(rng, 10, 1.0, 0, 0);
  s.ids[3] = s.ids[4];  // a shared id: counts aggregate it
  write_file(dir.file("poly.csv"), polygons_csv(s));
  const JoinGrid grid = build_join_grid(s);
  std::vector<double> x, y;
  random_points(rng, s, grid, 1.0, 0, 0, 3000, x, y);
  std::string points = "ping_id,user_id,lon,lat\n";
  for (std::size_t i = 0; i < x.size(); ++i) {
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "p%zu,u,%.17g,%.17g\n", i, x[i], y[i]);
    points += buffer;
  }
  write_file(dir.file("pings.csv"), points);
  const JoinPairs want = reference_join(s, x, y, false);
  std::string expected = "point_id,polygon_id\n";
  for (std::size_t k = 0; k < want.size(); ++k)
    expected += "p" + std::to_string(want.point[k]) + "," + s.ids[want.feature[k]] + "\n";

  JoinFileOptions o;
  o.polygons = dir.file("poly.csv");
  o.points = dir.file("pings.csv");
  o.device = Device::Cpu;
  o.progress = false;
  o.out = dir.file("whole.csv");
  o.counts = dir.file("counts.csv");
  const JoinSummary whole = join_files(o);
  EXPECT_EQ(read_file(o.out), expected);
  EXPECT_EQ(whole.points, x.size());
  EXPECT_EQ(whole.pairs, want.size());
  EXPECT_EQ(whole.matched + whole.unmatched, whole.points);
  o.out = dir.file("chunked.csv");
  o.chunk_points = 7;
  join_files(o);
  EXPECT_EQ(read_file(o.out), expected);
  // Counts: every id once, in first-appearance order, zeros included, shared ids summed.
  const std::string counts = read_file(dir.file("counts.csv"));
  std::vector<std::uint64_t> per_feature(s.features(), 0);
  for (auto f : want.feature) ++per_feature[f];
  std::string expected_counts = "polygon_id,count\n";
  for (std::size_t f = 0; f < s.features(); ++f) {
    if (f == 4) continue;
    const std::uint64_t c = per_feature[f] + (f == 3 ? per_feature[4] : 0);
    expected_counts += s.ids[f] + "," + std::to_string(c) + "\n";
  }
  EXPECT_EQ(counts, expected_counts);
  // .npy output: (row, feature) int64 pairs.
  o.out = dir.file("pairs.npy");
  o.counts.clear();
  join_files(o);
  const auto npy = read_npy<std::int64_t>(o.out);
  ASSERT_EQ(npy.rows(), want.size());
  for (std::size_t k = 0; k < want.size(); ++k) {
    EXPECT_EQ(npy.data[2 * k], static_cast<std::int64_t>(want.point[k]));
    EXPECT_EQ(npy.data[2 * k + 1], static_cast<std::int64_t>(want.feature[k]));
  }
}

TEST(JoinFiles, CliRoundTripFirstAndErrors) {
  TempDir dir;
  write_file(dir.file("stores.geojson"),
             R"({"type":"FeatureCollection","features":[
    {"type":"Feature","properties":{"store_id":"A"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2]]]}},
    {"type":"Feature","properties":{"store_id":"B"},"geometry":{"type":"Polygon","coordinates":[[[1,1],[3,1],[3,3],[1,3]]]}},
    {"type":"Feature","properties":{"store_id":"Z"},"geometry":{"type":"Polygon","coordinates":[[[9,9],[10,9],[10,10]]]}}]})");
  write_file(dir.file("pings.csv"), "ping_id,user_id,lon,lat,timestamp\na,u,0.5,0.5,1\nb,u,1.5,1.5,1\nc,u,5,5,1\n");
  auto r = run_cli("join --device cpu --polygons " + dir.file("stores.geojson") + " --polygon-id-col store_id --points " +
                   dir.file("pings.csv") + " --out " + dir.file("out.csv") + " --counts " + dir.file("counts.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(dir.file("out.csv")), "point_id,polygon_id\na,A\nb,A\nb,B\n");
  EXPECT_EQ(read_file(dir.file("counts.csv")), "polygon_id,count\nA,2\nB,1\nZ,0\n");
  EXPECT_NE(r.output.find("3 points read, 2 matched, 1 unmatched"), std::string::npos) << r.output;
  r = run_cli("join --device cpu --first --quiet --polygons " + dir.file("stores.geojson") + " --points " +
              dir.file("pings.csv") + " --out " + dir.file("first.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(dir.file("first.csv")), "point_id,polygon_id\na,A\nb,A\n");
  // A bad point: error naming file:line, nothing written.
  write_file(dir.file("bad.csv"), "id,x,y\na,0.5,0.5\nb,oops,1\n");
  const std::size_t before = dir.entries();
  r = run_cli("join --device cpu --polygons " + dir.file("stores.geojson") + " --points " + dir.file("bad.csv") +
              " --out " + dir.file("never.csv") + " --counts " + dir.file("never_counts.csv"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("error: " + dir.file("bad.csv") + ":3"), std::string::npos) << r.output;
  EXPECT_EQ(dir.entries(), before);
  // --skip-invalid: skipped, counted, warned.
  r = run_cli("join --device cpu --skip-invalid --polygons " + dir.file("stores.geojson") + " --points " +
              dir.file("bad.csv") + " --out " + dir.file("skip.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 invalid"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("warning: skipped 1 invalid points"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(dir.file("skip.csv")), "point_id,polygon_id\na,A\n");
  r = run_cli("join --device cpu --polygons " + dir.file("stores.geojson") + " --points " + dir.file("pings.csv") +
              " --out " + dir.file("x.txt"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find(".csv or .npy"), std::string::npos) << r.output;
}

// The generator's world (stores.csv / stores.geojson / pings.csv with default column
// names) joined through the CLI must reproduce its ground-truth per-store ping counts.
TEST(JoinFiles, GeneratedWorldMatchesTruth) {
  TempDir dir;
  auto r = run_cli("generate --size tiny --quiet --out " + dir.file("world"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string truth = read_file(dir.file("world/truth_store_counts.csv"));
  ASSERT_EQ(truth.rfind("store_id,pings\n", 0), 0u) << truth;
  const std::string expected = "polygon_id,count\n" + truth.substr(std::string("store_id,pings\n").size());
  for (const char* polygons : {"stores.csv", "stores.geojson"}) {
    r = run_cli("join --device cpu --quiet --polygons " + dir.file(std::string("world/") + polygons) + " --points " +
                dir.file("world/pings.csv") + " --out " + dir.file("pairs.csv") + " --counts " + dir.file("counts.csv"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(read_file(dir.file("counts.csv")), expected) << polygons;
  }
}

// ---------------------------------------------------------------- JoinCuda

TEST(JoinCuda, MatchesCpu) {
  if (cuda_devices().empty()) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
  for (std::uint64_t seed : {51, 52}) {
    Rng rng(seed);
    const PolygonSet s = random_polygons(rng, 40, 1000.0, 5e5, 4e6);
    const JoinGrid grid = build_join_grid(s);
    std::vector<double> x, y;
    random_points(rng, s, grid, 1000.0, 5e5, 4e6, 200000, x, y);
    for (bool first : {false, true}) {
      JoinOptions gpu = cpu_options(first);
      gpu.device = Device::Cuda;
      gpu.gpu_memory = std::size_t(8) << 20;  // small budget: many batches
      expect_same(join_points(grid, x.data(), y.data(), x.size(), gpu),
                  join_points(grid, x.data(), y.data(), x.size(), cpu_options(first)),
                  "seed " + std::to_string(seed) + (first ? " first" : ""));
    }
  }
}

// One Joiner across calls of different sizes (its slots grow and are reused), explicit
// grids of 1 to 64 cells, an empty polygon set, and the CUDA path's NaN error in a later
// batch: all as on the CPU.
TEST(JoinCuda, ReusedJoinerExplicitGridsEmptySetAndErrors) {
  if (cuda_devices().empty()) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
  Rng rng(61);
  const PolygonSet s = random_polygons(rng, 40, 1000.0, 5e5, 4e6);
  const JoinGrid grid = build_join_grid(s);
  std::vector<double> x, y;
  random_points(rng, s, grid, 1000.0, 5e5, 4e6, 200000, x, y);
  JoinOptions gpu = cpu_options();
  gpu.device = Device::Cuda;
  gpu.gpu_memory = std::size_t(8) << 20;  // many batches
  Joiner on_gpu(grid, gpu), on_cpu(grid, cpu_options());
  for (const std::size_t n : {10u, 200000u, 5000u, 1u})
    expect_same(on_gpu.join(x.data(), y.data(), n), on_cpu.join(x.data(), y.data(), n), "n " + std::to_string(n));

  // A lattice through the shared edge x = 1, the corners and outside.
  const PolygonSet ab = squares_ab();
  std::vector<double> lx, ly;
  for (int i = -2; i <= 42; ++i)
    for (int j = -2; j <= 22; ++j) lx.push_back(i * 0.05), ly.push_back(j * 0.05);
  for (const std::int64_t cells : {1, 31, 33, 64}) {
    const JoinGrid g = build_join_grid(ab, cells);
    expect_same(join_points(g, lx.data(), ly.data(), lx.size(), gpu),
                join_points(g, lx.data(), ly.data(), lx.size(), cpu_options()), "cells " + std::to_string(cells));
  }

  const JoinGrid empty = build_join_grid(PolygonSet{});
  EXPECT_EQ(join_points(empty, x.data(), y.data(), 1000, gpu).size(), 0u);

  // 30 features on one square: about 30 pairs per point, far more per batch than the
  // 8 MiB budget's pair buffers hold, so each batch is filled in point ranges.
  PolygonSet stacked;
  for (int f = 0; f < 30; ++f) {
    stacked.add_ring({0, 0, 10, 10}, {0, 10, 10, 0});
    stacked.end_polygon();
    stacked.end_feature("s" + std::to_string(f));
  }
  const JoinGrid stacked_grid = build_join_grid(stacked);
  std::vector<double> sx(200000), sy(200000);
  for (std::size_t i = 0; i < sx.size(); ++i) sx[i] = uniform(rng, -1, 11), sy[i] = uniform(rng, -1, 11);
  const JoinPairs stacked_pairs = join_points(stacked_grid, sx.data(), sy.data(), sx.size(), gpu);
  EXPECT_GT(stacked_pairs.size(), 4000000u);
  expect_same(stacked_pairs, join_points(stacked_grid, sx.data(), sy.data(), sx.size(), cpu_options()), "stacked");

  auto bad = x;
  bad[150000] = std::nan("");
  bad[199999] = std::numeric_limits<double>::infinity();
  try {
    join_points(grid, bad.data(), y.data(), bad.size(), gpu);
    ADD_FAILURE() << "no error";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("point 150000 has a NaN or infinite coordinate"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace cohort
