/*
 * metrics.hpp: clustering agreement scores shared by tests and the pipeline.
 *
 * adjusted_rand_index(a, b): Hubert & Arabie's ARI of two labelings of the same items
 * (labels are any non-negative ints): 1 for identical partitions (up to renaming),
 * about 0 for independent ones. Same value as sklearn.metrics.adjusted_rand_score.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <utility>
#include <vector>

namespace cohort {

inline double adjusted_rand_index(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("adjusted_rand_index: labelings differ in length");
  const double n = static_cast<double>(a.size());
  std::map<std::pair<std::int32_t, std::int32_t>, double> cells;
  std::map<std::int32_t, double> rows, cols;
  for (std::size_t i = 0; i < a.size(); ++i) {
    cells[{a[i], b[i]}] += 1.0;
    rows[a[i]] += 1.0;
    cols[b[i]] += 1.0;
  }
  auto pairs = [](double m) { return m * (m - 1.0) / 2.0; };
  double index = 0.0, sum_rows = 0.0, sum_cols = 0.0;
  for (const auto& cell : cells) index += pairs(cell.second);
  for (const auto& row : rows) sum_rows += pairs(row.second);
  for (const auto& col : cols) sum_cols += pairs(col.second);
  const double expected = n > 1 ? sum_rows * sum_cols / pairs(n) : 0.0;
  const double maximum = 0.5 * (sum_rows + sum_cols);
  if (maximum == expected) return 1.0;  // both trivial partitions (sklearn's convention)
  return (index - expected) / (maximum - expected);
}

}  // namespace cohort
