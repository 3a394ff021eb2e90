/*
 * csv.cpp: CsvReader. Per chunk: (1) a sequential quote-aware scan finds where each
 * record starts and on which line; (2) an OpenMP loop splits records into fields,
 * unquoting in place (an unquoted field is never longer than its quoted form).
 * Errors found in parallel are kept per record and the first one is thrown.
 */
#include "cohort/csv.hpp"

#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iterator>

#include "cohort/error.hpp"

namespace cohort {
namespace {

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct Record {
  std::size_t begin, end;  // [begin, end) in the buffer, line end excluded
  std::uint64_t line;
};

// Splits buffer[r.begin, r.end) into fields, unquoting in place. Returns "" or an error.
std::string split_record(std::string& buffer, const Record& r, char delim,
                         std::vector<std::pair<std::uint32_t, std::uint32_t>>& out) {
  char* data = buffer.data();
  std::size_t i = r.begin;
  while (true) {
    if (i < r.end && data[i] == '"') {
      std::size_t read = i + 1, write = i;
      bool closed = false;
      while (read < r.end) {
        if (data[read] == '"') {
          if (read + 1 < r.end && data[read + 1] == '"') {
            data[write++] = '"';
            read += 2;
            continue;
          }
          closed = true;
          ++read;
          break;
        }
        data[write++] = data[read++];
      }
      if (!closed) return "unterminated quoted field";
      out.emplace_back(static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(write - i));
      if (read == r.end) return "";
      if (data[read] != delim) return "unexpected character after a closing quote";
      i = read + 1;
    } else {
      const char* found = static_cast<const char*>(std::memchr(data + i, delim, r.end - i));
      std::size_t stop = found ? static_cast<std::size_t>(found - data) : r.end;
      out.emplace_back(static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(stop - i));
      if (!found) return "";
      i = stop + 1;
    }
    if (i == r.end) {  // a trailing delimiter means one more, empty, field
      out.emplace_back(static_cast<std::uint32_t>(i), 0u);
      return "";
    }
  }
}

// Finds complete records in buffer[0, limit). A record ends at an unquoted LF; when
// at_eof, the tail is a record too. Returns the offset just past the last complete record.
std::size_t find_records(const std::string& buffer, bool at_eof, std::uint64_t& line,
                         std::vector<Record>& records) {
  const char* data = buffer.data();
  const std::size_t n = buffer.size();
  std::size_t start = 0;
  std::uint64_t start_line = line, current_line = line;
  bool quoted = false;
  auto push = [&](std::size_t end) {
    std::size_t stop = end;
    if (stop > start && data[stop - 1] == '\r') --stop;
    if (stop > start) records.push_back({start, stop, start_line});
  };
  for (std::size_t i = 0; i < n; ++i) {
    const char c = data[i];
    if (c == '"') {
      quoted = !quoted;
    } else if (c == '\n') {
      ++current_line;
      if (!quoted) {
        push(i);
        start = i + 1;
        start_line = current_line;
      }
    }
  }
  if (at_eof && start < n) {
    push(n);
    start = n;
  }
  line = start_line;
  return start;
}

// Offset of the unquoted LF that ends the first record, or npos; counts LFs inside quotes.
std::size_t first_record_end(const std::string& buffer, std::uint64_t& quoted_newlines) {
  bool quoted = false;
  quoted_newlines = 0;
  for (std::size_t i = 0; i < buffer.size(); ++i) {
    if (buffer[i] == '"') quoted = !quoted;
    else if (buffer[i] == '\n') {
      if (!quoted) return i;
      ++quoted_newlines;
    }
  }
  return std::string::npos;
}

}  // namespace

double CsvChunk::number(std::size_t row, std::size_t col) const {
  std::string_view text = trim_spaces(field(row, col));
  double value = 0.0;
  const char* first = text.data();
  const char* last = first + text.size();
  if (!text.empty() && *first == '+') ++first;
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (text.empty() || ec == std::errc::invalid_argument || ptr != last)
    throw InvalidInput(*path_, line(row),
                       "column '" + (*header_)[col] + "': '" + std::string(field(row, col)) + "' is not a number");
  if (ec == std::errc::result_out_of_range)
    throw InvalidInput(*path_, line(row),
                       "column '" + (*header_)[col] + "': '" + std::string(text) + "' is out of range for a double");
  return value;
}

std::int64_t CsvChunk::integer(std::size_t row, std::size_t col) const {
  std::string_view text = trim_spaces(field(row, col));
  std::int64_t value = 0;
  const char* first = text.data();
  const char* last = first + text.size();
  if (!text.empty() && *first == '+') ++first;
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (text.empty() || ec != std::errc() || ptr != last)
    throw InvalidInput(*path_, line(row),
                       "column '" + (*header_)[col] + "': '" + std::string(field(row, col)) + "' is not an integer");
  return value;
}

CsvReader::CsvReader(std::string path, CsvOptions options) : path_(std::move(path)), options_(options) {
  file_ = std::fopen(path_.c_str(), "rb");
  if (!file_) throw InvalidInput(path_, 0, std::string("cannot open: ") + std::strerror(errno));
  if (std::fseek(file_, 0, SEEK_END) == 0) {
    long size = std::ftell(file_);
    bytes_total_ = size > 0 ? static_cast<std::uint64_t>(size) : 0;
    std::fseek(file_, 0, SEEK_SET);
  }
  // The header is the first record: read until its unquoted line end (or EOF).
  std::string buffer;
  std::size_t header_end = std::string::npos;
  std::uint64_t quoted_newlines = 0;
  bool more = true;
  while (header_end == std::string::npos && more) {
    more = fill(buffer);
    header_end = first_record_end(buffer, quoted_newlines);
  }
  const std::size_t record_end = header_end == std::string::npos ? buffer.size() : header_end;
  // A UTF-8 byte-order mark (spreadsheet exports write one) is not part of the first name.
  const bool bom = buffer.compare(0, 3, "\xEF\xBB\xBF") == 0 && record_end >= 3;
  Record header{bom ? std::size_t{3} : std::size_t{0}, record_end, 1};
  if (record_end > header.begin && buffer[record_end - 1] == '\r') --header.end;
  if (header.end == header.begin) throw InvalidInput(path_, 1, "the file is empty or its header line is blank");
  std::vector<std::pair<std::uint32_t, std::uint32_t>> fields;
  std::string error = split_record(buffer, header, options_.delimiter, fields);
  if (!error.empty()) throw InvalidInput(path_, 1, error);
  for (auto [offset, length] : fields) header_.emplace_back(buffer.data() + offset, length);
  const std::size_t data_start = header_end == std::string::npos ? buffer.size() : header_end + 1;
  next_line_ = 2 + quoted_newlines;
  bytes_consumed_ = data_start;
  carry_ = buffer.substr(data_start);
}

CsvReader::~CsvReader() {
  if (file_) std::fclose(file_);
}

bool CsvReader::fill(std::string& buffer) {
  if (eof_) return false;
  const std::size_t old = buffer.size();
  buffer.resize(old + options_.chunk_bytes);
  const std::size_t got = std::fread(buffer.data() + old, 1, options_.chunk_bytes, file_);
  buffer.resize(old + got);
  if (got < options_.chunk_bytes) {
    if (std::ferror(file_)) throw InvalidInput(path_, 0, "read error");
    eof_ = true;
  }
  return !eof_;
}

std::size_t CsvReader::column(const std::string& name) const {
  if (auto index = find_column(name)) return *index;
  std::string available;
  for (const auto& h : header_) available += (available.empty() ? "" : ", ") + h;
  throw InvalidInput(path_, 1, "no column named '" + name + "' (columns: " + available + ")");
}

std::optional<std::size_t> CsvReader::find_column(const std::string& name) const {
  auto it = std::find(header_.begin(), header_.end(), name);
  if (it == header_.end()) return std::nullopt;
  return static_cast<std::size_t>(it - header_.begin());
}

bool CsvReader::next(CsvChunk& chunk) {
  chunk.path_ = &path_;
  chunk.header_ = &header_;
  chunk.columns_ = header_.size();
  chunk.fields_.clear();
  chunk.lines_.clear();
  chunk.records_.clear();
  chunk.malformed_.clear();
  std::vector<Record> records;
  chunk.buffer_.assign(carry_);  // a copy, so both keep their capacity (no new pages per chunk)
  carry_.clear();
  std::size_t consumed = 0;
  // Read until at least one complete record (a record may exceed one read) or EOF.
  while (true) {
    const bool more = fill(chunk.buffer_);
    std::uint64_t line = next_line_;
    records.clear();
    consumed = find_records(chunk.buffer_, !more, line, records);
    if (!records.empty() || !more) {
      next_line_ = line;
      break;
    }
  }
  if (consumed < chunk.buffer_.size()) {
    if (eof_) {
      throw InvalidInput(path_, next_line_, "unterminated quoted field at the end of the file");
    }
    carry_.assign(chunk.buffer_, consumed, std::string::npos);
  }
  bytes_consumed_ += consumed;
  if (records.empty()) return false;

  const std::size_t columns = chunk.columns_;
  const std::size_t n = records.size();
  chunk.fields_.resize(n * columns);
  chunk.lines_.resize(n);
  chunk.records_.resize(n);
  for (std::size_t r = 0; r < n; ++r) chunk.records_[r] = next_record_ + r;
  next_record_ += n;
  // Errors are rare: each thread lists its own (record, message), in record order.
  std::vector<std::vector<std::pair<std::size_t, std::string>>> thread_errors(omp_get_max_threads());
  const char delim = options_.delimiter;
#pragma omp parallel
  {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> fields;
    auto& errors = thread_errors[omp_get_thread_num()];
#pragma omp for schedule(static)
    for (std::ptrdiff_t r = 0; r < static_cast<std::ptrdiff_t>(n); ++r) {
      const Record& rec = records[static_cast<std::size_t>(r)];
      fields.clear();
      std::string error = split_record(chunk.buffer_, rec, delim, fields);
      if (error.empty() && fields.size() != columns)
        error = "expected " + std::to_string(columns) + " fields (as in the header), found " +
                std::to_string(fields.size());
      if (!error.empty()) {
        errors.emplace_back(static_cast<std::size_t>(r), std::move(error));
        continue;
      }
      std::copy(fields.begin(), fields.end(), chunk.fields_.begin() + r * static_cast<std::ptrdiff_t>(columns));
      chunk.lines_[static_cast<std::size_t>(r)] = rec.line;
    }
  }
  std::vector<std::pair<std::size_t, std::string>> errors;
  for (auto& mine : thread_errors) std::move(mine.begin(), mine.end(), std::back_inserter(errors));
  std::sort(errors.begin(), errors.end());
  if (errors.empty()) return true;
  if (!options_.keep_malformed) throw InvalidInput(path_, records[errors[0].first].line, errors[0].second);
  // List the malformed records and close the gaps they leave.
  std::size_t kept = 0, next_error = 0;
  for (std::size_t r = 0; r < n; ++r) {
    if (next_error < errors.size() && errors[next_error].first == r) {
      chunk.malformed_.emplace_back(records[r].line, std::move(errors[next_error++].second));
      continue;
    }
    if (kept != r) {
      std::copy_n(chunk.fields_.begin() + static_cast<std::ptrdiff_t>(r * columns), columns,
                  chunk.fields_.begin() + static_cast<std::ptrdiff_t>(kept * columns));
      chunk.lines_[kept] = chunk.lines_[r];
      chunk.records_[kept] = chunk.records_[r];
    }
    ++kept;
  }
  chunk.fields_.resize(kept * columns);
  chunk.lines_.resize(kept);
  chunk.records_.resize(kept);
  return true;
}

std::string csv_escape(std::string_view field, char delimiter) {
  if (field.find_first_of(std::string{delimiter, '"', '\r', '\n'}) == std::string_view::npos)
    return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace cohort
