/* sparse.cpp: Csr lookups and the Matrix Market / CSR .npy readers and writers. */
#include "cohort/sparse.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <tuple>

#include "cohort/atomic_file.hpp"
#include "cohort/error.hpp"
#include "cohort/npy.hpp"

namespace cohort {

double Csr::at(std::int64_t row, std::int64_t col) const {
  const auto begin = indices.begin() + indptr[static_cast<std::size_t>(row)];
  const auto end = indices.begin() + indptr[static_cast<std::size_t>(row) + 1];
  const auto it = std::lower_bound(begin, end, static_cast<std::int32_t>(col));
  return (it != end && *it == col) ? values[static_cast<std::size_t>(it - indices.begin())] : 0.0;
}

void write_mtx(const std::string& path, const Csr& m, bool integer_values, const std::string& comment) {
  AtomicFile out(path);
  std::FILE* f = out.stream();
  std::fprintf(f, "%%%%MatrixMarket matrix coordinate %s general\n", integer_values ? "integer" : "real");
  if (!comment.empty()) {
    std::istringstream lines(comment);
    std::string line;
    while (std::getline(lines, line)) std::fprintf(f, "%% %s\n", line.c_str());
  }
  std::fprintf(f, "%" PRId64 " %" PRId64 " %zu\n", m.rows, m.cols, m.nnz());
  // Entries formatted with to_chars into a block buffer (printf's %.17g cost more than
  // the whole aggregation): integers exactly (values rounded as %.0f would), reals in
  // the shortest form that reads back as the same double.
  std::string block;
  block.reserve((1 << 20) + 128);
  auto append = [&block](auto value) {
    char text[32];  // to_chars needs at most 24 characters for an int64 or a double
    block.append(text, std::to_chars(text, text + sizeof text, value).ptr);
  };
  for (std::int64_t r = 0; r < m.rows; ++r)
    for (std::int64_t i = m.indptr[static_cast<std::size_t>(r)]; i < m.indptr[static_cast<std::size_t>(r) + 1]; ++i) {
      const auto k = static_cast<std::size_t>(i);
      append(r + 1);
      block += ' ';
      append(m.indices[k] + 1);
      block += ' ';
      if (integer_values)
        append(static_cast<std::int64_t>(std::nearbyint(m.values[k])));
      else
        append(m.values[k]);
      block += '\n';
      if (block.size() >= (1 << 20)) {
        std::fwrite(block.data(), 1, block.size(), f);
        block.clear();
      }
    }
  std::fwrite(block.data(), 1, block.size(), f);
  out.commit();
}

Csr read_mtx(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InvalidInput(path, 0, "cannot open");
  std::string line;
  std::uint64_t line_no = 1;
  if (!std::getline(in, line) || line.rfind("%%MatrixMarket", 0) != 0)
    throw InvalidInput(path, 1, "not a Matrix Market file (no %%MatrixMarket banner)");
  std::istringstream banner(line);
  std::string tag, object, format, field, symmetry;
  banner >> tag >> object >> format >> field >> symmetry;
  if (object != "matrix" || format != "coordinate")
    throw InvalidInput(path, 1, "only 'matrix coordinate' Matrix Market files are supported");
  const bool pattern = field == "pattern";
  if (!pattern && field != "integer" && field != "real")
    throw InvalidInput(path, 1, "unsupported Matrix Market field '" + field + "'");
  const bool symmetric = symmetry == "symmetric";
  if (!symmetric && symmetry != "general")
    throw InvalidInput(path, 1, "unsupported Matrix Market symmetry '" + symmetry + "'");
  do {
    if (!std::getline(in, line)) throw InvalidInput(path, line_no, "missing size line");
    ++line_no;
  } while (line.empty() || line[0] == '%');
  Csr m;
  std::uint64_t nnz = 0;
  if (std::sscanf(line.c_str(), "%" SCNd64 " %" SCNd64 " %" SCNu64, &m.rows, &m.cols, &nnz) != 3 || m.rows < 0 ||
      m.cols < 0)
    throw InvalidInput(path, line_no, "malformed size line '" + line + "'");
  std::vector<std::tuple<std::int64_t, std::int32_t, double>> entries;
  entries.reserve(symmetric ? 2 * nnz : nnz);
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '%') continue;
    std::int64_t r = 0, c = 0;
    double v = 1.0;
    const int got = pattern ? std::sscanf(line.c_str(), "%" SCNd64 " %" SCNd64, &r, &c)
                            : std::sscanf(line.c_str(), "%" SCNd64 " %" SCNd64 " %lf", &r, &c, &v);
    if (got != (pattern ? 2 : 3)) throw InvalidInput(path, line_no, "malformed entry '" + line + "'");
    if (r < 1 || r > m.rows || c < 1 || c > m.cols) throw InvalidInput(path, line_no, "entry outside the matrix");
    entries.emplace_back(r - 1, static_cast<std::int32_t>(c - 1), v);
    if (symmetric && r != c) entries.emplace_back(c - 1, static_cast<std::int32_t>(r - 1), v);
  }
  if (entries.size() != (symmetric ? entries.size() : nnz))
    throw InvalidInput(path, line_no, "expected " + std::to_string(nnz) + " entries, found " + std::to_string(entries.size()));
  std::sort(entries.begin(), entries.end());
  m.indptr.assign(static_cast<std::size_t>(m.rows) + 1, 0);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto [r, c, v] = entries[i];
    if (!m.indices.empty() && i > 0 && std::get<0>(entries[i - 1]) == r && std::get<1>(entries[i - 1]) == c) {
      m.values.back() += v;  // duplicates are summed, as scipy does
      continue;
    }
    m.indices.push_back(c);
    m.values.push_back(v);
    ++m.indptr[static_cast<std::size_t>(r) + 1];
  }
  for (std::size_t r = 0; r < static_cast<std::size_t>(m.rows); ++r) m.indptr[r + 1] += m.indptr[r];
  return m;
}

void write_csr_npy(const std::string& prefix, const Csr& m) {
  write_npy(prefix + ".indptr.npy", m.indptr.data(), {m.indptr.size()});
  write_npy(prefix + ".indices.npy", m.indices.data(), {m.indices.size()});
  write_npy(prefix + ".data.npy", m.values.data(), {m.values.size()});
}

Csr read_csr_npy(const std::string& prefix) {
  Csr m;
  m.indptr = read_npy<std::int64_t>(prefix + ".indptr.npy").data;
  m.indices = read_npy<std::int32_t>(prefix + ".indices.npy").data;
  m.values = read_npy<double>(prefix + ".data.npy").data;
  if (m.indptr.empty() || m.indices.size() != m.values.size() ||
      m.indptr.back() != static_cast<std::int64_t>(m.indices.size()))
    throw InvalidInput(prefix + ".indptr.npy", 0, "inconsistent CSR triple (indptr/indices/data sizes disagree)");
  m.rows = static_cast<std::int64_t>(m.indptr.size()) - 1;
  std::int32_t max_col = -1;
  for (auto c : m.indices) max_col = std::max(max_col, c);
  m.cols = max_col + 1;
  return m;
}

}  // namespace cohort
