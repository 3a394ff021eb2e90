/*
 * sparse.hpp: the CSR matrix type shared by the engines, and its file formats.
 *
 * Csr: rows x cols, indptr (rows + 1, 64-bit), indices (column of each stored value,
 * sorted within a row), values (double). Files:
 *   Matrix Market (.mtx): "coordinate integer|real general", 1-based, one entry per
 *     line in row-major order; scipy.io.mmread reads it.
 *   CSR .npy triple: <prefix>.indptr.npy (int64), <prefix>.indices.npy (int32),
 *     <prefix>.data.npy (float64): scipy.sparse.csr_matrix((data, indices, indptr)).
 * Writers are atomic; readers throw InvalidInput with file and line.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cohort {

struct Csr {
  std::int64_t rows = 0, cols = 0;
  std::vector<std::int64_t> indptr{0};
  std::vector<std::int32_t> indices;
  std::vector<double> values;
  std::size_t nnz() const { return indices.size(); }
  /// Value at (row, col), 0 when not stored (binary search in the row).
  double at(std::int64_t row, std::int64_t col) const;
};

/// integer_values writes "integer" (counts) instead of "real"; values must then be whole.
void write_mtx(const std::string& path, const Csr& matrix, bool integer_values, const std::string& comment = "");
/// Reads coordinate general/symmetric files (integer, real or pattern); duplicates are summed.
Csr read_mtx(const std::string& path);

void write_csr_npy(const std::string& prefix, const Csr& matrix);
Csr read_csr_npy(const std::string& prefix);

}  // namespace cohort
