/*
 * event_reader_json.cpp: event records from JSON (array, top-level object holding the
 * records array, or NDJSON) with simdjson.
 *
 * Arrays and objects: the file is read in blocks of about chunk_bytes; a quote-aware
 * bracket scan that resumes across block ends (json_stream.hpp) finds each record's
 * bytes and line, keeping only a record cut by a block end, and each record is parsed
 * on its own, so a malformed record is reported (or skipped) by number and line and
 * the rest survive. A top-level object is walked once, skipping member values, to
 * find the records array; a second pass streams that array.
 * NDJSON: blocks of about chunk_bytes are read, cut at the last newline, and each line
 * is parsed on its own (memory bounded by the block size).
 */
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>

#include "cohort/error.hpp"
#include "host/io/event_reader_impl.hpp"
#include "host/io/json_stream.hpp"

namespace cohort {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

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

// Text after the top-level value: most likely one record per line whose first line was
// too long to be taken for a record (see first_line_is_record).
constexpr const char* kTrailingText =
    "text after the top-level JSON value (one record per line? then give --input-format ndjson)";

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
    if (!object && !options.records_key.empty())
      throw InvalidInput(path, 0, "--records-key given but the file is a JSON array, not an object");
    cursor_.open(file_, path, bytes_total, options.chunk_bytes, 0, 1);
    cursor_.peek();
    if (object) {  // a second pass streams the records array found by the first
      const auto [offset, line] = find_records_array();
      cursor_.open(file_, path, bytes_total, options.chunk_bytes, offset, line);
      cursor_.peek();
    }
    cursor_.advance();  // past '['
  }

  // A .json file whose first line is a whole object with the user field is NDJSON.
  // A first line longer than max(chunk_bytes, 1 MiB) (say, a minified {"data": [...]})
  // is not taken as a record, so that detection never holds the whole file.
  bool first_line_is_record() {
    const std::size_t limit = std::max<std::size_t>(options.chunk_bytes, std::size_t(1) << 20);
    std::string line;
    char block[65536];
    while (std::fgets(block, sizeof block, file_)) {
      line += block;
      json_stream::note_buffer(line.capacity());
      if (!line.empty() && line.back() == '\n') break;
      if (line.size() > limit) return false;
    }
    line.resize(line.size() + simdjson::SIMDJSON_PADDING);
    element doc, value;
    if (parser_.parse(line.data(), line.size() - simdjson::SIMDJSON_PADDING, false).get(doc) != simdjson::SUCCESS)
      return false;
    return doc.type() == element_type::OBJECT && lookup(doc, fields_[0], value);
  }

  // At the top-level '{': walks its members, skipping their values without keeping
  // them, to find the records array; returns the offset and line of its '['.
  std::pair<std::uint64_t, std::uint64_t> find_records_array() {
    cursor_.advance();
    std::string members, arrays;
    bool found = false;
    std::uint64_t found_offset = 0, found_line = 1;
    std::size_t array_count = 0;
    while (true) {
      int c = cursor_.peek();
      if (c == '}') break;
      if (c != '"')
        throw InvalidInput(path, cursor_.line(), "malformed top-level JSON object (expected a member name)");
      if (!cursor_.skip_value(true))
        throw InvalidInput(path, cursor_.line(), "unterminated member name in the top-level JSON object");
      const std::string key(cursor_.value().substr(1, cursor_.value().size() - 2));
      if (cursor_.peek() != ':')
        throw InvalidInput(path, cursor_.line(), "malformed top-level JSON object (expected ':')");
      cursor_.advance();
      c = cursor_.peek();
      const std::uint64_t value_line = cursor_.line(), value_offset = cursor_.offset();
      if (c == EOF || !cursor_.skip_value(false))
        throw InvalidInput(path, value_line, "member '" + key + "' is unterminated (truncated file?)");
      members += (members.empty() ? "" : ", ") + key;
      if (c == '[') {
        ++array_count;
        arrays += (arrays.empty() ? "" : ", ") + key;
        if (options.records_key.empty() ? array_count == 1 : key == options.records_key) {
          found = true;
          found_offset = value_offset;
          found_line = value_line;
          key_ = key;
        }
      }
      c = cursor_.peek();
      if (c == ',') {
        cursor_.advance();
        continue;
      }
      if (c == '}') break;
      throw InvalidInput(path, cursor_.line(), "malformed top-level JSON object (expected ',' or '}')");
    }
    cursor_.advance();  // past the object's '}': nothing may follow
    if (cursor_.peek() != EOF) throw InvalidInput(path, cursor_.line(), kTrailingText);
    if (!options.records_key.empty() && !found)
      throw InvalidInput(path, 0, "no array member '" + options.records_key + "' in the top-level object (members: " +
                                      members + ")");
    if (array_count == 0)
      throw InvalidInput(path, 0, "the top-level object holds no records array (members: " + members + ")");
    if (options.records_key.empty() && array_count > 1)
      throw InvalidInput(path, 0, "the top-level object holds several arrays (" + arrays +
                                      "); name the records with --records-key");
    return {found_offset, found_line};
  }

  // Splits records off the array block by block; each is parsed while its bytes are
  // in the window (a record cut by a block end is completed from the next block).
  void next_array_records(EventChunk& chunk) {
    if (done_) return;
    while (chunk.size() < options.chunk_events) {
      int c = cursor_.peek();
      if (c == ']') {
        finish_array();
        break;
      }
      if (c == EOF) throw InvalidInput(path, cursor_.line(), "unterminated records array (truncated file?)");
      const std::string where = "record " + std::to_string(++record_no_) + ": ";
      const std::uint64_t record_line = cursor_.line();
      if (!cursor_.skip_value(true)) throw InvalidInput(path, record_line, where + "unterminated (truncated file?)");
      if (cursor_.value_size() == 0)  // a stray '}' or ',' where a record should start
        throw InvalidInput(path, record_line, where + "malformed records array");
      parse_record(chunk, cursor_.value().data(), cursor_.value().size(), record_line, where);
      c = cursor_.peek();
      if (c == ',') {
        cursor_.advance();
      } else if (c == ']') {
        finish_array();
        break;
      } else {
        reject(cursor_.line(), where, "expected ',' or ']' after the record");
      }
    }
    bytes_consumed = cursor_.offset();
  }

  // At the records array's ']'. A top-level array must end the file; in an object the
  // first pass already checked what follows the array.
  void finish_array() {
    done_ = true;
    if (!key_.empty()) return;
    cursor_.advance();
    if (cursor_.peek() != EOF) throw InvalidInput(path, cursor_.line(), kTrailingText);
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
  json_stream::JsonCursor cursor_;  // arrays and objects
  std::string buffer_, carry_;        // NDJSON
  std::string key_, first_fields_;
  std::uint64_t line_ = 1, record_no_ = 0;  // line_: NDJSON
  bool ndjson_ = false, done_ = false, checked_ = false;
};

}  // namespace

std::unique_ptr<EventReader::Impl> make_json_event_reader(std::string path, EventReaderOptions options) {
  return std::make_unique<JsonEventReader>(std::move(path), std::move(options));
}

}  // namespace cohort
