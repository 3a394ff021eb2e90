/*
 * event_reader.cpp: EventReader's format dispatch, the shared record validation, and
 * read_id_map (a key -> value lookup from a CSV file, for --user-from).
 */
#include <algorithm>
#include <charconv>
#include <cmath>

#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "host/io/event_reader_impl.hpp"

namespace cohort {
namespace {

std::string lower_extension(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

void EventChunk::clear() {
  user.clear();
  item.clear();
  event.clear();
  time.clear();
  weight.clear();
  for (auto& a : attrs) a.clear();
}

void EventReader::Impl::reject(std::uint64_t line, const std::string& where, const std::string& problem) {
  if (!options.skip_invalid) throw InvalidInput(path, line, where + problem);
  ++skipped;
}

void EventReader::Impl::prepare(EventChunk& chunk) const {
  chunk.attrs.resize(options.attr_cols.size());
  chunk.clear();
}

std::string EventReader::Impl::add_record(EventChunk& chunk, const RawRecord& r) const {
  std::string_view user = r.user;
  if (user.empty()) return "empty user id in column '" + options.user_col + "'";
  if (r.item.empty()) return "empty item id in column '" + options.item_col + "'";
  const bool has_event = !options.event_col.empty();
  if (has_event && r.event.empty()) return "empty event type in column '" + options.event_col + "'";
  // users.txt / items.txt / events.txt hold one id per line
  for (const auto& [id, col] : {std::pair{user, &options.user_col}, std::pair{r.item, &options.item_col},
                                std::pair{r.event, &options.event_col}})
    if (id.find_first_of("\r\n") != std::string_view::npos)
      return "id in column '" + *col + "' contains a line break";
  double time = 0.0, weight = 1.0;
  if (!options.time_col.empty()) {
    if (r.time_is_number) {
      time = r.time_number;
      if (!std::isfinite(time)) return "time in column '" + options.time_col + "' is not finite";
    } else if (!parse_event_time(r.time, time)) {
      return "unparseable time '" + std::string(r.time) + "' in column '" + options.time_col +
             "' (expected epoch seconds or ISO 8601)";
    }
  }
  if (!options.weight_col.empty()) {
    if (r.weight_is_number) {
      weight = r.weight_number;
    } else {
      const std::string_view text = trim(r.weight);
      if (!text.empty()) {
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, weight);
        if (ec != std::errc() || ptr != end)
          return "weight '" + std::string(r.weight) + "' in column '" + options.weight_col + "' is not a number";
      }
    }
    if (!std::isfinite(weight)) return "weight in column '" + options.weight_col + "' is not finite";
  }
  if (options.user_map) {
    const auto it = options.user_map->find(std::string(user));
    if (it == options.user_map->end()) return "user key '" + std::string(user) + "' not found in the --user-from map";
    user = it->second;
  }
  chunk.user.push_back(user);
  chunk.item.push_back(r.item);
  chunk.event.push_back(has_event ? r.event : std::string_view());
  if (!options.time_col.empty()) chunk.time.push_back(time);
  if (!options.weight_col.empty()) chunk.weight.push_back(weight);
  for (std::size_t a = 0; a < chunk.attrs.size(); ++a) chunk.attrs[a].push_back(r.attrs[a]);
  return "";
}

EventReader::EventReader(std::string path, EventReaderOptions options) {
  if (options.user_col.empty() || options.item_col.empty())
    throw InvalidInput(path, 0, "the user and item columns must be named");
  if (options.chunk_events == 0) options.chunk_events = 1;
  std::string format = options.format;
  if (format.empty()) {
    const std::string ext = lower_extension(path);
    format = (ext == "csv" || ext == "tsv" || ext == "txt") ? "csv" : (ext == "ndjson" || ext == "jsonl") ? "ndjson" : "json";
  }
  if (format == "csv")
    impl_ = make_csv_event_reader(std::move(path), std::move(options));
  else if (format == "json" || format == "ndjson") {
    options.format = format;
    impl_ = make_json_event_reader(std::move(path), std::move(options));
  } else
    throw InvalidInput(path, 0, "unknown event log format '" + format + "' (csv, json or ndjson)");
}

EventReader::~EventReader() = default;
bool EventReader::next(EventChunk& chunk) {
  const bool more = impl_->next(chunk);
  impl_->read += chunk.size();
  return more;
}
std::string EventReader::format() const { return impl_->format(); }
std::uint64_t EventReader::records_read() const { return impl_->read; }
std::uint64_t EventReader::records_skipped() const { return impl_->skipped; }
std::uint64_t EventReader::bytes_total() const { return impl_->bytes_total; }
std::uint64_t EventReader::bytes_consumed() const { return impl_->bytes_consumed; }

std::unordered_map<std::string, std::string> read_id_map(const std::string& path, const std::string& key_col,
                                                         const std::string& value_col) {
  CsvReader reader(path);
  const std::size_t k = reader.column(key_col), v = reader.column(value_col);
  std::unordered_map<std::string, std::string> map;
  CsvChunk chunk;
  while (reader.next(chunk))
    for (std::size_t r = 0; r < chunk.rows(); ++r) map.emplace(chunk.field(r, k), chunk.field(r, v));
  return map;
}

}  // namespace cohort
