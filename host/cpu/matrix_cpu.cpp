/*
 * matrix_cpu.cpp: aggregate_events on the CPU. Two paths, with identical output
 * (cells sorted by (row, event, col); each cell folded with cell_merge in event order,
 * so sums are bit-identical between them and deterministic).
 *
 * Both start with a stable parallel counting sort by row: each thread histograms its
 * block of events, a prefix over (row, thread) gives every thread its write positions,
 * and each thread scatters its events' sub keys, sub = (event, col), with time and
 * weight alongside (the loops prefetch the histogram entry and the target a few events
 * ahead: both are cache misses for large row counts). Counts only with more than
 * 65536 rows: the same sort in two levels (by row >> shift into at most 256 buckets of
 * 4-byte staged entries, then per bucket by row), so both histograms stay in cache.
 *
 * Dense path, when sub fits 16 bits (categories, stores by the thousand; with or
 * without event types): 2-byte entries; per row (OpenMP, dynamic) count distinct subs
 * (a per-thread stamp array) for the output offsets, then reduce the row into a
 * per-thread array indexed by sub and emit the cells in sub order by scanning a bitmap
 * of the subs touched (or sorting them when a few lie far apart). No sort of events at
 * all; without time and weight only counts are kept (sum = count, first = last = 0).
 *
 * Sort path, for wider subs: entries (sub << 32 | slot) in one uint64 (16 bytes when
 * sub needs more than 32 bits); per row sort by (sub, slot), count distinct subs, then
 * reduce each run of equal subs.
 *
 * Memory (dense path): 2 bytes per event (+16 with time and weight), 4 bytes per row
 * and thread, the output; buffers of 4 MiB and more are advised to use huge pages.
 */
#include "host/cpu/matrix_cpu.hpp"

#include <omp.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include <algorithm>
#include <memory>
#include <numeric>

#include "cohort/error.hpp"
#include "kernels/matrix_element.hpp"

namespace cohort::cpu {
namespace {

// Per-thread counts hist[t * buckets + b] -> exclusive offsets in (bucket, thread) order,
// so each thread scatters its share of bucket b after the earlier threads' shares (a
// stable counting sort); start[b] is where bucket b begins, start[buckets] the total.
template <typename Count>
void bucket_thread_prefix(Count* hist, std::size_t buckets, std::size_t threads, Count* start) {
  Count running = 0;
  for (std::size_t b = 0; b < buckets; ++b) {
    start[b] = running;
    for (std::size_t t = 0; t < threads; ++t) {
      const Count count = hist[t * buckets + b];
      hist[t * buckets + b] = running;
      running += count;
    }
  }
  start[buckets] = running;
}

// Buffers of 4 MiB and more ask for transparent huge pages, as numpy does for its
// arrays (so the scipy peer gets them too): at these sizes the first-touch page faults,
// one per 4 KiB page otherwise, cost more than the aggregation itself.
void advise_huge_pages(const void* p, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t huge = std::uintptr_t(2) << 20;
  if (bytes < 2 * huge) return;
  const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(p) + huge - 1) & ~(huge - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(huge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // advice: errors ignored
#else
  (void)p, (void)bytes;
#endif
}

// new T[n] (uninitialized) with the advice above, before anything touches it.
template <typename T>
std::unique_ptr<T[]> new_buffer(std::size_t n) {
  std::unique_ptr<T[]> buffer(new T[n]);
  advise_huge_pages(buffer.get(), n * sizeof(T));
  return buffer;
}

// v.resize(n) on fresh storage with the advice above (the zero fill is the first touch).
template <typename T>
void resize_fresh(std::vector<T>& v, std::size_t n) {
  v.reserve(n);
  advise_huge_pages(v.data(), n * sizeof(T));
  v.resize(n);
}

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
CellTable aggregate_sorted(const EventArrays& ev, KeyLayout layout, int threads) {
  const std::size_t n = ev.size, rows = ev.rows;
  // 1. stable counting sort by row; hist[t * rows + row] (one array per thread, so
  //    threads never write the same cache line), turned in place into write positions
  std::vector<std::uint64_t> hist(rows * static_cast<std::size_t>(threads), 0);
  // Uninitialized (new T[n]): the parallel scatter is the first touch of every page.
  auto entries = new_buffer<Entry>(n);
  // time and weight travel with the scatter, so the reduce reads them within the row
  auto time = new_buffer<double>(ev.time ? n : 0), weight = new_buffer<double>(ev.weight ? n : 0);
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
      bucket_thread_prefix(hist.data(), rows, static_cast<std::size_t>(threads), row_start.data());
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
  out.counts_only = !ev.time && !ev.weight;
  const std::size_t cells = cell_start[rows];
  resize_fresh(out.row, cells), resize_fresh(out.col, cells), resize_fresh(out.event, cells);
  resize_fresh(out.count, cells);
  if (!out.counts_only) resize_fresh(out.sum, cells), resize_fresh(out.first, cells), resize_fresh(out.last, cells);
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
      if (!out.counts_only) {
        out.sum[c] = acc.sum;
        out.first[c] = acc.first;
        out.last[c] = acc.last;
      }
      ++c;
    }
  }
  return out;
}

// Dense path: (event, col) fits 16 bits. Rows are counting-sorted as in the sort
// path, but with 2-byte sub keys and no slot (the scatter is stable, so a row's
// entries are already in event order); then each row is reduced into a per-thread
// array indexed by sub key, in event order (the same fold as the sort path, so sums
// are bit-identical), and emitted in sub-key order by scanning a bitmap of the subs
// it touched (or, for a row with few subs spread over a wide range, by sorting them).
// Two passes over the rows: count distinct subs per row (for the output offsets),
// then reduce and write.
constexpr unsigned kDenseSubBits = 16;

template <bool CountsOnly>
CellTable aggregate_dense(const EventArrays& ev, KeyLayout layout, int threads) {
  const std::size_t n = ev.size, rows = ev.rows;
  const std::size_t subs = std::size_t(1) << (layout.col_bits + layout.event_bits);
  const std::size_t words = (subs + 63) / 64;
  const std::uint32_t col_mask = static_cast<std::uint32_t>((std::uint64_t(1) << layout.col_bits) - 1);
  // Counts only with many rows: the row sort in two levels (the per-thread row
  // histograms would not fit in cache), via 4-byte staged entries (row & low, sub)
  unsigned shift = 0;
  while (shift < 16 && (rows >> shift) > 256) ++shift;
  const bool two_level = CountsOnly && rows > 65536;
  const std::size_t buckets = (rows + (std::size_t(1) << shift) - 1) >> shift;
  std::vector<std::uint32_t> bucket_hist(two_level ? buckets * threads : 0), bucket_start(two_level ? buckets + 1 : 0);
  auto staged = new_buffer<std::uint32_t>(two_level ? n : 0);
  auto hist = new_buffer<std::uint32_t>(two_level ? 0 : rows * static_cast<std::size_t>(threads));
  auto row_start = new_buffer<std::uint32_t>(rows + 1);
  auto cell_start = new_buffer<std::uint32_t>(rows + 1);
  auto sub = new_buffer<std::uint16_t>(n);
  auto time = new_buffer<double>(ev.time ? n : 0), weight = new_buffer<double>(ev.weight ? n : 0);
  std::vector<std::uint32_t> range_total(static_cast<std::size_t>(threads));
  row_start[rows] = static_cast<std::uint32_t>(n);
  CellTable out;
  out.counts_only = CountsOnly;
#pragma omp parallel num_threads(threads)
  {
    const auto t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t begin = n * t / threads, end = n * (t + 1) / threads;
    if (CountsOnly && two_level) {
      // level 1, by bucket = row >> shift: few buckets, so the histogram stays in L1
      // and the scatter writes a few hundred sequential streams
      std::uint32_t* mine = bucket_hist.data() + t * buckets;
      std::fill(mine, mine + buckets, 0u);
      for (std::size_t i = begin; i < end; ++i) ++mine[ev.row[i] >> shift];
#pragma omp barrier
#pragma omp single
      {
        bucket_thread_prefix(bucket_hist.data(), buckets, static_cast<std::size_t>(threads), bucket_start.data());
      }
      const std::uint32_t low_mask = (std::uint32_t(1) << shift) - 1;
      for (std::size_t i = begin; i < end; ++i) {
        const std::uint32_t r = ev.row[i];
        const auto s = static_cast<std::uint32_t>(sub_key(ev.event ? ev.event[i] : 0u, ev.col[i], layout));
        staged[mine[r >> shift]++] = (r & low_mask) << 16 | s;
      }
#pragma omp barrier
      // level 2, per bucket: a counting sort of its rows (2^shift counters, in cache)
      std::vector<std::uint32_t> local(std::size_t(1) << shift);
#pragma omp for schedule(dynamic, 1)
      for (std::size_t b = 0; b < buckets; ++b) {
        const std::uint32_t a = bucket_start[b], e = bucket_start[b + 1];
        const std::size_t row0 = b << shift, count = std::min<std::size_t>(rows - row0, std::size_t(1) << shift);
        std::fill(local.begin(), local.begin() + static_cast<std::ptrdiff_t>(count), 0u);
        for (std::uint32_t p = a; p < e; ++p) ++local[staged[p] >> 16];
        std::uint32_t running = a;
        for (std::size_t r = 0; r < count; ++r) {
          row_start[row0 + r] = running;
          const std::uint32_t c = local[r];
          local[r] = running;
          running += c;
        }
        for (std::uint32_t p = a; p < e; ++p) sub[local[staged[p] >> 16]++] = static_cast<std::uint16_t>(staged[p]);
      }
    } else {
      std::uint32_t* mine = hist.get() + t * rows;
      std::fill(mine, mine + rows, 0u);
      constexpr std::size_t ahead = 16;
      for (std::size_t i = begin; i < end; ++i) {
        if (i + ahead < end) __builtin_prefetch(mine + ev.row[i + ahead], 1);
        ++mine[ev.row[i]];
      }
#pragma omp barrier
      // parallel prefix over (row, thread) (serial, it would cost rows x threads steps
      // while the other threads wait): each thread totals its range of rows, then turns
      // it into write positions from the range's offset
      const std::size_t r0 = rows * t / threads, r1 = rows * (t + 1) / threads;
      std::uint32_t running = 0;
      for (std::size_t u = 0; u < static_cast<std::size_t>(threads); ++u)
        for (std::size_t r = r0; r < r1; ++r) running += hist[u * rows + r];
      range_total[t] = running;
#pragma omp barrier
      running = 0;
      for (std::size_t u = 0; u < t; ++u) running += range_total[u];
      for (std::size_t r = r0; r < r1; ++r) {
        row_start[r] = running;
        for (std::size_t u = 0; u < static_cast<std::size_t>(threads); ++u) {
          const std::uint32_t count = hist[u * rows + r];
          hist[u * rows + r] = running;
          running += count;
        }
      }
#pragma omp barrier
      for (std::size_t i = begin; i < end; ++i) {
        if (i + 2 * ahead < end) __builtin_prefetch(mine + ev.row[i + 2 * ahead], 1);
        if (i + ahead < end) {  // where event i + ahead will land (a hint: rows repeat)
          const std::uint32_t next = mine[ev.row[i + ahead]];
          __builtin_prefetch(sub.get() + next, 1);
          if (!CountsOnly && ev.time) __builtin_prefetch(time.get() + next, 1);
          if (!CountsOnly && ev.weight) __builtin_prefetch(weight.get() + next, 1);
        }
        const std::uint32_t slot = mine[ev.row[i]]++;
        sub[slot] = static_cast<std::uint16_t>(sub_key(ev.event ? ev.event[i] : 0u, ev.col[i], layout));
        if (!CountsOnly) {
          if (ev.time) time[slot] = ev.time[i];
          if (ev.weight) weight[slot] = ev.weight[i];
        }
      }
#pragma omp barrier
    }
    // pass 1: distinct subs per row (mark[s] == r + 1: seen in row r)
    {
      std::vector<std::uint32_t> mark(subs, 0);
#pragma omp for schedule(dynamic, 1024)
      for (std::size_t r = 0; r < rows; ++r) {
        const auto stamp = static_cast<std::uint32_t>(r + 1);
        std::uint32_t distinct = 0;
        for (std::uint32_t p = row_start[r]; p < row_start[r + 1]; ++p) {
          distinct += mark[sub[p]] != stamp;
          mark[sub[p]] = stamp;
        }
        cell_start[r + 1] = distinct;
      }
    }
#pragma omp single
    {
      cell_start[0] = 0;
      for (std::size_t r = 0; r < rows; ++r) cell_start[r + 1] += cell_start[r];
    }
    // the output's first touch (resize zero-fills) spread over the threads
    {
      const std::size_t cells = cell_start[rows];
      std::size_t k = 0;
      auto mine_resize = [&](auto& v) {
        if (k++ % static_cast<std::size_t>(threads) == t) resize_fresh(v, cells);
      };
      mine_resize(out.row), mine_resize(out.col), mine_resize(out.count), mine_resize(out.event);
      if (!CountsOnly) mine_resize(out.sum), mine_resize(out.first), mine_resize(out.last);
    }
#pragma omp barrier
    // pass 2: reduce and write
    {
      std::vector<std::uint64_t> bits(words, 0);
      // few subs in all (<= 1024): scan every bitmap word, no per-event range tracking
      const bool narrow = words <= 16;
      const auto last_word = static_cast<std::uint32_t>(words - 1);
      std::vector<std::uint32_t> count(CountsOnly ? subs : 0, 0);
      std::vector<CellAccumulator> acc(CountsOnly ? 0 : subs);
      std::vector<std::uint16_t> order;
      std::uint32_t* const out_row = out.row.data();
      std::uint32_t* const out_col = out.col.data();
      std::uint16_t* const out_event = out.event.data();
      std::int64_t* const out_count = out.count.data();
      double* const out_sum = out.sum.data();
      double* const out_first = out.first.data();
      double* const out_last = out.last.data();
#pragma omp for schedule(dynamic, 1024)
      for (std::size_t r = 0; r < rows; ++r) {
        const std::uint32_t a = row_start[r], b = row_start[r + 1];
        if (a == b) continue;
        std::uint32_t lo = 0xffffffffu, hi = 0;  // the range of subs in the row, unless narrow
        for (std::uint32_t p = a; p < b; ++p) {
          const std::uint32_t s = sub[p];
          if (!narrow) {
            lo = std::min(lo, s);
            hi = std::max(hi, s);
          }
          const std::uint64_t bit = std::uint64_t(1) << (s & 63);
          if (CountsOnly) {
            ++count[s];
          } else {
            const CellAccumulator e = cell_from_event(ev.time ? time[p] : 0.0, ev.weight ? weight[p] : 1.0);
            acc[s] = (bits[s >> 6] & bit) ? cell_merge(acc[s], e) : e;
          }
          bits[s >> 6] |= bit;
        }
        std::size_t c = cell_start[r];
        auto emit = [&](std::uint32_t s) {
          out_row[c] = static_cast<std::uint32_t>(r);
          out_col[c] = s & col_mask;
          if (ev.event) out_event[c] = static_cast<std::uint16_t>(s >> layout.col_bits);
          if (CountsOnly) {
            out_count[c] = count[s];
            count[s] = 0;
          } else {
            out_count[c] = acc[s].count;
            out_sum[c] = acc[s].sum;
            out_first[c] = acc[s].first;
            out_last[c] = acc[s].last;
          }
          ++c;
        };
        const std::uint32_t w0 = narrow ? 0 : lo >> 6, w1 = narrow ? last_word : hi >> 6;
        if (narrow || w1 - w0 <= 2 * (b - a) + 8) {
          for (std::uint32_t w = w0; w <= w1; ++w) {
            for (std::uint64_t word = bits[w]; word != 0; word &= word - 1)
              emit(w * 64 + static_cast<std::uint32_t>(__builtin_ctzll(word)));
            bits[w] = 0;
          }
        } else {  // a few subs over a wide range: sort them instead of scanning
          order.clear();
          for (std::uint32_t p = a; p < b; ++p) {
            const std::uint32_t s = sub[p];
            const std::uint64_t bit = std::uint64_t(1) << (s & 63);
            if (bits[s >> 6] & bit) {
              order.push_back(static_cast<std::uint16_t>(s));
              bits[s >> 6] &= ~bit;
            }
          }
          std::sort(order.begin(), order.end());
          for (const std::uint16_t s : order) emit(s);
        }
      }
    }
  }
  return out;
}

}  // namespace

CellTable aggregate_events_cpu(const EventArrays& ev) {
  if (ev.size == 0) {
    CellTable empty;
    empty.counts_only = !ev.time && !ev.weight;
    return empty;
  }
  const KeyLayout layout = make_key_layout(ev.rows, ev.cols, ev.events);
  const std::size_t n = ev.size;
  const int threads = std::max(1, std::min<int>(omp_get_max_threads(), static_cast<int>((n + 65535) / 65536)));
  if (layout.col_bits + layout.event_bits <= kDenseSubBits)
    return ev.time || ev.weight ? aggregate_dense<false>(ev, layout, threads) : aggregate_dense<true>(ev, layout, threads);
  if (layout.col_bits + layout.event_bits <= 32) return aggregate_sorted<std::uint64_t>(ev, layout, threads);
  return aggregate_sorted<WideEntry>(ev, layout, threads);
}

}  // namespace cohort::cpu
