/*
 * matrix_cpu.cpp: aggregate_events on the CPU.
 *
 * 1. A stable parallel counting sort by row: each thread histograms its block of
 *    events, a prefix over (row, thread) gives every thread its write positions, and
 *    each thread scatters (sub key, slot) entries, sub = (event, col); the slot (the
 *    entry's own position, in event order within a row) breaks ties.
 *    Time and weight are scattered alongside. Memory: 8 (or 16) bytes per event, 16
 *    more with time and weight, and 8 bytes per row and thread.
 * 2. Per row (OpenMP, dynamic): sort the row's entries by (sub, index) and count the
 *    distinct subs; a prefix sum gives each row's first output cell.
 * 3. Per row: reduce each run of equal subs with cell_merge, in event order, so sums
 *    are deterministic. Output cells are sorted by (row, event, col) like the packed
 *    keys of the CUDA backend.
 * When event and col fit in 32 bits an entry is one uint64 (sub << 32 | index).
 */
#include "host/cpu/matrix_cpu.hpp"

#include <omp.h>

#include <algorithm>
#include <memory>
#include <numeric>

#include "cohort/error.hpp"
#include "kernels/matrix_element.hpp"

namespace cohort::cpu {
namespace {

struct WideEntry {
  std::uint64_t sub;
  std::uint32_t index;
  bool operator<(const WideEntry& o) const { return sub < o.sub || (sub == o.sub && index < o.index); }
};
inline std::uint64_t entry_sub(std::uint64_t e) { return e >> 32; }
inline std::uint32_t entry_index(std::uint64_t e) { return static_cast<std::uint32_t>(e); }
inline std::uint64_t make_entry(std::uint64_t sub, std::uint32_t i, std::uint64_t*) { return sub << 32 | i; }
inline std::uint64_t entry_sub(const WideEntry& e) { return e.sub; }
inline std::uint32_t entry_index(const WideEntry& e) { return e.index; }
inline WideEntry make_entry(std::uint64_t sub, std::uint32_t i, WideEntry*) { return WideEntry{sub, i}; }

template <typename Entry>
CellTable aggregate(const EventArrays& ev, KeyLayout layout) {
  const std::size_t n = ev.size, rows = ev.rows;
  const int threads = std::max(1, std::min<int>(omp_get_max_threads(), static_cast<int>((n + 65535) / 65536)));
  // 1. stable counting sort by row; hist[t * rows + row] (one array per thread, so
  //    threads never write the same cache line), turned in place into write positions
  std::vector<std::uint64_t> hist(rows * static_cast<std::size_t>(threads), 0);
  // Uninitialized (new T[n]): the parallel scatter is the first touch of every page.
  std::unique_ptr<Entry[]> entries(new Entry[n]);
  // time and weight travel with the scatter, so the reduce reads them within the row
  std::unique_ptr<double[]> time(new double[ev.time ? n : 0]), weight(new double[ev.weight ? n : 0]);
  std::vector<std::uint64_t> row_start(rows + 1, 0);
#pragma omp parallel num_threads(threads)
  {
    const auto t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t begin = n * t / threads, end = n * (t + 1) / threads;
    std::uint64_t* mine = hist.data() + t * rows;
    for (std::size_t i = begin; i < end; ++i) ++mine[ev.row[i]];
#pragma omp barrier
#pragma omp single
    {
      std::uint64_t running = 0;
      for (std::size_t r = 0; r < rows; ++r) {
        row_start[r] = running;
        for (std::size_t u = 0; u < static_cast<std::size_t>(threads); ++u) {
          const std::uint64_t count = hist[u * rows + r];
          hist[u * rows + r] = running;
          running += count;
        }
      }
      row_start[rows] = running;
    }
    for (std::size_t i = begin; i < end; ++i) {
      const std::uint32_t e = ev.event ? ev.event[i] : 0u;
      const std::uint64_t slot = mine[ev.row[i]]++;
      // the slot, not i, is the tie-breaker: the scatter is stable, so slots keep event order
      entries[slot] = make_entry(sub_key(e, ev.col[i], layout), static_cast<std::uint32_t>(slot), static_cast<Entry*>(nullptr));
      if (ev.time) time[slot] = ev.time[i];
      if (ev.weight) weight[slot] = ev.weight[i];
    }
  }
  // 2. sort within rows, count distinct cells per row
  std::vector<std::uint64_t> cell_start(rows + 1, 0);
#pragma omp parallel for schedule(dynamic, 256) num_threads(threads)
  for (std::size_t r = 0; r < rows; ++r) {
    Entry* a = entries.get() + row_start[r];
    Entry* b = entries.get() + row_start[r + 1];
    std::sort(a, b);
    std::uint64_t distinct = 0;
    for (Entry* p = a; p < b; ++p)
      if (p == a || entry_sub(*p) != entry_sub(p[-1])) ++distinct;
    cell_start[r + 1] = distinct;
  }
  std::partial_sum(cell_start.begin(), cell_start.end(), cell_start.begin());
  // 3. reduce runs
  CellTable out;
  out.resize(cell_start[rows]);
#pragma omp parallel for schedule(dynamic, 256) num_threads(threads)
  for (std::size_t r = 0; r < rows; ++r) {
    std::size_t c = cell_start[r];
    const Entry* a = entries.get() + row_start[r];
    const Entry* b = entries.get() + row_start[r + 1];
    for (const Entry* p = a; p < b;) {
      const std::uint64_t sub = entry_sub(*p);
      const std::uint32_t i0 = entry_index(*p);
      CellAccumulator acc = cell_from_event(ev.time ? time[i0] : 0.0, ev.weight ? weight[i0] : 1.0);
      for (++p; p < b && entry_sub(*p) == sub; ++p) {
        const std::uint32_t i = entry_index(*p);
        acc = cell_merge(acc, cell_from_event(ev.time ? time[i] : 0.0, ev.weight ? weight[i] : 1.0));
      }
      out.row[c] = static_cast<std::uint32_t>(r);
      out.event[c] = static_cast<std::uint16_t>(sub >> layout.col_bits);
      out.col[c] = static_cast<std::uint32_t>(sub & ((std::uint64_t(1) << layout.col_bits) - 1));
      out.count[c] = acc.count;
      out.sum[c] = acc.sum;
      out.first[c] = acc.first;
      out.last[c] = acc.last;
      ++c;
    }
  }
  return out;
}

}  // namespace

CellTable aggregate_events_cpu(const EventArrays& ev) {
  if (ev.size == 0) return CellTable{};
  const KeyLayout layout = make_key_layout(ev.rows, ev.cols, ev.events);
  if (layout.col_bits + layout.event_bits <= 32) return aggregate<std::uint64_t>(ev, layout);
  return aggregate<WideEntry>(ev, layout);
}

}  // namespace cohort::cpu
