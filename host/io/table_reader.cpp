/*
 * table_reader.cpp: reads the CSV table of `cohort train` through CsvReader: categorical
 * columns interned as codes (first appearance), continuous columns parsed as doubles
 * (empty -> NaN, reported later by the trainer with the line), target and id as text.
 */
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "host/cpu/train_table.hpp"

namespace cohort::train_detail {
namespace {

bool blank(std::string_view s) {
  for (char ch : s)
    if (ch != ' ' && ch != '\t') return false;
  return true;
}

}  // namespace

RawTable read_table(const TableSpec& spec) {
  CsvReader reader(spec.path);
  RawTable table;
  table.path = spec.path;
  const std::size_t C = spec.cat_cols.size(), K = spec.cont_cols.size();
  std::vector<std::size_t> cat_idx, cont_idx;
  for (const auto& name : spec.cat_cols) cat_idx.push_back(reader.column(name));
  for (const auto& name : spec.cont_cols) cont_idx.push_back(reader.column(name));
  std::optional<std::size_t> target_idx, id_idx;
  if (!spec.target.empty()) {
    target_idx = spec.target_optional ? reader.find_column(spec.target) : std::optional(reader.column(spec.target));
  }
  if (!spec.id_col.empty()) id_idx = reader.column(spec.id_col);
  table.cat_codes.resize(C);
  table.cat_values.resize(C);
  std::vector<std::unordered_map<std::string, std::int32_t>> maps(C);
  CsvChunk chunk;
  while (reader.next(chunk)) {
    const std::size_t n = chunk.rows();
    for (std::size_t r = 0; r < n; ++r) {
      table.lines.push_back(chunk.line(r));
      for (std::size_t c = 0; c < C; ++c) {
        const std::string_view text = chunk.field(r, cat_idx[c]);
        std::int32_t code = -1;
        if (!blank(text)) {
          auto [it, inserted] = maps[c].try_emplace(std::string(text), static_cast<std::int32_t>(maps[c].size()));
          if (inserted) table.cat_values[c].push_back(it->first);
          code = it->second;
        }
        table.cat_codes[c].push_back(code);
      }
      for (std::size_t k = 0; k < K; ++k)
        table.cont.push_back(blank(chunk.field(r, cont_idx[k])) ? std::numeric_limits<double>::quiet_NaN()
                                                                : chunk.number(r, cont_idx[k]));
      if (target_idx) table.target.emplace_back(chunk.field(r, *target_idx));
      if (id_idx) table.ids.emplace_back(chunk.field(r, *id_idx));
    }
    table.rows += n;
  }
  if (table.rows == 0) throw InvalidInput(spec.path, 0, "the table has no data rows");
  return table;
}

}  // namespace cohort::train_detail
