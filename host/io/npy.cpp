/* npy.cpp: .npy header parsing/writing and typed row reads with conversion. */
#include "cohort/npy.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>

#include "cohort/atomic_file.hpp"
#include "cohort/error.hpp"

namespace cohort {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;

// Value text of key in the header dict: "'descr': '<f4'" -> "'<f4'".
std::string dict_value(const std::string& dict, const std::string& key, const std::string& path) {
  const std::size_t at = dict.find("'" + key + "'");
  if (at == std::string::npos) throw InvalidInput(path, 0, "npy header has no '" + key + "' entry");
  std::size_t colon = dict.find(':', at);
  if (colon == std::string::npos) throw InvalidInput(path, 0, "malformed npy header");
  std::size_t begin = colon + 1;
  while (begin < dict.size() && dict[begin] == ' ') ++begin;
  std::size_t end = begin;
  if (begin < dict.size() && dict[begin] == '(') {
    end = dict.find(')', begin);
    if (end == std::string::npos) throw InvalidInput(path, 0, "malformed npy shape");
    ++end;
  } else {
    while (end < dict.size() && dict[end] != ',' && dict[end] != '}') ++end;
  }
  return dict.substr(begin, end - begin);
}

template <typename Out>
void convert(DType dtype, const unsigned char* raw, std::size_t count, Out* out) {
  auto cast_all = [&](auto tag) {
    using In = decltype(tag);
    for (std::size_t i = 0; i < count; ++i) {
      In value;
      std::memcpy(&value, raw + i * sizeof(In), sizeof(In));
      out[i] = static_cast<Out>(value);
    }
  };
  switch (dtype) {
    case DType::F16:
      for (std::size_t i = 0; i < count; ++i) {
        std::uint16_t h;
        std::memcpy(&h, raw + i * 2, 2);
        out[i] = static_cast<Out>(half_to_float(h));
      }
      break;
    case DType::F32: cast_all(float{}); break;
    case DType::F64: cast_all(double{}); break;
    case DType::I32: cast_all(std::int32_t{}); break;
    case DType::I64: cast_all(std::int64_t{}); break;
  }
}

}  // namespace

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F16: return 2;
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::I32: return 4;
    case DType::I64: return 8;
  }
  return 0;
}

const char* dtype_descr(DType dtype) {
  switch (dtype) {
    case DType::F16: return "<f2";
    case DType::F32: return "<f4";
    case DType::F64: return "<f8";
    case DType::I32: return "<i4";
    case DType::I64: return "<i8";
  }
  return "?";
}

std::size_t NpyHeader::count() const {
  std::size_t n = 1;
  for (std::size_t s : shape) n *= s;
  return n;
}

std::size_t NpyHeader::row_size() const {
  std::size_t n = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

float half_to_float(std::uint16_t h) {
  const int sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  float value;
  if (exponent == 0) value = std::ldexp(static_cast<float>(mantissa), -24);
  else if (exponent == 31) value = mantissa ? NAN : INFINITY;
  else value = std::ldexp(static_cast<float>(mantissa + 1024), exponent - 25);
  return sign ? -value : value;
}

NpyHeader parse_npy_header(const std::string& bytes, const std::string& path) {
  if (bytes.size() < 10 || bytes.compare(0, kMagicSize, kMagic, kMagicSize) != 0)
    throw InvalidInput(path, 0, "not a .npy file (bad magic bytes)");
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw InvalidInput(path, 0, "truncated npy header");
    for (int i = 0; i < 4; ++i)
      header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    prefix = 12;
  } else {
    throw InvalidInput(path, 0, "unsupported npy format version " + std::to_string(major));
  }
  if (bytes.size() < prefix + header_len) throw InvalidInput(path, 0, "truncated npy header");
  const std::string dict = bytes.substr(prefix, header_len);
  NpyHeader header;
  header.data_offset = prefix + header_len;

  const std::string descr = dict_value(dict, "descr", path);
  if (descr == "'<f2'") header.dtype = DType::F16;
  else if (descr == "'<f4'") header.dtype = DType::F32;
  else if (descr == "'<f8'") header.dtype = DType::F64;
  else if (descr == "'<i4'") header.dtype = DType::I32;
  else if (descr == "'<i8'") header.dtype = DType::I64;
  else throw InvalidInput(path, 0, "unsupported npy dtype " + descr + " (float16/32/64 or int32/64, little-endian)");

  if (dict_value(dict, "fortran_order", path) != "False")
    throw InvalidInput(path, 0, "Fortran-order npy arrays are not supported (save with C order)");

  const std::string shape = dict_value(dict, "shape", path);
  std::size_t i = 1;
  while (i < shape.size()) {
    while (i < shape.size() && (shape[i] == ' ' || shape[i] == ',')) ++i;
    if (i >= shape.size() || shape[i] == ')') break;
    std::size_t value = 0;
    bool digits = false;
    while (i < shape.size() && shape[i] >= '0' && shape[i] <= '9') {
      value = value * 10 + static_cast<std::size_t>(shape[i] - '0');
      ++i;
      digits = true;
    }
    if (!digits) throw InvalidInput(path, 0, "malformed npy shape " + shape);
    header.shape.push_back(value);
  }
  return header;
}

std::string make_npy_header(DType dtype, const std::vector<std::size_t>& shape, std::size_t min_length) {
  std::string dims;
  for (std::size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ",";
  std::string dict = std::string("{'descr': '") + dtype_descr(dtype) + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  const std::size_t unpadded = 10 + dict.size() + 1;  // magic+version+len, dict, '\n'
  const std::size_t length = std::max(unpadded + (64 - unpadded % 64) % 64, min_length);
  dict.append(length - unpadded, ' ');
  dict += '\n';
  std::string header(kMagic, kMagicSize);
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>((dict.size() >> 8) & 0xff);
  return header + dict;
}

NpyReader::NpyReader(std::string path) : path_(std::move(path)) {
  file_ = std::fopen(path_.c_str(), "rb");
  if (!file_) throw InvalidInput(path_, 0, std::string("cannot open: ") + std::strerror(errno));
  std::string prefix(12, '\0');
  const std::size_t got = std::fread(prefix.data(), 1, prefix.size(), file_);
  prefix.resize(got);
  if (got < 10 || prefix.compare(0, kMagicSize, kMagic, kMagicSize) != 0)
    throw InvalidInput(path_, 0, "not a .npy file (bad magic bytes)");
  std::size_t header_len = static_cast<unsigned char>(prefix[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(prefix[9])) << 8);
  if (prefix[6] != '\x01' && got == 12)
    header_len |= (static_cast<std::size_t>(static_cast<unsigned char>(prefix[10])) << 16) |
                  (static_cast<std::size_t>(static_cast<unsigned char>(prefix[11])) << 24);
  std::string bytes(12 + header_len, '\0');
  std::fseek(file_, 0, SEEK_SET);
  bytes.resize(std::fread(bytes.data(), 1, bytes.size(), file_));
  header_ = parse_npy_header(bytes, path_);
  std::fseek(file_, 0, SEEK_END);
  const long size = std::ftell(file_);
  const std::size_t expected = header_.data_offset + header_.count() * dtype_size(header_.dtype);
  if (size < 0 || static_cast<std::size_t>(size) < expected)
    throw InvalidInput(path_, 0, "truncated npy data: expected " + std::to_string(expected) + " bytes, file has " +
                                     std::to_string(size));
}

NpyReader::~NpyReader() {
  if (file_) std::fclose(file_);
}

void NpyReader::read_raw(std::size_t first, std::size_t count, std::vector<unsigned char>& raw) {
  const std::size_t row_bytes = header_.row_size() * dtype_size(header_.dtype);
  if (first + count > header_.rows()) throw Error("npy row range out of bounds in " + path_);
  raw.resize(count * row_bytes);
  if (std::fseek(file_, static_cast<long>(header_.data_offset + first * row_bytes), SEEK_SET) != 0 ||
      std::fread(raw.data(), 1, raw.size(), file_) != raw.size())
    throw InvalidInput(path_, 0, "read error");
}

template <typename T>
void NpyReader::read_rows(std::size_t first, std::size_t count, T* out) {
  read_raw(first, count, raw_);
  convert(header_.dtype, raw_.data(), count * header_.row_size(), out);
}

template <typename T>
NpyArray<T> read_npy(const std::string& path) {
  NpyReader reader(path);
  NpyArray<T> array;
  array.shape = reader.header().shape;
  array.data.resize(reader.header().count());
  reader.read_rows(0, reader.header().rows(), array.data.data());
  return array;
}

template <typename T>
void write_npy(const std::string& path, const T* data, const std::vector<std::size_t>& shape) {
  std::size_t count = 1;
  for (std::size_t s : shape) count *= s;
  AtomicFile out(path);
  out.write(make_npy_header(DTypeOf<T>::value, shape));
  out.write(data, count * sizeof(T));
  out.commit();
}

template <typename T>
NpyRowWriter<T>::NpyRowWriter(std::string path, std::size_t row_size)
    : out_(std::make_unique<AtomicFile>(std::move(path))),
      row_size_(row_size),
      header_length_(make_npy_header(DTypeOf<T>::value, {~std::size_t(0), row_size}).size()) {
  out_->write(std::string(header_length_, ' '));  // rewritten by commit()
}

template <typename T>
NpyRowWriter<T>::~NpyRowWriter() = default;

template <typename T>
void NpyRowWriter<T>::append(const T* data, std::size_t rows) {
  out_->write(data, rows * row_size_ * sizeof(T));
  rows_ += rows;
}

template <typename T>
void NpyRowWriter<T>::commit() {
  const std::string header = make_npy_header(DTypeOf<T>::value, {rows_, row_size_}, header_length_);
  if (header.size() != header_length_ || std::fflush(out_->stream()) != 0 || std::fseek(out_->stream(), 0, SEEK_SET) != 0)
    throw Error("cannot write the .npy header of " + out_->path());
  out_->write(header);
  out_->commit();
}

#define COHORT_NPY_INSTANTIATE(T)                                                          \
  template void NpyReader::read_rows<T>(std::size_t, std::size_t, T*);                      \
  template NpyArray<T> read_npy<T>(const std::string&);                                     \
  template void write_npy<T>(const std::string&, const T*, const std::vector<std::size_t>&); \
  template class NpyRowWriter<T>;
COHORT_NPY_INSTANTIATE(float)
COHORT_NPY_INSTANTIATE(double)
COHORT_NPY_INSTANTIATE(std::int32_t)
COHORT_NPY_INSTANTIATE(std::int64_t)
#undef COHORT_NPY_INSTANTIATE

}  // namespace cohort
