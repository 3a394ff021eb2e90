/*
 * event_reader_impl.hpp: what the format-specific event readers share: the Impl base
 * (counters, the bad-record policy) and add_record, which validates one record's
 * fields and appends it to a chunk.
 */
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cohort/events.hpp"

namespace cohort {

/// One record's fields as text (views valid for the call). has_* say which were present.
struct RawRecord {
  std::string_view user, item, event, time, weight;
  bool time_is_number = false, weight_is_number = false;
  double time_number = 0.0, weight_number = 1.0;
  std::vector<std::string_view> attrs;
};

struct EventReader::Impl {
  Impl(std::string path_, EventReaderOptions options_) : path(std::move(path_)), options(std::move(options_)) {}
  virtual ~Impl() = default;
  virtual bool next(EventChunk& chunk) = 0;
  virtual std::string format() const = 0;

  /// Bad record: throws InvalidInput(path, line, where + problem), or counts it.
  void reject(std::uint64_t line, const std::string& where, const std::string& problem);
  /// Validates and appends; returns "" or the problem (nothing appended then).
  std::string add_record(EventChunk& chunk, const RawRecord& record) const;
  void prepare(EventChunk& chunk) const;

  std::string path;
  EventReaderOptions options;
  std::uint64_t read = 0, skipped = 0, bytes_total = 0, bytes_consumed = 0;
};

std::unique_ptr<EventReader::Impl> make_csv_event_reader(std::string path, EventReaderOptions options);
/// JSON array, top-level object or NDJSON (format "json", "ndjson" or "" = detect).
std::unique_ptr<EventReader::Impl> make_json_event_reader(std::string path, EventReaderOptions options);

}  // namespace cohort
