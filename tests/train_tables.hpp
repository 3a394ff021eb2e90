/*
 * train_tables.hpp: the synthetic inputs of the training tests (tests/test_train.cpp,
 * and the emulated CUDA engine in tests/emulation/test_train_cuda.cpp): a table whose
 * target is a known function of its columns, and a `cohort matrix` output of the same
 * users for the behavioural bag.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "cohort/matrix.hpp"

namespace cohort::testing {

/// Columns uid,a,b,x,y,target: target = f(a) + g(b) + 0.8*x - 0.03*y + noise; ids repeat
/// every `users` rows (0: one per row). With labels, two more columns derived from the
/// target: label (3 classes by thirds) and binary (its sign).
inline void make_table(const std::string& path, std::size_t rows, std::uint64_t seed, std::size_t users = 0,
                       bool labels = false) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  const double fa[5] = {1.0, -1.0, 0.5, 2.0, 0.0}, fb[3] = {0.0, 1.0, -1.0};
  std::ostringstream out;
  out << "uid,a,b,x,y,target" << (labels ? ",label,binary" : "") << "\n";
  for (std::size_t r = 0; r < rows; ++r) {
    const int a = static_cast<int>(rng() % 5), b = static_cast<int>(rng() % 3);
    const double x = normal(rng), y = 10 * (static_cast<double>(rng() % 1000) / 1000.0);
    const double t = fa[a] + fb[b] + 0.8 * x - 0.03 * y + 0.1 * normal(rng);
    out << "u" << (users ? r % users : r) << "," << "abcde"[a] << "," << "pqr"[b] << "," << x << "," << y << "," << t;
    if (labels) out << "," << (t < -0.5 ? 0 : t < 0.8 ? 1 : 2) << "," << (t > 0 ? 1 : 0);
    out << "\n";
  }
  std::ofstream(path, std::ios::binary) << out.str();
}

/// A `cohort matrix` output in DIR/matrix (DIR/events.csv its log) for users u0..u(users-1) of make_table, every
/// 10th user left out: 1 to 5 events each over items i0..i7, event types view and buy.
inline std::string make_bag_matrix(const std::string& dir, std::size_t users, std::uint64_t seed) {
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(seed);
  std::ostringstream out;
  out << "user,item,event\n";
  for (std::size_t u = 0; u < users; ++u)
    for (std::uint64_t k = u % 10 == 9 ? 0 : 1 + rng() % 5; k > 0; --k)
      out << "u" << u << ",i" << rng() % 8 << "," << (rng() % 3 ? "view" : "buy") << "\n";
  std::ofstream(dir + "/events.csv", std::ios::binary) << out.str();
  MatrixOptions m;
  m.reader.user_col = "user", m.reader.item_col = "item", m.reader.event_col = "event";
  m.device = Device::Cpu;
  write_matrix(build_matrix(dir + "/events.csv", m), dir + "/matrix", {});
  return dir + "/matrix";
}

}  // namespace cohort::testing
