/*
 * matrix_reader.cpp: the file stems of a matrix directory's event types, and
 * read_matrix_counts, a `cohort matrix` directory read back for the
 * engines that build on it (train's bag input, the pipeline's analysis): ids, and the
 * counts of one event type or the sum over all of them.
 */
#include <algorithm>
#include <filesystem>
#include <set>

#include "cohort/atomic_file.hpp"
#include "cohort/error.hpp"
#include "cohort/matrix.hpp"

namespace cohort {
namespace {

namespace fs = std::filesystem;

Csr read_counts_file(const std::string& dir, const std::string& stem) {
  if (fs::exists(dir + "/" + stem + ".mtx")) return read_mtx(dir + "/" + stem + ".mtx");
  if (fs::exists(dir + "/" + stem + ".indptr.npy")) return read_csr_npy(dir + "/" + stem);
  throw InvalidInput(dir, 0, "no counts matrix " + stem + ".mtx or " + stem + ".indptr.npy");
}

// Sum of several matrices of one shape (entries of a row sorted by column).
Csr sum_matrices(const std::vector<Csr>& parts, std::int64_t rows, std::int64_t cols) {
  Csr out;
  out.rows = rows, out.cols = cols;
  std::vector<std::pair<std::int32_t, double>> row;
  for (std::int64_t r = 0; r < rows; ++r) {
    row.clear();
    for (const auto& m : parts)
      for (auto k = m.indptr[static_cast<std::size_t>(r)]; k < m.indptr[static_cast<std::size_t>(r) + 1]; ++k)
        row.emplace_back(m.indices[static_cast<std::size_t>(k)], m.values[static_cast<std::size_t>(k)]);
    std::sort(row.begin(), row.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    const std::size_t row_start = out.indices.size();
    for (const auto& [col, value] : row) {
      if (out.indices.size() > row_start && out.indices.back() == col) {
        out.values.back() += value;
      } else {
        out.indices.push_back(col);
        out.values.push_back(value);
      }
    }
    out.indptr.push_back(static_cast<std::int64_t>(out.indices.size()));
  }
  return out;
}

}  // namespace

std::vector<std::string> event_file_stems(const MatrixResult& result) {
  if (!result.has_event) return {"counts"};
  std::set<std::string> taken{"users", "items", "events", "counts", "attributes", "conversion"};
  std::vector<std::string> stems;
  for (std::size_t e = 0; e < result.events.size(); ++e) {
    std::string stem;
    for (const char c : result.events[e]) {
      const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      stem += safe ? c : '_';
    }
    if (stem.empty()) stem = "event";
    if (taken.count(stem)) stem += "_" + std::to_string(e);
    taken.insert(stem);
    stems.push_back(stem);
  }
  return stems;
}

MatrixCounts read_matrix_counts(const std::string& dir, const std::string& event) {
  if (!fs::is_directory(dir)) throw InvalidInput(dir, 0, "not a directory (expected a `cohort matrix` output)");
  MatrixCounts m;
  m.users = read_lines(dir + "/users.txt");
  m.items = read_lines(dir + "/items.txt");
  // Event types as written: their file stems come from events.txt (absent: one "counts").
  MatrixResult names;
  names.has_event = fs::exists(dir + "/events.txt");
  names.events = names.has_event ? read_lines(dir + "/events.txt") : std::vector<std::string>{""};
  const auto stems = event_file_stems(names);
  std::vector<std::string> chosen;
  for (std::size_t e = 0; e < stems.size(); ++e)
    if (event.empty() || names.events[e] == event || stems[e] == event) chosen.push_back(stems[e]);
  if (chosen.empty()) {
    std::string known;
    for (const auto& name : names.events) known += (known.empty() ? "" : ", ") + name;
    throw InvalidInput(dir, 0, "no event type '" + event + "' (events.txt has: " + known + ")");
  }
  std::vector<Csr> parts;
  for (const auto& stem : chosen) {
    parts.push_back(read_counts_file(dir, stem));
    const Csr& c = parts.back();
    if (static_cast<std::size_t>(c.rows) != m.users.size() || static_cast<std::size_t>(c.cols) != m.items.size())
      throw InvalidInput(dir, 0, stem + ": " + std::to_string(c.rows) + " x " + std::to_string(c.cols) +
                                     ", but users.txt x items.txt is " + std::to_string(m.users.size()) + " x " +
                                     std::to_string(m.items.size()));
  }
  m.counts = parts.size() == 1 ? std::move(parts[0])
                               : sum_matrices(parts, static_cast<std::int64_t>(m.users.size()),
                                              static_cast<std::int64_t>(m.items.size()));
  return m;
}

}  // namespace cohort
