/*
 * csv.hpp: a chunked, multi-threaded CSV reader for large files.
 *
 * The file is read in chunks of about CsvOptions::chunk_bytes. Each chunk is scanned
 * once sequentially for record boundaries (quote-aware, so quoted fields may hold
 * delimiters, quotes written "" and newlines), then its records are split into fields
 * in parallel (OpenMP). RFC 4180 quoting, LF or CRLF line ends, blank lines skipped.
 * The first record is the header; columns are selected by header name.
 * Every problem (ragged row, text after a closing quote, unterminated quote, a value
 * that is not a number) throws InvalidInput naming the file and the 1-based line
 * (or, with CsvOptions::keep_malformed, malformed records are listed for the caller).
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cohort {

struct CsvOptions {
  char delimiter = ',';
  std::size_t chunk_bytes = std::size_t(32) << 20;
  /// When true, a malformed record (wrong field count, text after a closing quote) is
  /// left out of its chunk and listed in CsvChunk::malformed() instead of throwing, so
  /// the caller reports it in file order among its own per-field problems. An
  /// unterminated quote at the end of the file still throws.
  bool keep_malformed = false;
};

/// A block of complete records; field views stay valid until the next CsvReader::next.
class CsvChunk {
 public:
  std::size_t rows() const { return lines_.size(); }
  std::size_t columns() const { return columns_; }
  std::string_view field(std::size_t row, std::size_t col) const {
    const auto& f = fields_[row * columns_ + col];
    return std::string_view(buffer_.data() + f.first, f.second);
  }
  /// 1-based line of the file on which the record starts.
  std::uint64_t line(std::size_t row) const { return lines_[row]; }
  /// 0-based number of the record among the file's data records (malformed ones counted).
  std::uint64_t record(std::size_t row) const { return records_[row]; }
  /// (line, problem) of the records left out (CsvOptions::keep_malformed), in file order.
  const std::vector<std::pair<std::uint64_t, std::string>>& malformed() const { return malformed_; }
  /// The field as a double (surrounding spaces allowed, "nan"/"inf" accepted);
  /// empty or non-numeric text throws InvalidInput with file, line and column name.
  double number(std::size_t row, std::size_t col) const;
  /// The field as a 64-bit integer; throws like number().
  std::int64_t integer(std::size_t row, std::size_t col) const;

 private:
  friend class CsvReader;
  std::string buffer_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> fields_;  // (offset, length) per field
  std::vector<std::uint64_t> lines_, records_;
  std::vector<std::pair<std::uint64_t, std::string>> malformed_;
  std::size_t columns_ = 0;
  const std::string* path_ = nullptr;
  const std::vector<std::string>* header_ = nullptr;
};

/// A chunk's malformed records (CsvOptions::keep_malformed) in file order among its rows:
/// each call passes f(line, problem) the ones that start before `line` and no earlier
/// call passed, so a reader reports them where they stand (UINT64_MAX: the rest).
class MalformedBefore {
 public:
  explicit MalformedBefore(const CsvChunk& chunk) : chunk_(chunk) {}
  template <typename F>
  void operator()(std::uint64_t line, F&& f) {
    const auto& malformed = chunk_.malformed();
    for (; next_ < malformed.size() && malformed[next_].first < line; ++next_)
      f(malformed[next_].first, malformed[next_].second);
  }

 private:
  const CsvChunk& chunk_;
  std::size_t next_ = 0;
};

class CsvReader {
 public:
  /// Opens the file and reads the header. Throws InvalidInput if it cannot be opened
  /// or has no header.
  explicit CsvReader(std::string path, CsvOptions options = {});
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<std::string>& header() const { return header_; }
  /// Index of a header name; an unknown name throws InvalidInput listing the columns.
  std::size_t column(const std::string& name) const;
  std::optional<std::size_t> find_column(const std::string& name) const;

  /// Fills chunk with the next records; false once the file is exhausted.
  bool next(CsvChunk& chunk);

  std::uint64_t bytes_total() const { return bytes_total_; }
  std::uint64_t bytes_consumed() const { return bytes_consumed_; }

 private:
  bool fill(std::string& buffer);
  std::string path_;
  CsvOptions options_;
  std::FILE* file_ = nullptr;
  std::vector<std::string> header_;
  std::string carry_;  // bytes of an incomplete record left from the previous read
  std::uint64_t next_line_ = 1;
  std::uint64_t next_record_ = 0;
  std::uint64_t bytes_total_ = 0;
  std::uint64_t bytes_consumed_ = 0;
  bool eof_ = false;
};

/// Quotes a field for CSV output when it holds a delimiter, quote, CR or LF.
std::string csv_escape(std::string_view field, char delimiter = ',');

}  // namespace cohort
