/*
 * json_stream.hpp: a forward cursor over a JSON file read in blocks, for splitting a
 * records array (or a top-level object's members) into values without holding the
 * file: a quote-aware bracket scan that resumes across block ends, and a window that
 * keeps only the bytes of the value being scanned.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace cohort::json_stream {

/// Skips JSON whitespace, counting newlines; returns the first other byte (or end).
const char* skip_ws(const char* p, const char* end, std::uint64_t& line);

/// Where a scan of one value stopped, so that it can resume with the next block.
struct ValueScan {
  bool started = false, scalar = false, in_string = false, escaped = false;
  int depth = 0;  ///< open brackets (no validation beyond brackets and strings)
};

/// Advances over [p, end) (p < end when the scan starts); returns one past the value's
/// last byte, or nullptr when the bytes ran out first (a scalar then ends at the end
/// of the file). Newlines outside escapes are counted in line.
const char* scan_value(ValueScan& scan, const char* p, const char* end, std::uint64_t& line);

/// The file from a given offset as a window of blocks. Bytes behind the cursor are
/// dropped when the next block is read, except those of a value scanned with keep,
/// so memory is about one block plus the longest kept value.
class JsonCursor {
 public:
  /// Starts at offset of a file of file_bytes (counting lines from line); reads
  /// block_bytes per refill (less at the end of the file).
  void open(std::FILE* file, const std::string& path, std::uint64_t file_bytes, std::size_t block_bytes,
            std::uint64_t offset, std::uint64_t line);
  /// Skips whitespace; the next byte (0-255), or EOF at the end of the file.
  int peek();
  /// Moves past the byte peek() returned.
  void advance() { ++pos_; }
  /// Moves past the value at the cursor (peek() != EOF); false when the file ends
  /// inside it. With keep, its bytes stay readable through value() (followed by
  /// simdjson's padding) until the next call.
  bool skip_value(bool keep);
  /// The bytes of the last value skipped with keep.
  std::string_view value() const;
  /// Bytes of the last value skipped (0: a stray delimiter where a value should be).
  std::uint64_t value_size() const { return value_end_ - value_start_; }
  std::uint64_t offset() const { return pos_; }
  std::uint64_t line() const { return line_; }

 private:
  const char* at(std::uint64_t offset) const { return buf_.data() + (offset - base_); }
  std::uint64_t window_end() const { return base_ + size_; }
  bool refill(std::uint64_t keep_from);

  std::FILE* file_ = nullptr;
  std::string path_;
  std::string buf_;  ///< window bytes [base_, base_ + size_), then padding
  std::size_t block_ = 1, size_ = 0;
  std::uint64_t file_bytes_ = 0, base_ = 0, pos_ = 0, line_ = 1, value_start_ = 0, value_end_ = 0;
  bool eof_ = false;
};

/// Test hook: the largest buffer (bytes allocated) a JSON reader held since the last
/// reset: a JsonCursor's window, or one noted with note_buffer.
std::size_t window_high_water();
void reset_window_high_water();
void note_buffer(std::size_t bytes);

}  // namespace cohort::json_stream
