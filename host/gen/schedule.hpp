/*
 * schedule.hpp: how pings and events are cut into work units and written in order.
 *
 * The window's 672 hours each get a share of the records proportional to a weight (largest
 * remainder rounding, so the total is exact), and an hour with more than kUnitRecords
 * records is split into equal sub-intervals. A unit's records are sorted by time, so a file
 * is in time order. Units depend only on (total, weights), never on the thread count; they
 * are generated in parallel in batches (memory stays bounded) and written in unit order.
 */
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cohort/atomic_file.hpp"
#include "cohort/backend.hpp"
#include "cohort/progress.hpp"

namespace cohort::gen {

inline constexpr int kWindowHours = 28 * 24;
inline constexpr std::uint64_t kUnitRecords = 32768;

struct WorkUnit {
  int hour = 0;                  ///< hour of the window, 0..671
  std::uint64_t first = 0;       ///< index of the unit's first record in the file
  std::uint64_t count = 0;
  double start = 0, end = 0;     ///< seconds from kWindowStart
};

std::vector<WorkUnit> schedule_units(std::uint64_t total, const std::array<double, kWindowHours>& weights);

/// make(unit_index, text) fills text for one unit; units run in parallel, text goes to out
/// in unit order. A batch holds about kBatchRecords records (at least one unit), which
/// bounds memory and keeps parallel regions few when units are small.
inline constexpr std::uint64_t kBatchRecords = std::uint64_t(1) << 20;

template <typename Make>
void write_units(AtomicFile& out, const std::vector<WorkUnit>& units, Progress& progress, Make&& make) {
  std::vector<std::string> texts;
  for (std::size_t begin = 0, end = 0; begin < units.size(); begin = end) {
    std::uint64_t records = units[begin].count;
    for (end = begin + 1; end < units.size() && records + units[end].count <= kBatchRecords; ++end)
      records += units[end].count;
    if (texts.size() < end - begin) texts.resize(end - begin);
    const long long n = static_cast<long long>(end - begin);
#pragma omp parallel for schedule(dynamic, 1)
    for (long long i = 0; i < n; ++i) {
      const std::size_t u = begin + static_cast<std::size_t>(i);
      std::string& text = texts[static_cast<std::size_t>(i)];
      text.clear();
      make(u, text);
      progress.add(units[u].count);
    }
    for (std::size_t i = 0; i < end - begin; ++i) out.write(texts[i]);
  }
}

}  // namespace cohort::gen
