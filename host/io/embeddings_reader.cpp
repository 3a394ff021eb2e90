/*
 * embeddings_reader.cpp: embeddings for `similar` (and `segment`): .npy (float32,
 * float16 or float64; N x d) with an ids file, or CSV with the id in the first column
 * and the vector in the rest. Non-finite values and id problems are InvalidInput
 * naming the file and line (or row for .npy).
 */
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/npy.hpp"
#include "cohort/similar.hpp"

namespace cohort {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void read_npy_embeddings(Embeddings& e) {
  NpyArray<float> array = read_npy<float>(e.path);
  if (array.shape.size() != 2)
    throw InvalidInput(e.path, 0, "embeddings must be a 2-d array (rows x dimensions), got " +
                                      std::to_string(array.shape.size()) + " dimensions");
  e.rows = array.shape[0];
  e.dim = array.shape[1];
  e.data = std::move(array.data);
  for (std::size_t i = 0; i < e.data.size(); ++i)
    if (!std::isfinite(e.data[i]))
      throw InvalidInput(e.path, 0, "row " + std::to_string(i / e.dim) + ", column " + std::to_string(i % e.dim) +
                                        ": value is not finite (NaN or infinity, or beyond float32 range)");
}

void read_csv_embeddings(Embeddings& e, std::vector<std::uint64_t>& lines) {
  CsvReader reader(e.path);
  const std::size_t columns = reader.header().size();
  if (columns < 2) throw InvalidInput(e.path, 1, "embeddings CSV needs an id column and at least one value column");
  e.dim = columns - 1;
  CsvChunk chunk;
  while (reader.next(chunk)) {
    for (std::size_t r = 0; r < chunk.rows(); ++r) {
      e.ids.emplace_back(chunk.field(r, 0));
      lines.push_back(chunk.line(r));
      for (std::size_t c = 1; c < columns; ++c) {
        const double value = chunk.number(r, c);
        const auto f = static_cast<float>(value);
        if (!std::isfinite(f))
          throw InvalidInput(e.path, chunk.line(r),
                             "column '" + reader.header()[c] + "': value is not finite (NaN or infinity, or beyond "
                             "float32 range)");
        e.data.push_back(f);
      }
    }
  }
  e.rows = e.ids.size();
}

}  // namespace

Embeddings read_embeddings(const std::string& path, const std::string& ids_path) {
  Embeddings e;
  e.path = path;
  std::vector<std::uint64_t> lines;  // of each id (CSV: the record's line; ids file: i + 1)
  if (ends_with(path, ".csv")) {
    if (!ids_path.empty()) throw InvalidInput(ids_path, 0, "--ids is for .npy embeddings; a CSV holds its ids");
    read_csv_embeddings(e, lines);
  } else if (ends_with(path, ".npy")) {
    read_npy_embeddings(e);
    if (ids_path.empty()) {
      e.ids.reserve(e.rows);
      for (std::size_t i = 0; i < e.rows; ++i) e.ids.push_back(std::to_string(i));
    } else {
      e.ids = read_lines(ids_path);
      if (e.ids.size() != e.rows)
        throw InvalidInput(ids_path, 0, "has " + std::to_string(e.ids.size()) + " ids but " + path + " has " +
                                            std::to_string(e.rows) + " rows");
    }
  } else {
    throw InvalidInput(path, 0, "unknown embeddings format (expected .npy or .csv)");
  }
  std::unordered_map<std::string, std::size_t> seen;
  seen.reserve(e.ids.size());
  const std::string& id_file = ids_path.empty() ? path : ids_path;
  auto line_of = [&](std::size_t i) { return lines.empty() ? i + 1 : lines[i]; };
  for (std::size_t i = 0; i < e.ids.size(); ++i) {
    auto [it, fresh] = seen.emplace(e.ids[i], i);
    if (!fresh)
      throw InvalidInput(id_file, line_of(i),
                         "duplicate id '" + e.ids[i] + "' (first on line " + std::to_string(line_of(it->second)) + ")");
  }
  return e;
}

}  // namespace cohort
