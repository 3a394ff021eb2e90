/*
 * train_table.hpp: the table `cohort train` reads (host/io/table_reader.cpp), before
 * encoding. Categorical columns are kept as per-column codes in first-appearance order
 * (-1 for an empty field) plus the distinct strings; continuous columns as doubles (NaN
 * for an empty field or "nan"); the target as raw text; the file line of every row.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cohort::train_detail {

struct TableSpec {
  std::string path;
  std::vector<std::string> cat_cols, cont_cols;
  std::string target;  ///< "" when not read (prediction)
  std::string id_col;  ///< "" when none; read as text
  bool target_optional = false;  ///< prediction: read the target only if present
};

struct RawTable {
  std::string path;
  std::size_t rows = 0;
  std::vector<std::vector<std::int32_t>> cat_codes;    ///< [column][row], -1 = empty
  std::vector<std::vector<std::string>> cat_values;    ///< [column][code]
  std::vector<double> cont;                            ///< rows x K
  std::vector<std::string> target;                     ///< per row (empty when not read)
  std::vector<std::string> ids;                        ///< per row (empty without id_col)
  std::vector<std::uint64_t> lines;                    ///< 1-based file line per row
};

/// Reads the columns named in spec; unknown columns throw InvalidInput listing the header,
/// a non-numeric continuous value throws InvalidInput with file:line and column.
RawTable read_table(const TableSpec& spec);

}  // namespace cohort::train_detail
