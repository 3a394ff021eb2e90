// star_ring.hpp: the random star-shaped polygon ring of the emulated join tests
// (test_join.cpp, test_join_cuda.cpp).
#pragma once

#include <cmath>
#include <random>
#include <vector>

#include "cohort/join.hpp"

namespace cohort::testing {

/// Adds a star-shaped (so simple) ring of 5 to 12 vertices around (cx, cy), at radii in
/// [0.3, 1] x radius, drawing from `generator`.
inline void add_star_ring(PolygonSet& set, std::mt19937& generator, double cx, double cy, double radius) {
  constexpr double kPi = 3.14159265358979323846;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const int vertices = 5 + static_cast<int>(generator() % 8);
  std::vector<double> x, y;
  for (int v = 0; v < vertices; ++v) {
    const double angle = 2 * kPi * (v + 0.8 * unit(generator)) / vertices;
    const double r = radius * (0.3 + 0.7 * unit(generator));
    x.push_back(cx + r * std::cos(angle));
    y.push_back(cy + r * std::sin(angle));
  }
  set.add_ring(x, y);
}

}  // namespace cohort::testing
