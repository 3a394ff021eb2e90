/*
 * matrix.hpp: the user x item interaction matrix from an event log.
 *
 * Pipeline (build_matrix): EventReader chunks -> string ids encoded to provisional
 * dense ids (first-seen order; with CUDA, equal ids grouped on the device and each
 * distinct one looked up on the host) -> each chunk aggregated into cells on the
 * chosen backend (aggregate_events) -> merged with the earlier chunks' cells (memory:
 * one chunk + about 1.5 x the distinct cells + the dictionaries) -> at the end ids
 * are renumbered into their final order and the cells re-sorted.
 *
 * Id order (users.txt, items.txt, events.txt): sorted by byte value (memcmp order of
 * the UTF-8 bytes), so the result does not depend on the order of the log or the
 * chunk size. Row i of every matrix is line i+1 of users.txt, column j is line j+1
 * of items.txt.
 *
 * Cells: per (user, item, event type) with at least one event: count, sum of weights
 * (weight 1 without a weight column), first and last time (min and max; 0 without a
 * time column), mean interval = (last - first) / (count - 1) for count >= 2. A cell
 * with one event has no interval: it is absent from <event>.interval.mtx and empty
 * in the long CSV. Cells are sorted by (row, event, col).
 *
 * Backends: identical cells (each cell is folded in event order on both). The table
 * holds counts only (CellTable::counts_only) when the log has neither time nor weight.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cohort/backend.hpp"
#include "cohort/events.hpp"
#include "cohort/sparse.hpp"

namespace cohort {

/// Encoded events (views, not owned). event == nullptr means one event type (0);
/// time == nullptr gives first = last = 0; weight == nullptr means weight 1.
struct EventArrays {
  const std::uint32_t* row = nullptr;
  const std::uint32_t* col = nullptr;
  const std::uint16_t* event = nullptr;
  const double* time = nullptr;
  const double* weight = nullptr;
  std::size_t size = 0;
  std::uint32_t rows = 0, cols = 0, events = 1;  ///< id ranges: row < rows, ...
};

/// Aggregated cells, unique and sorted by (row, event, col).
/// counts_only (events without time and weight): sum, first and last are not stored,
/// which saves 24 of 42 bytes per cell; read them through sum_at, first_at, last_at
/// (sum = count, first = last = 0).
struct CellTable {
  std::vector<std::uint32_t> row, col;
  std::vector<std::uint16_t> event;
  std::vector<std::int64_t> count;
  std::vector<double> sum, first, last;  ///< empty when counts_only
  bool counts_only = false;
  std::size_t size() const { return row.size(); }
  void resize(std::size_t n);  ///< sum, first, last too unless counts_only
  double sum_at(std::size_t i) const { return counts_only ? static_cast<double>(count[i]) : sum[i]; }
  double first_at(std::size_t i) const { return counts_only ? 0.0 : first[i]; }
  double last_at(std::size_t i) const { return counts_only ? 0.0 : last[i]; }
};

/// Aggregates encoded events into cells on a backend.
/// @pre ids within their ranges; size < 2^32; time/weight finite.
/// @note empty input gives an empty table.
CellTable aggregate_events(const EventArrays& events, Device device = Device::Auto);

/// User attributes resolved per user (see build_matrix).
struct AttributeTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> values;  ///< [user][column]
  std::vector<std::uint64_t> conflicts;           ///< per column: users with > 1 distinct value
  std::uint64_t users_conflicted = 0;             ///< users with a conflict in any column
};

struct MatrixOptions {
  EventReaderOptions reader;
  Device device = Device::Auto;
};

struct MatrixResult {
  std::vector<std::string> users, items, events;  ///< events: {""} without an event column
  CellTable cells;                                ///< final ids
  bool has_time = false, has_weight = false, has_event = false;
  AttributeTable attributes;
  std::uint64_t events_read = 0, events_skipped = 0;
  std::string format;  ///< what the reader detected
};

/// Reads the log at path in chunks and aggregates it (see the top of this file).
/// Attributes: per user and column, a known value (not empty, 'U', 'unknown', 'null',
/// 'NA', 'N/A', case-insensitive) beats an unknown one, then the most frequent value
/// wins, ties to the value seen first. A user conflicts in a column when it has more
/// than one distinct raw value there.
MatrixResult build_matrix(const std::string& path, const MatrixOptions& options);

enum class CellValue { Count, Sum, First, Last, MeanInterval };

/// One event type's matrix (users x items) of one cell value. MeanInterval holds only
/// cells with count >= 2.
Csr cell_matrix(const MatrixResult& result, std::size_t event, CellValue value);
/// Each row divided by its sum (rows summing to 0 stay empty).
Csr row_shares(const Csr& counts);
/// TF-IDF: tf = count / row sum, idf = ln(rows / df) with df = number of rows with a
/// nonzero in the column (columns with df = 0 have no entries).
Csr tfidf(const Csr& counts);
/// num / den on den's nonzero cells (num's cells outside den's pattern are dropped).
Csr conversion_ratio(const Csr& num, const Csr& den);

/// File-name stems of event types: bytes outside [A-Za-z0-9_-] become '_' ('View
/// Project' -> 'View_Project'); "" -> "event"; a stem taken by an earlier event type
/// or by a reserved name (users, items, events, counts, attributes, conversion) gets
/// "_<index>" appended (index in events.txt, from 0). Without an event column: "counts".
std::vector<std::string> event_file_stems(const MatrixResult& result);

struct MatrixWriteOptions {
  std::string format = "mtx";  ///< "mtx", "npy" (CSR .npy triples) or "both"
  bool shares = false, tfidf = false;
  std::string conversion;      ///< "NUM/DEN" event names (raw or file stems) or ""
  std::string long_csv;        ///< path of the long CSV, or ""
};

/// "NUM/DEN" -> (NUM, DEN), split at the first '/' (the --conversion syntax of `cohort
/// matrix` and `cohort segment`); no '/' throws InvalidInput.
std::pair<std::string, std::string> split_conversion(const std::string& spec);

/// Writes DIR/users.txt, items.txt, events.txt, per event type <stem>.mtx (counts),
/// <stem>.sum.mtx (with weights), <stem>.first/.last/.interval.mtx (with times),
/// <stem>.shares.mtx, <stem>.tfidf.mtx, conversion.mtx, attributes.csv and
/// attribute_conflicts.csv (column,users_conflicted; last row "(any)"); all atomic.
/// With format npy each matrix M is M.indptr.npy / M.indices.npy / M.data.npy instead.
/// DIR/files.txt lists the files written; a later call into the same DIR removes those
/// the earlier one listed and it does not write again (e.g. the event types of a log
/// with an event column, when the next has none), and nothing else.
void write_matrix(const MatrixResult& result, const std::string& dir, const MatrixWriteOptions& options);

/// The long CSV: user,item,event,count,sum,first,last,mean_interval (one row per cell).
void write_long_csv(const MatrixResult& result, const std::string& path);

/// A matrix directory read back: its ids and the counts of one event type or of all.
struct MatrixCounts {
  std::vector<std::string> users, items;
  Csr counts;  ///< users x items
};
/// Reads DIR/users.txt, items.txt and the counts of `event` (a raw name from events.txt
/// or its file stem; "" = the sum over every event type) from <stem>.mtx or the CSR .npy
/// triple. InvalidInput names the directory and what is missing or inconsistent.
MatrixCounts read_matrix_counts(const std::string& dir, const std::string& event = "");

}  // namespace cohort
