/*
 * event_reader_json.cpp: event records from JSON (array, top-level object holding the
 * records array, or NDJSON) with simdjson.
 *
 * Arrays: the file is read whole (plus simdjson's padding); a quote-aware bracket scan
 * finds each element's bytes and line, and each element is parsed on its own, so a
 * malformed record is reported (or skipped) by number and line and the rest survive.
 * NDJSON: blocks of about chunk_bytes are read, cut at the last newline, and each line
 * is parsed on its own (memory bounded by the block size).
 */
#include <simdjson.h>

#include <charconv>
#include <cstdio>
#include <cstring>

#include "cohort/error.hpp"
#include "host/io/event_reader_impl.hpp"

namespace cohort {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// ---- the byte-level scan of JSON structure (no validation beyond brackets/strings) ----

const char* skip_ws(const char* p, const char* end, std::uint64_t& line) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
    if (*p == '\n') ++line;
    ++p;
  }
  return p;
}

// End of the string starting at p ('"'), or nullptr if unterminated.
const char* skip_string(const char* p, const char* end, std::uint64_t& line) {
  for (++p; p < end; ++p) {
    if (*p == '\\') {
      ++p;
    } else if (*p == '"') {
      return p + 1;
    } else if (*p == '\n') {
      ++line;
    }
  }
  return nullptr;
}

// End of the value starting at p, or nullptr when a string or bracket is unterminated.
const char* skip_value(const char* p, const char* end, std::uint64_t& line) {
  if (p >= end) return nullptr;
  if (*p == '"') return skip_string(p, end, line);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (p < end) {
      const char c = *p;
      if (c == '"') {
        p = skip_string(p, end, line);
        if (!p) return nullptr;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      else if (c == '}' || c == ']') {
        if (--depth == 0) return p + 1;
      } else if (c == '\n') {
        ++line;
      }
      ++p;
    }
    return nullptr;
  }
  while (p < end && *p != ',' && *p != ']' && *p != '}' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') ++p;
  return p;
}

// ---- field access ----

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

struct FieldPath {
  std::string name;
  std::vector<std::string> parts;
  bool given() const { return !name.empty(); }
};

// The element at a dotted path: an exact member name wins, else the path is walked.
bool lookup(element root, const FieldPath& path, element& out) {
  if (root.at_key(path.name).get(out) == simdjson::SUCCESS) return true;
  if (path.parts.size() < 2) return false;
  element current = root;
  for (const auto& part : path.parts)
    if (current.at_key(part).get(current) != simdjson::SUCCESS) return false;
  out = current;
  return true;
}

void list_fields(element value, const std::string& prefix, std::string& out) {
  simdjson::dom::object object;
  if (value.get(object) != simdjson::SUCCESS) return;
  for (auto field : object) {
    const std::string name = prefix + std::string(field.key);
    if (field.value.type() == element_type::OBJECT)
      list_fields(field.value, name + ".", out);
    else
      out += (out.empty() ? "" : ", ") + name;
  }
}

// Text of a scalar (numbers in shortest round-trip form); false for arrays/objects.
bool scalar_text(element value, std::string& scratch, std::string_view& text) {
  char buffer[64];
  switch (value.type()) {
    case element_type::STRING:
      text = value.get_string().value_unsafe();
      return true;
    case element_type::INT64: {
      const auto r = std::to_chars(buffer, buffer + sizeof buffer, value.get_int64().value_unsafe());
      scratch.assign(buffer, r.ptr);
      break;
    }
    case element_type::UINT64: {
      const auto r = std::to_chars(buffer, buffer + sizeof buffer, value.get_uint64().value_unsafe());
      scratch.assign(buffer, r.ptr);
      break;
    }
    case element_type::DOUBLE: {
      const auto r = std::to_chars(buffer, buffer + sizeof buffer, value.get_double().value_unsafe());
      scratch.assign(buffer, r.ptr);
      break;
    }
    case element_type::BOOL:
      scratch = value.get_bool().value_unsafe() ? "true" : "false";
      break;
    case element_type::NULL_VALUE:
      scratch.clear();
      break;
    default:
      return false;
  }
  text = scratch;
  return true;
}

bool is_number(element value) {
  const auto t = value.type();
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

class JsonEventReader final : public EventReader::Impl {
 public:
  JsonEventReader(std::string path_, EventReaderOptions options_) : Impl(std::move(path_), std::move(options_)) {
    fields_ = {make_path(options.user_col), make_path(options.item_col), make_path(options.event_col),
               make_path(options.time_col), make_path(options.weight_col)};
    for (const auto& a : options.attr_cols) fields_.push_back(make_path(a));
    scratch_.resize(fields_.size());
    seen_.assign(fields_.size(), false);
    record_.attrs.resize(options.attr_cols.size());
    file_ = std::fopen(path.c_str(), "rb");
    if (!file_) throw InvalidInput(path, 0, "cannot open the event log");
    std::fseek(file_, 0, SEEK_END);
    bytes_total = static_cast<std::uint64_t>(std::ftell(file_));
    std::fseek(file_, 0, SEEK_SET);
    detect();
  }
  ~JsonEventReader() override {
    if (file_) std::fclose(file_);
  }

  std::string format() const override {
    if (ndjson_) return "ndjson";
    return key_.empty() ? "json array" : "json object '" + key_ + "'";
  }

  bool next(EventChunk& chunk) override {
    prepare(chunk);
    if (ndjson_) {
      while (chunk.size() == 0 && next_ndjson_block(chunk)) {
      }
    } else {
      next_array_records(chunk);
    }
    if (done_) check_optional_fields_seen();
    return chunk.size() > 0;
  }

 private:
  static FieldPath make_path(const std::string& name) { return FieldPath{name, split_path(name)}; }

  void detect() {
    int c = 0;
    while ((c = std::fgetc(file_)) != EOF && (c == ' ' || c == '\n' || c == '\r' || c == '\t')) {
    }
    if (c == EOF) throw InvalidInput(path, 0, "empty event log");
    if (c == 0xEF) throw InvalidInput(path, 1, "starts with a byte-order mark; save it as UTF-8 without BOM");
    const bool object = c == '{';
    if (c != '[' && !object) throw InvalidInput(path, 1, "not JSON: expected '[' or '{' at the start");
    std::fseek(file_, 0, SEEK_SET);
    if (options.format == "ndjson") {
      ndjson_ = true;
      return;
    }
    if (object && options.records_key.empty() && first_line_is_record()) {
      ndjson_ = true;
      std::fseek(file_, 0, SEEK_SET);
      return;
    }
    load_whole();
    const char* begin = buffer_.data();
    const char* end = begin + size_;
    line_ = 1;
    const char* p = skip_ws(begin, end, line_);
    if (object)
      p = find_records_array(p, end);
    else if (!options.records_key.empty())
      throw InvalidInput(path, 0, "--records-key given but the file is a JSON array, not an object");
    pos_ = p + 1;  // after '['
  }

  // A .json file whose first line is a whole object with the user field is NDJSON.
  bool first_line_is_record() {
    std::string line;
    char block[65536];
    while (std::fgets(block, sizeof block, file_)) {
      line += block;
      if (!line.empty() && line.back() == '\n') break;
    }
    line.resize(line.size() + simdjson::SIMDJSON_PADDING);
    element doc, value;
    if (parser_.parse(line.data(), line.size() - simdjson::SIMDJSON_PADDING, false).get(doc) != simdjson::SUCCESS)
      return false;
    return doc.type() == element_type::OBJECT && lookup(doc, fields_[0], value);
  }

  void load_whole() {
    std::fseek(file_, 0, SEEK_SET);
    buffer_.resize(static_cast<std::size_t>(bytes_total) + simdjson::SIMDJSON_PADDING);
    size_ = std::fread(buffer_.data(), 1, static_cast<std::size_t>(bytes_total), file_);
    if (size_ != bytes_total) throw InvalidInput(path, 0, "short read of the event log");
  }

  // p at '{': finds the member holding the records array; returns its '['.
  const char* find_records_array(const char* p, const char* end) {
    ++p;
    std::string members, arrays;
    const char* found = nullptr;
    std::size_t array_count = 0;
    while (true) {
      p = skip_ws(p, end, line_);
      if (p < end && *p == '}') break;
      if (p >= end || *p != '"') throw InvalidInput(path, line_, "malformed top-level JSON object (expected a member name)");
      const char* key_end = skip_string(p, end, line_);
      if (!key_end) throw InvalidInput(path, line_, "unterminated member name in the top-level JSON object");
      const std::string key(p + 1, key_end - 1);
      p = skip_ws(key_end, end, line_);
      if (p >= end || *p != ':') throw InvalidInput(path, line_, "malformed top-level JSON object (expected ':')");
      p = skip_ws(p + 1, end, line_);
      const std::uint64_t value_line = line_;
      const char* value_end = skip_value(p, end, line_);
      if (!value_end) throw InvalidInput(path, value_line, "member '" + key + "' is unterminated (truncated file?)");
      members += (members.empty() ? "" : ", ") + key;
      if (*p == '[') {
        ++array_count;
        arrays += (arrays.empty() ? "" : ", ") + key;
        if (options.records_key.empty() ? array_count == 1 : key == options.records_key) {
          found = p;
          found_line_ = value_line;
          key_ = key;
        }
      }
      p = skip_ws(value_end, end, line_);
      if (p < end && *p == ',') {
        ++p;
        continue;
      }
      if (p < end && *p == '}') break;
      throw InvalidInput(path, line_, "malformed top-level JSON object (expected ',' or '}')");
    }
    if (!options.records_key.empty() && !found)
      throw InvalidInput(path, 0, "no array member '" + options.records_key + "' in the top-level object (members: " +
                                      members + ")");
    if (array_count == 0)
      throw InvalidInput(path, 0, "the top-level object holds no records array (members: " + members + ")");
    if (options.records_key.empty() && array_count > 1)
      throw InvalidInput(path, 0, "the top-level object holds several arrays (" + arrays +
                                      "); name the records with --records-key");
    line_ = found_line_;
    return found;
  }

  void next_array_records(EventChunk& chunk) {
    if (done_) return;
    const char* end = buffer_.data() + size_;
    const char* p = pos_;
    while (chunk.size() < options.chunk_events) {
      p = skip_ws(p, end, line_);
      if (p < end && *p == ']') {
        done_ = true;
        break;
      }
      if (p >= end) throw InvalidInput(path, line_, "unterminated records array (truncated file?)");
      ++record_no_;
      const std::uint64_t record_line = line_;
      const char* value_end = skip_value(p, end, line_);
      if (!value_end)
        throw InvalidInput(path, record_line, "record " + std::to_string(record_no_) + ": unterminated (truncated file?)");
      if (value_end == p)  // a stray '}' or ',' where a record should start
        throw InvalidInput(path, record_line, "record " + std::to_string(record_no_) + ": malformed records array");
      parse_record(chunk, p, static_cast<std::size_t>(value_end - p), record_line,
                   "record " + std::to_string(record_no_) + ": ");
      p = skip_ws(value_end, end, line_);
      if (p < end && *p == ',') {
        ++p;
      } else if (p < end && *p == ']') {
        done_ = true;
        break;
      } else {
        const std::uint64_t bad_line = line_;
        reject(bad_line, "record " + std::to_string(record_no_) + ": ", "expected ',' or ']' after the record");
      }
    }
    pos_ = p;
    bytes_consumed = static_cast<std::uint64_t>(p - buffer_.data());
  }

  // Reads one block of whole lines and parses each; false at the end of the file.
  bool next_ndjson_block(EventChunk& chunk) {
    if (done_) return false;
    const std::size_t want = std::max<std::size_t>(options.chunk_bytes, 1 << 16);
    const std::size_t carried = carry_.size();
    buffer_.resize(carried + want + simdjson::SIMDJSON_PADDING);
    std::memcpy(buffer_.data(), carry_.data(), carried);
    const std::size_t got = std::fread(buffer_.data() + carried, 1, want, file_);
    std::size_t size = carried + got;
    const bool eof = got < want;
    std::size_t cut = size;
    if (!eof) {
      const void* nl = nullptr;
      for (std::size_t i = size; i > 0; --i)
        if (buffer_[i - 1] == '\n') {
          nl = &buffer_[i - 1];
          break;
        }
      if (!nl) {  // one line longer than the block: read on
        carry_.assign(buffer_.data(), size);
        return true;
      }
      cut = static_cast<std::size_t>(static_cast<const char*>(nl) - buffer_.data()) + 1;
    }
    carry_.assign(buffer_.data() + cut, size - cut);
    size = cut;
    const char* p = buffer_.data();
    const char* end = p + size;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      const char* line_end = nl ? nl : end;
      const char* a = p;
      const char* b = line_end;
      while (a < b && (*a == ' ' || *a == '\t' || *a == '\r')) ++a;
      while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) --b;
      if (a < b) parse_record(chunk, a, static_cast<std::size_t>(b - a), line_, "");
      ++line_;
      p = nl ? nl + 1 : end;
    }
    bytes_consumed += size;
    if (eof) done_ = true;
    return true;
  }

  void parse_record(EventChunk& chunk, const char* data, std::size_t length, std::uint64_t line,
                    const std::string& where) {
    element doc;
    const auto error = parser_.parse(data, length, false).get(doc);
    if (error != simdjson::SUCCESS) return reject(line, where, std::string("malformed JSON: ") + simdjson::error_message(error));
    if (doc.type() != element_type::OBJECT) return reject(line, where, "a record must be a JSON object");
    if (!checked_) check_columns(doc, line, where);
    note_optional_fields(doc);
    std::string problem;
    auto text = [&](std::size_t f, std::string_view& out, bool required) {
      element value;
      out = std::string_view();
      if (!fields_[f].given()) return;
      if (!lookup(doc, fields_[f], value)) {
        if (required && problem.empty()) problem = "no field '" + fields_[f].name + "'";
        return;
      }
      if (!scalar_text(value, scratch_[f], out) && problem.empty())
        problem = "field '" + fields_[f].name + "' is an array or object, not a value";
    };
    text(0, record_.user, true);
    text(1, record_.item, true);
    text(2, record_.event, true);
    for (std::size_t a = 0; a < record_.attrs.size(); ++a) text(5 + a, record_.attrs[a], false);
    element value;
    record_.time_is_number = false;
    if (fields_[3].given()) {
      if (lookup(doc, fields_[3], value) && is_number(value)) {
        record_.time_is_number = true;
        record_.time_number = value.get_double().value_unsafe();
      } else {
        text(3, record_.time, true);
      }
    }
    record_.weight_is_number = false;
    if (fields_[4].given()) {
      if (lookup(doc, fields_[4], value) && is_number(value)) {
        record_.weight_is_number = true;
        record_.weight_number = value.get_double().value_unsafe();
      } else {
        text(4, record_.weight, false);
      }
    }
    if (problem.empty()) problem = add_record(chunk, record_);
    if (!problem.empty()) reject(line, where, problem);
  }

  // The first parsed record must hold the user, item, event and time fields (a typo
  // lists what exists); weight and attribute fields may be absent from some records
  // (Localytics has `amount` on Fund events only) but must occur in at least one.
  void check_columns(element doc, std::uint64_t line, const std::string& where) {
    checked_ = true;
    first_fields_.clear();
    list_fields(doc, "", first_fields_);
    element value;
    for (std::size_t f = 0; f < 4; ++f) {
      if (!fields_[f].given() || lookup(doc, fields_[f], value)) continue;
      throw InvalidInput(path, line, where + "no field '" + fields_[f].name + "' (fields of this record: " +
                                         first_fields_ + ")");
    }
  }

  void note_optional_fields(element doc) {
    element value;
    for (std::size_t f = 4; f < fields_.size(); ++f)
      if (!seen_[f] && fields_[f].given() && lookup(doc, fields_[f], value)) seen_[f] = true;
  }

  void check_optional_fields_seen() const {
    for (std::size_t f = 4; f < fields_.size(); ++f)
      if (fields_[f].given() && !seen_[f] && read + skipped > 0)
        throw InvalidInput(path, 0, "no record has a field '" + fields_[f].name + "' (fields of the first record: " +
                                        first_fields_ + ")");
  }

  std::FILE* file_ = nullptr;
  simdjson::dom::parser parser_;
  std::vector<FieldPath> fields_;  // user, item, event, time, weight, attrs...
  std::vector<std::string> scratch_;
  RawRecord record_;
  std::vector<bool> seen_;
  std::string buffer_, carry_, key_, first_fields_;
  std::size_t size_ = 0;
  const char* pos_ = nullptr;
  std::uint64_t line_ = 1, found_line_ = 1, record_no_ = 0;
  bool ndjson_ = false, done_ = false, checked_ = false;
};

}  // namespace

std::unique_ptr<EventReader::Impl> make_json_event_reader(std::string path, EventReaderOptions options) {
  return std::make_unique<JsonEventReader>(std::move(path), std::move(options));
}

}  // namespace cohort
