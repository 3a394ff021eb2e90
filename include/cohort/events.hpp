/*
 * events.hpp: reading event logs (user, item, event type, time, weight, attributes)
 * in chunks, whatever the file format.
 *
 * Formats (chosen by EventReaderOptions::format, else by extension, else by content):
 *   CSV      header row, columns by name (CsvReader: chunked, multi-threaded).
 *   JSON     an array of objects `[{...}, ...]`, or a top-level object holding the
 *            records array (`{"data": [...]}`: the key is named by records_key, or
 *            detected as the only array-valued member, by a first pass over the
 *            object's members that skips their values). Read in blocks of about
 *            chunk_bytes, split into records by a quote-aware bracket scan that
 *            carries across block ends, and each record parsed with simdjson, so a
 *            malformed record is reported (or skipped) with its record number and
 *            line. Memory is bounded by about two blocks plus the largest record.
 *   NDJSON   one object per line (.ndjson / .jsonl, or a .json file whose first line is
 *            a complete object holding the user field, and is no longer than
 *            max(chunk_bytes, 1 MiB): a minified one-line {"data": [...]} is not read
 *            whole to find out); read in blocks of lines, so memory is bounded by the
 *            block size.
 * Field names may be dotted paths into nested objects (location.city): an exact member
 * named "location.city" wins, else the path is walked. JSON numbers become their text
 * (integers as integers, doubles in shortest round-trip form), null/absent optional
 * fields become "". Time: a number is epoch seconds; a string is epoch seconds or
 * ISO 8601 (2014-03-01T00:00:04Z, +01:00/-0500 offsets, fractional seconds, a space
 * instead of T, or a date alone = midnight; no offset = UTC). Weight: a number; empty
 * or null = 1.
 *
 * Bad records (malformed JSON, a missing or empty user/item/event field, an
 * unparseable time, a non-numeric weight) throw InvalidInput naming the file and the
 * line (and the record number for JSON), or are skipped and counted when skip_invalid
 * is set. A column absent from the CSV header, or from the first JSON record, throws
 * InvalidInput listing the available columns. Structural damage that makes record
 * boundaries unknowable (an unterminated JSON array, a ragged CSV row) always throws.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cohort {

/// Many short strings in one buffer (no allocation per string).
class StringColumn {
 public:
  std::size_t size() const { return offsets_.size() - 1; }
  std::string_view operator[](std::size_t i) const {
    return std::string_view(bytes_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  void push_back(std::string_view s) {
    bytes_.append(s.data(), s.size());
    offsets_.push_back(bytes_.size());
  }
  void pop_back() {
    offsets_.pop_back();
    bytes_.resize(offsets_.back());
  }
  void clear() {
    bytes_.clear();
    offsets_.assign(1, 0);
  }
  /// Row i is bytes()[offsets()[i], offsets()[i + 1]) (for copying the column as a whole).
  const std::string& bytes() const { return bytes_; }
  const std::vector<std::size_t>& offsets() const { return offsets_; }

 private:
  std::string bytes_;
  std::vector<std::size_t> offsets_{0};
};

/// One block of valid records, column by column.
struct EventChunk {
  StringColumn user, item, event;  ///< event is empty strings when no event column
  std::vector<double> time;        ///< epoch seconds; empty when no time column
  std::vector<double> weight;      ///< empty when no weight column
  std::vector<StringColumn> attrs; ///< one per attribute column
  std::size_t size() const { return user.size(); }
  void clear();
};

struct EventReaderOptions {
  std::string user_col, item_col;
  std::string event_col, time_col, weight_col;  ///< "" = not given
  std::vector<std::string> attr_cols;
  std::string format;       ///< "" (detect) | "csv" | "json" | "ndjson"
  std::string records_key;  ///< JSON top-level object: member holding the records
  bool skip_invalid = false;
  std::size_t chunk_events = std::size_t(1) << 21;  ///< records per chunk (JSON)
  std::size_t chunk_bytes = std::size_t(32) << 20;  ///< bytes per read (CSV, NDJSON, JSON)
  /// Optional id lookup applied to the user column: user = map[user]; a key not in
  /// the map is a bad record (e.g. a join's point_id -> the pings' user_id).
  const std::unordered_map<std::string, std::string>* user_map = nullptr;
};

class EventReader {
 public:
  EventReader(std::string path, EventReaderOptions options);
  ~EventReader();
  EventReader(const EventReader&) = delete;
  EventReader& operator=(const EventReader&) = delete;

  /// Clears chunk and fills it with the next valid records; false when none are left.
  bool next(EventChunk& chunk);
  /// "csv", "json array", "json object 'KEY'" or "ndjson".
  std::string format() const;
  std::uint64_t records_read() const;   ///< valid records returned so far
  std::uint64_t records_skipped() const;  ///< bad records skipped (skip_invalid)
  std::uint64_t bytes_total() const;
  std::uint64_t bytes_consumed() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Epoch seconds from a number or an ISO 8601 text (see above); false if unparseable.
bool parse_event_time(std::string_view text, double& seconds);

/// key -> value from two columns of a CSV file (first occurrence of a key wins).
std::unordered_map<std::string, std::string> read_id_map(const std::string& path, const std::string& key_col,
                                                         const std::string& value_col);

}  // namespace cohort
