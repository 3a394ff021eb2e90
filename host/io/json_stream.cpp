/*
 * json_stream.cpp: the resumable value scan and the block window behind JsonCursor.
 */
#include "host/io/json_stream.hpp"

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "cohort/error.hpp"

namespace cohort::json_stream {
namespace {

std::atomic<std::size_t> high_water{0};

bool ends_scalar(char c) {
  return c == ',' || c == ']' || c == '}' || c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

}  // namespace

std::size_t window_high_water() { return high_water.load(); }
void reset_window_high_water() { high_water.store(0); }

void note_buffer(std::size_t bytes) {
  std::size_t seen = high_water.load(std::memory_order_relaxed);
  while (bytes > seen && !high_water.compare_exchange_weak(seen, bytes, std::memory_order_relaxed)) {
  }
}

const char* skip_ws(const char* p, const char* end, std::uint64_t& line) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
    if (*p == '\n') ++line;
    ++p;
  }
  return p;
}

const char* scan_value(ValueScan& scan, const char* p, const char* end, std::uint64_t& line) {
  if (!scan.started) {
    scan.started = true;
    scan.scalar = *p != '"' && *p != '{' && *p != '[';
  }
  if (scan.scalar) {
    while (p < end && !ends_scalar(*p)) ++p;
    return p < end ? p : nullptr;
  }
  while (p < end) {
    if (scan.escaped) {  // the escaped byte, even a quote or a newline, is skipped
      scan.escaped = false;
      ++p;
    } else if (scan.in_string) {
      while (p < end && *p != '"' && *p != '\\' && *p != '\n') ++p;  // most bytes of a string
      if (p == end) break;
      if (*p == '\\') {
        scan.escaped = true;
      } else if (*p == '\n') {
        ++line;
      } else {
        scan.in_string = false;
        if (scan.depth == 0) return p + 1;  // a top-level string
      }
      ++p;
    } else {
      for (; p < end; ++p) {  // between strings: brackets and newlines up to the next quote
        const char c = *p;
        if (c == '"') {
          scan.in_string = true;
          ++p;
          break;
        }
        if (c == '{' || c == '[') {
          ++scan.depth;
        } else if (c == '}' || c == ']') {
          if (--scan.depth == 0) return p + 1;
        } else if (c == '\n') {
          ++line;
        }
      }
    }
  }
  return nullptr;
}

void JsonCursor::open(std::FILE* file, const std::string& path, std::uint64_t file_bytes, std::size_t block_bytes,
                      std::uint64_t offset, std::uint64_t line) {
  file_ = file;
  path_ = path;
  file_bytes_ = file_bytes;
  block_ = std::max<std::size_t>(block_bytes, 1);
  base_ = pos_ = value_start_ = value_end_ = offset;
  size_ = 0;
  line_ = line;
  eof_ = false;
  if (std::fseek(file_, static_cast<long>(offset), SEEK_SET) != 0)
    throw InvalidInput(path_, 0, "cannot seek in the event log");
}

int JsonCursor::peek() {
  while (true) {
    const char* end = at(window_end());
    const char* p = skip_ws(at(pos_), end, line_);
    pos_ = base_ + static_cast<std::uint64_t>(p - buf_.data());
    if (p < end) return static_cast<unsigned char>(*p);
    if (!refill(pos_)) return EOF;
  }
}

bool JsonCursor::skip_value(bool keep) {
  ValueScan scan;
  value_start_ = pos_;
  const char* p = at(pos_);
  while (true) {
    if (const char* e = scan_value(scan, p, at(window_end()), line_)) {
      pos_ = value_end_ = base_ + static_cast<std::uint64_t>(e - buf_.data());
      return true;
    }
    const std::uint64_t scanned = window_end();
    if (!refill(keep ? value_start_ : scanned)) {
      pos_ = value_end_ = scanned;
      return scan.scalar;  // a number or literal may end with the file; brackets and strings may not
    }
    p = at(scanned);
  }
}

std::string_view JsonCursor::value() const {
  return std::string_view(at(value_start_), static_cast<std::size_t>(value_end_ - value_start_));
}

// Drops the bytes before keep_from (moving the rest to the front) and appends a block.
bool JsonCursor::refill(std::uint64_t keep_from) {
  if (eof_) return false;
  const auto drop = static_cast<std::size_t>(keep_from - base_);
  const std::size_t kept = size_ - drop;
  if (drop > 0 && kept > 0) std::memmove(buf_.data(), buf_.data() + drop, kept);
  base_ = keep_from;
  size_ = kept;
  // a small file gets a small buffer, whatever the block size
  const std::uint64_t left = file_bytes_ > window_end() ? file_bytes_ - window_end() : 0;
  const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(block_, std::max<std::uint64_t>(left, 1)));
  const std::size_t need = kept + want + simdjson::SIMDJSON_PADDING;  // simdjson reads past a value's end
  if (buf_.size() < need) buf_.resize(need);
  note_buffer(buf_.capacity());
  const std::size_t got = std::fread(buf_.data() + kept, 1, want, file_);
  if (got < want) {
    if (std::ferror(file_)) throw InvalidInput(path_, 0, "read error in the event log");
    eof_ = true;
  }
  size_ += got;
  return got > 0;
}

}  // namespace cohort::json_stream
