/*
 * matrix.cpp: the aggregate_events entry point (validation + backend dispatch) and the
 * matrices derived from a MatrixResult (per-event CSR of a cell value, shares, TF-IDF,
 * conversion ratio, event file stems).
 */
#include "cohort/matrix.hpp"

#include <cmath>

#include "cohort/error.hpp"
#include "host/cpu/matrix_cpu.hpp"
#include "kernels/matrix_element.hpp"
#ifdef COHORT_WITH_CUDA
#include "kernels/matrix.hpp"
#endif

namespace cohort {

void CellTable::resize(std::size_t n) {
  row.resize(n);
  col.resize(n);
  event.resize(n);
  count.resize(n);
  const std::size_t values = counts_only ? 0 : n;
  sum.resize(values);
  first.resize(values);
  last.resize(values);
}

CellTable aggregate_events(const EventArrays& events, Device device) {
  COHORT_EXPECTS(events.size < (std::size_t(1) << 32) - 1, "aggregate_events: at most 2^32 - 2 events per call");
  COHORT_EXPECTS(events.size == 0 || (events.row && events.col), "aggregate_events: row and col arrays are required");
  COHORT_EXPECTS(events.events >= 1 && events.events <= 65536, "aggregate_events: 1 to 65536 event types");
  COHORT_EXPECTS(fits(make_key_layout(events.rows, events.cols, events.events)),
                 "aggregate_events: rows x cols x event types exceed a 64-bit cell key");
  const Device resolved = resolve_device(device);
#ifdef COHORT_WITH_CUDA
  if (resolved == Device::Cuda) return cuda::aggregate_events_cuda(events);
#endif
  (void)resolved;
  return cpu::aggregate_events_cpu(events);
}

Csr cell_matrix(const MatrixResult& result, std::size_t event, CellValue value) {
  const CellTable& c = result.cells;
  Csr m;
  m.rows = static_cast<std::int64_t>(result.users.size());
  m.cols = static_cast<std::int64_t>(result.items.size());
  m.indptr.assign(static_cast<std::size_t>(m.rows) + 1, 0);
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (c.event[i] != event || (value == CellValue::MeanInterval && c.count[i] < 2)) continue;
    ++m.indptr[c.row[i] + 1];
    m.indices.push_back(static_cast<std::int32_t>(c.col[i]));
    const CellAccumulator acc{c.count[i], c.sum_at(i), c.first_at(i), c.last_at(i)};
    switch (value) {
      case CellValue::Count: m.values.push_back(static_cast<double>(acc.count)); break;
      case CellValue::Sum: m.values.push_back(acc.sum); break;
      case CellValue::First: m.values.push_back(acc.first); break;
      case CellValue::Last: m.values.push_back(acc.last); break;
      case CellValue::MeanInterval: m.values.push_back(cell_mean_interval(acc)); break;
    }
  }
  for (std::size_t r = 0; r < static_cast<std::size_t>(m.rows); ++r) m.indptr[r + 1] += m.indptr[r];
  return m;
}

Csr row_shares(const Csr& counts) {
  Csr m = counts;
  for (std::size_t r = 0; r < static_cast<std::size_t>(m.rows); ++r) {
    double total = 0.0;
    for (auto i = m.indptr[r]; i < m.indptr[r + 1]; ++i) total += m.values[static_cast<std::size_t>(i)];
    for (auto i = m.indptr[r]; i < m.indptr[r + 1]; ++i)
      m.values[static_cast<std::size_t>(i)] = total != 0.0 ? m.values[static_cast<std::size_t>(i)] / total : 0.0;
  }
  return m;
}

Csr tfidf(const Csr& counts) {
  std::vector<std::int64_t> df(static_cast<std::size_t>(counts.cols), 0);
  for (std::size_t i = 0; i < counts.nnz(); ++i)
    if (counts.values[i] != 0.0) ++df[static_cast<std::size_t>(counts.indices[i])];
  Csr m = row_shares(counts);
  const double rows = static_cast<double>(counts.rows);
  for (std::size_t i = 0; i < m.nnz(); ++i) {
    const auto d = df[static_cast<std::size_t>(m.indices[i])];
    m.values[i] = d > 0 ? m.values[i] * std::log(rows / static_cast<double>(d)) : 0.0;
  }
  return m;
}

Csr conversion_ratio(const Csr& num, const Csr& den) {
  COHORT_EXPECTS(num.rows == den.rows && num.cols == den.cols, "conversion_ratio: matrices of different shapes");
  Csr m;
  m.rows = den.rows;
  m.cols = den.cols;
  m.indptr.assign(static_cast<std::size_t>(m.rows) + 1, 0);
  for (std::size_t r = 0; r < static_cast<std::size_t>(m.rows); ++r) {
    for (auto i = den.indptr[r]; i < den.indptr[r + 1]; ++i) {
      const auto k = static_cast<std::size_t>(i);
      if (den.values[k] == 0.0) continue;
      m.indices.push_back(den.indices[k]);
      m.values.push_back(num.at(static_cast<std::int64_t>(r), den.indices[k]) / den.values[k]);
    }
    m.indptr[r + 1] = static_cast<std::int64_t>(m.indices.size());
  }
  return m;
}

}  // namespace cohort
