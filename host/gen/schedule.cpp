/* schedule.cpp: records per hour by largest remainder, hours split into units. */
#include "host/gen/schedule.hpp"

#include <cmath>
#include <numeric>

namespace cohort::gen {

std::vector<WorkUnit> schedule_units(std::uint64_t total, const std::array<double, kWindowHours>& weights) {
  const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::array<std::uint64_t, kWindowHours> counts{};
  std::vector<std::pair<double, int>> remainders;
  std::uint64_t assigned = 0;
  for (int h = 0; h < kWindowHours; ++h) {
    const double quota = sum > 0 ? static_cast<double>(total) * weights[h] / sum : 0.0;
    counts[h] = static_cast<std::uint64_t>(std::floor(quota));
    assigned += counts[h];
    remainders.emplace_back(quota - std::floor(quota), h);
  }
  std::sort(remainders.begin(), remainders.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (std::size_t i = 0; assigned < total; i = (i + 1) % remainders.size(), ++assigned) ++counts[remainders[i].second];

  std::vector<WorkUnit> units;
  std::uint64_t first = 0;
  for (int h = 0; h < kWindowHours; ++h) {
    const std::uint64_t parts = (counts[h] + kUnitRecords - 1) / kUnitRecords;
    for (std::uint64_t p = 0; p < parts; ++p) {
      WorkUnit unit;
      unit.hour = h;
      unit.first = first;
      unit.count = counts[h] * (p + 1) / parts - counts[h] * p / parts;
      unit.start = 3600.0 * h + 3600.0 * static_cast<double>(p) / static_cast<double>(parts);
      unit.end = 3600.0 * h + 3600.0 * static_cast<double>(p + 1) / static_cast<double>(parts);
      first += unit.count;
      units.push_back(unit);
    }
  }
  return units;
}

}  // namespace cohort::gen
