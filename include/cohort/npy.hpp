/*
 * npy.hpp: NumPy .npy files (format version 1.0/2.0/3.0 read, 1.0 written).
 *
 * Supported dtypes: float16 (read only), float32, float64, int32, int64, little-endian,
 * C order. Files written here load with numpy.load. Writes are atomic. For inputs
 * larger than memory, NpyReader reads a range of rows at a time.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace cohort {

class AtomicFile;

enum class DType { F16, F32, F64, I32, I64 };

std::size_t dtype_size(DType dtype);
/// The numpy descr string, e.g. "<f4".
const char* dtype_descr(DType dtype);

template <typename T>
struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
template <> struct DTypeOf<std::int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<std::int64_t> { static constexpr DType value = DType::I64; };

struct NpyHeader {
  DType dtype = DType::F32;
  std::vector<std::size_t> shape;
  std::size_t data_offset = 0;  ///< bytes from the file start to the data
  std::size_t count() const;    ///< number of elements
  /// Elements per row: the product of shape[1:] (1 for a 1-d array).
  std::size_t row_size() const;
  std::size_t rows() const { return shape.empty() ? 1 : shape[0]; }
};

/// Parses the header bytes of a .npy file; throws InvalidInput(path, ...) on anything
/// unsupported (big-endian, Fortran order, other dtypes, truncation).
NpyHeader parse_npy_header(const std::string& bytes, const std::string& path);
/// The exact bytes numpy writes before the data (version 1.0, padded to 64 bytes);
/// with min_length, padded with more spaces up to at least that many bytes.
std::string make_npy_header(DType dtype, const std::vector<std::size_t>& shape, std::size_t min_length = 0);

/// Streams rows of an .npy file, converting to T.
class NpyReader {
 public:
  explicit NpyReader(std::string path);
  ~NpyReader();
  NpyReader(const NpyReader&) = delete;
  NpyReader& operator=(const NpyReader&) = delete;
  const NpyHeader& header() const { return header_; }
  const std::string& path() const { return path_; }
  /// Reads rows [first, first + count) into out (count * row_size values).
  template <typename T>
  void read_rows(std::size_t first, std::size_t count, T* out);

 private:
  void read_raw(std::size_t first, std::size_t count, std::vector<unsigned char>& raw);
  std::string path_;
  std::FILE* file_ = nullptr;
  NpyHeader header_;
  std::vector<unsigned char> raw_;
};

/// A whole array converted to T.
template <typename T>
struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<T> data;
  std::size_t rows() const { return shape.empty() ? 1 : shape[0]; }
  std::size_t cols() const { return shape.size() < 2 ? 1 : data.size() / (rows() ? rows() : 1); }
};

template <typename T>
NpyArray<T> read_npy(const std::string& path);

/// Writes data (C order, shape given) atomically.
template <typename T>
void write_npy(const std::string& path, const T* data, const std::vector<std::size_t>& shape);

/// Writes an .npy file of T whose row count is known only at the end (a join's pairs):
/// rows are appended as they come, and commit() rewrites the header, written first
/// with room for any row count, in place. Atomic like write_npy.
template <typename T>
class NpyRowWriter {
 public:
  NpyRowWriter(std::string path, std::size_t row_size);
  ~NpyRowWriter();
  NpyRowWriter(const NpyRowWriter&) = delete;
  NpyRowWriter& operator=(const NpyRowWriter&) = delete;
  /// Appends rows (rows x row_size values).
  void append(const T* data, std::size_t rows);
  void commit();

 private:
  std::unique_ptr<AtomicFile> out_;
  std::size_t row_size_, rows_ = 0, header_length_;
};

/// IEEE half -> float (for float16 embeddings).
float half_to_float(std::uint16_t h);

}  // namespace cohort
