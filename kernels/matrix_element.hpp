/*
 * matrix_element.hpp: per-element code of the matrix engine, shared by the CPU backend
 * (g++) and the CUDA kernels (nvcc).
 *
 * Cell key: (row, event, col) packed into 64 bits, row in the high bits, so that
 * sorting keys orders cells by row, then event type, then column:
 *     key = row << (event_bits + col_bits) | event << col_bits | col
 * Cell accumulator: count, sum of weights, first (min) and last (max) time. merge is
 * associative and commutative for count/first/last (exact in any order); the sum is a
 * floating-point sum, exact when weights are integers below 2^53 in total.
 */
#pragma once

#include <cstdint>

#include "cohort/config.hpp"

namespace cohort {

struct KeyLayout {
  unsigned col_bits = 0, event_bits = 0, row_bits = 0;
};

COHORT_HD inline unsigned bits_for(std::uint64_t n) {
  unsigned bits = 0;
  while (bits < 64 && (std::uint64_t(1) << bits) < n) ++bits;
  return bits;
}

/// Bits for ids in [0, n) of each kind; row_bits + event_bits + col_bits may exceed 64
/// (the caller must check fits()).
inline KeyLayout make_key_layout(std::uint64_t rows, std::uint64_t cols, std::uint64_t events) {
  return KeyLayout{bits_for(cols), bits_for(events), bits_for(rows)};
}
inline bool fits(const KeyLayout& k) { return k.col_bits + k.event_bits + k.row_bits <= 64; }

COHORT_HD inline std::uint64_t pack_cell_key(std::uint32_t row, std::uint32_t event, std::uint32_t col, KeyLayout k) {
  return (std::uint64_t(row) << (k.event_bits + k.col_bits)) | (std::uint64_t(event) << k.col_bits) | col;
}
COHORT_HD inline std::uint32_t key_row(std::uint64_t key, KeyLayout k) {
  return static_cast<std::uint32_t>(key >> (k.event_bits + k.col_bits));
}
COHORT_HD inline std::uint32_t key_event(std::uint64_t key, KeyLayout k) {
  return static_cast<std::uint32_t>((key >> k.col_bits) & ((std::uint64_t(1) << k.event_bits) - 1));
}
COHORT_HD inline std::uint32_t key_col(std::uint64_t key, KeyLayout k) {
  return static_cast<std::uint32_t>(key & ((std::uint64_t(1) << k.col_bits) - 1));
}
/// The part of a key below the row (event, col): what the CPU sorts within a row.
COHORT_HD inline std::uint64_t sub_key(std::uint32_t event, std::uint32_t col, KeyLayout k) {
  return (std::uint64_t(event) << k.col_bits) | col;
}

struct CellAccumulator {
  long long count;
  double sum, first, last;
};

/// One event as a cell of its own.
COHORT_HD inline CellAccumulator cell_from_event(double time, double weight) {
  return CellAccumulator{1, weight, time, time};
}

COHORT_HD inline CellAccumulator cell_merge(const CellAccumulator& a, const CellAccumulator& b) {
  return CellAccumulator{a.count + b.count, a.sum + b.sum, b.first < a.first ? b.first : a.first,
                         b.last > a.last ? b.last : a.last};
}

/// Mean gap between successive events of a cell: (last - first) / (count - 1);
/// undefined (returns 0) for a single event; the writers leave such cells out.
COHORT_HD inline double cell_mean_interval(const CellAccumulator& c) {
  return c.count > 1 ? (c.last - c.first) / static_cast<double>(c.count - 1) : 0.0;
}

}  // namespace cohort
