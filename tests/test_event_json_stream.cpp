/*
 * test_event_json_stream.cpp: JSON arrays and {"data": [...]} objects read in blocks.
 * Reading with tiny blocks (a record cut at every byte position, strings holding
 * brackets, escaped quotes, backslashes and multi-byte UTF-8, nested objects) must
 * give exactly the records of a one-block read and of the generator; errors keep
 * their record numbers and lines; the reader's window stays a few blocks on a
 * multi-MB log.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <random>

#include "cohort/error.hpp"
#include "cohort/events.hpp"
#include "cohort/matrix.hpp"
#include "host/io/json_stream.hpp"
#include "tests/matrix_expect.hpp"
#include "tests/test_util.hpp"

namespace cohort {
namespace {

using testing::TempDir;
using testing::write_file;

// ---- a small generator of JSON event logs ----

struct Row {
  std::string user, item, event;
  double time = 0, weight = 1;
  std::string city, note;
  bool operator==(const Row& o) const {
    return user == o.user && item == o.item && event == o.event && time == o.time && weight == o.weight &&
           city == o.city && note == o.note;
  }
};

std::ostream& operator<<(std::ostream& out, const Row& r) {
  return out << "{" << r.user << " | " << r.item << " | " << r.event << " | " << r.time << " | " << r.weight << " | "
             << r.city << " | " << r.note << "}";
}

std::string number_text(double v) {
  char buffer[64];
  return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, v).ptr);
}

// JSON string literal; some plain characters escaped too (\/, \u0041) so that
// escapes land on block boundaries.
std::string quote(const std::string& s, std::mt19937_64& rng) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '/' && rng() % 2) {
      out += "\\/";
    } else if (c == 'A' && rng() % 2) {
      out += "\\u0041";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Text with the characters a naive splitter gets wrong.
std::string tricky_text(std::mt19937_64& rng, std::size_t max_len) {
  static const char* pieces[] = {"a", "b", "A", "/", "{", "}", "[", "]", ",", ":", "\"", "\\", "\\\"", " ",
                                 "é", "日本", "😀", "\"}]", "x"};
  std::string s;
  const std::size_t n = 1 + rng() % max_len;
  for (std::size_t i = 0; i < n; ++i) s += pieces[rng() % (sizeof pieces / sizeof *pieces)];
  return s;
}

std::string ws(std::mt19937_64& rng) {
  static const char* choices[] = {"", "", " ", "\n", "\r\n", "\t", "\n  "};
  return choices[rng() % (sizeof choices / sizeof *choices)];
}

struct Log {
  std::vector<Row> rows;
  std::vector<std::string> records;  ///< one JSON object per row
};

// Record 0 holds every field (optional fields must occur somewhere); later ones
// drop or null the weight and note, and shuffle member order.
Log random_log(std::mt19937_64& rng, std::size_t n) {
  Log log;
  for (std::size_t i = 0; i < n; ++i) {
    Row r;
    r.user = "u" + std::to_string(rng() % 20) + tricky_text(rng, 3);
    r.item = rng() % 3 ? "cat" + std::to_string(rng() % 5) : tricky_text(rng, 6);
    r.event = rng() % 2 ? "View" : "Fund";
    r.time = 1393632000.0 + static_cast<double>(rng() % 100000) + static_cast<double>(rng() % 4) / 4;
    r.city = tricky_text(rng, 5);
    std::vector<std::string> members = {
        "\"user\":" + ws(rng) + "{\"id\": " + quote(r.user, rng) + ", \"tags\": [\"]\", {\"k\": \"[{\"}]}",
        "\"item\": " + quote(r.item, rng),
        "\"event\":" + ws(rng) + quote(r.event, rng),
        "\"time\": " + number_text(r.time),
        "\"loc\": {\"city\": " + quote(r.city, rng) + "," + ws(rng) + "\"zip\": 80540}",
    };
    const auto shape = i == 0 ? 0 : rng() % 4;
    if (shape != 1) {
      r.weight = static_cast<double>(rng() % 9) / 2;
      members.push_back("\"weight\": " + number_text(r.weight));
    } else if (rng() % 2) {
      members.push_back("\"weight\": null");
    }
    if (shape != 2) {
      r.note = tricky_text(rng, 4) + (rng() % 3 ? "" : "\nline two");
      members.push_back("\"note\": " + quote(r.note, rng));
    }
    if (i > 0) std::shuffle(members.begin(), members.end(), rng);
    std::string record = "{" + ws(rng);
    for (std::size_t m = 0; m < members.size(); ++m) record += (m ? "," + ws(rng) : "") + members[m];
    log.rows.push_back(r);
    log.records.push_back(record + ws(rng) + "}");
  }
  return log;
}

std::string array_text(const Log& log, std::mt19937_64& rng) {
  std::string out = "[" + ws(rng);
  for (std::size_t i = 0; i < log.records.size(); ++i) out += (i ? "," + ws(rng) : "") + log.records[i];
  return out + ws(rng) + "]\n";
}

// {before..., "data": [...], after...}
std::string object_text(const Log& log, std::mt19937_64& rng, const std::vector<std::string>& before,
                        const std::vector<std::string>& after) {
  std::string out = "{";
  for (const auto& m : before) out += m + "," + ws(rng);
  out += "\"data\":" + ws(rng) + array_text(log, rng);
  for (const auto& m : after) out += "," + ws(rng) + m;
  return out + "}\n";
}

// ---- reading ----

EventReaderOptions options(std::size_t chunk_bytes, std::size_t chunk_events = 1000) {
  EventReaderOptions o;
  o.user_col = "user.id";
  o.item_col = "item";
  o.event_col = "event";
  o.time_col = "time";
  o.weight_col = "weight";
  o.attr_cols = {"loc.city", "note"};
  o.format = "json";
  o.chunk_bytes = chunk_bytes;
  o.chunk_events = chunk_events;
  return o;
}

struct Read {
  std::vector<Row> rows;
  std::string format;
  std::uint64_t read = 0, skipped = 0;
};

// Every field of every EventChunk record, concatenated over the chunks.
Read read_all(const std::string& path, const EventReaderOptions& o) {
  EventReader reader(path, o);
  Read out;
  out.format = reader.format();
  EventChunk chunk;
  while (reader.next(chunk)) {
    EXPECT_LE(chunk.size(), o.chunk_events);
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      Row r{std::string(chunk.user[i]), std::string(chunk.item[i]), std::string(chunk.event[i]),
            chunk.time.empty() ? 0.0 : chunk.time[i], chunk.weight.empty() ? 1.0 : chunk.weight[i], "", ""};
      if (chunk.attrs.size() == 2) {
        r.city = chunk.attrs[0][i];
        r.note = chunk.attrs[1][i];
      }
      out.rows.push_back(r);
    }
  }
  out.read = reader.records_read();
  out.skipped = reader.records_skipped();
  return out;
}

// The error message, or a summary of what was read.
std::string outcome(const std::string& path, const EventReaderOptions& o) {
  try {
    const Read r = read_all(path, o);
    std::string s = r.format + " read " + std::to_string(r.read) + " skipped " + std::to_string(r.skipped);
    for (const auto& row : r.rows) s += "|" + row.user + "," + row.item + "," + row.note;
    return s;
  } catch (const InvalidInput& e) {
    return std::string("error: ") + e.what();
  }
}

void expect_contains(const std::string& message, const std::vector<std::string>& parts) {
  for (const auto& p : parts) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
}

constexpr std::size_t kWhole = std::size_t(1) << 30;  // one block holds the file
const std::size_t kSmallBlocks[] = {1, 2, 7, 64, 1000};

// ---- records equal to a one-block read and to the generator ----

TEST(EventJsonStream, RandomArraysAndObjectsMatchAOneBlockRead) {
  TempDir dir;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    std::mt19937_64 rng(seed);
    const Log log = random_log(rng, 1 + rng() % 120);
    write_file(dir.file("a.json"), array_text(log, rng));
    write_file(dir.file("o.json"), object_text(log, rng, {"\"meta\": {\"n\": \"[\"}"}, {"\"more\": {\"x\": 1}"}));
    for (const char* file : {"a.json", "o.json"}) {
      const std::string tag = std::string(file) + " seed " + std::to_string(seed);
      const Read whole = read_all(dir.file(file), options(kWhole));
      ASSERT_EQ(whole.rows, log.rows) << tag;
      EXPECT_EQ(whole.format, file[0] == 'a' ? "json array" : "json object 'data'") << tag;
      for (const std::size_t block : kSmallBlocks)
        for (const std::size_t events : {std::size_t(1), std::size_t(5), std::size_t(1000)}) {
          const Read r = read_all(dir.file(file), options(block, events));
          ASSERT_EQ(r.rows, whole.rows) << tag << " block " << block << " events " << events;
          EXPECT_EQ(r.format, whole.format) << tag;
          EXPECT_EQ(r.read, log.rows.size()) << tag;
        }
    }
  }
}

TEST(EventJsonStream, ARecordCutAtEveryBytePosition) {
  TempDir dir;
  std::mt19937_64 rng(11);
  const Log log = random_log(rng, 3);
  const std::string text = array_text(log, rng);
  write_file(dir.file("a.json"), text);
  const Read whole = read_all(dir.file("a.json"), options(kWhole));
  ASSERT_EQ(whole.rows, log.rows);
  // A block of b bytes puts a boundary at byte b: every position is cut once.
  for (std::size_t block = 1; block <= text.size() + 1; ++block)
    ASSERT_EQ(read_all(dir.file("a.json"), options(block, 2)).rows, whole.rows) << "block " << block;
}

TEST(EventJsonStream, BuildMatrixWithTinyBlocksEqualsOneBlock) {
  TempDir dir;
  std::mt19937_64 rng(5);
  const Log log = random_log(rng, 200);
  write_file(dir.file("o.json"), object_text(log, rng, {"\"meta\": {\"n\": 200}"}, {}));
  MatrixOptions o;
  o.device = Device::Cpu;
  o.reader = options(kWhole, 64);
  testing::QuietScope quiet;
  const MatrixResult whole = build_matrix(dir.file("o.json"), o);
  o.reader.chunk_bytes = 7;
  const MatrixResult small = build_matrix(dir.file("o.json"), o);
  EXPECT_EQ(small.events_read, 200u);
  testing::expect_same_matrix(small, whole);
}

// ---- where the records array sits in a top-level object ----

TEST(EventJsonStream, RecordsArrayBeforeBetweenAndAfterOtherMembers) {
  TempDir dir;
  std::mt19937_64 rng(3);
  const Log log = random_log(rng, 25);
  const std::string meta = "\"meta\": {\"s\": \"] [ {\\\"\", \"n\": {\"deep\": null}}", count = "\"count\": 25";
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> layouts = {
      {{}, {}}, {{meta, count}, {}}, {{}, {meta, count}}, {{meta}, {count, "\"t\": \"]\""}}};
  for (std::size_t l = 0; l < layouts.size(); ++l) {
    write_file(dir.file("o.json"), object_text(log, rng, layouts[l].first, layouts[l].second));
    for (const std::size_t block : {std::size_t(1), std::size_t(7), std::size_t(64), kWhole}) {
      const Read r = read_all(dir.file("o.json"), options(block));
      EXPECT_EQ(r.format, "json object 'data'") << "layout " << l;
      EXPECT_EQ(r.rows, log.rows) << "layout " << l << " block " << block;
    }
  }
}

TEST(EventJsonStream, RecordsKeyPicksOneOfSeveralArrays) {
  TempDir dir;
  std::mt19937_64 rng(4);
  const Log log = random_log(rng, 30);
  write_file(dir.file("o.json"), object_text(log, rng, {"\"meta\": [1, 2]"}, {"\"tail\": [\"]\", {\"data\": [3]}]"}));
  for (const std::size_t block : kSmallBlocks) {
    EventReaderOptions o = options(block);
    expect_contains(outcome(dir.file("o.json"), o), {"several arrays (meta, data, tail)", "--records-key"});
    o.records_key = "data";
    EXPECT_EQ(read_all(dir.file("o.json"), o).rows, log.rows) << "block " << block;
    o.records_key = "nope";
    expect_contains(outcome(dir.file("o.json"), o), {"no array member 'nope'", "members: meta, data, tail"});
  }
}

// ---- errors keep their record numbers and lines ----

TEST(EventJsonStream, MalformedRecordIsNamedOrSkippedWithSmallBlocks) {
  TempDir dir;
  const std::string body =
      "[\n{\"user\": {\"id\": \"a\"}, \"item\": \"x\", \"event\": \"v\", \"time\": 1, \"weight\": 2},\n"
      "{\"user\": {\"id\": \"b\"}, \"item\": \"x\", \"event\": \"v\", \"time\": 1, \"weight\": },\n"
      "{\"user\": {\"id\": \"c\"}, \"item\": \"x\", \"event\": \"v\", \"time\": 3, \"weight\": 1}\n]\n";
  write_file(dir.file("bad.json"), body);
  for (const std::size_t block : kSmallBlocks) {
    EventReaderOptions o = options(block);
    o.attr_cols.clear();
    const std::string message = outcome(dir.file("bad.json"), o);
    EXPECT_EQ(message.rfind("error: " + dir.file("bad.json") + ":3: record 2: malformed JSON", 0), 0u) << message;
    o.skip_invalid = true;
    const Read r = read_all(dir.file("bad.json"), o);
    EXPECT_EQ(r.read, 2u);
    EXPECT_EQ(r.skipped, 1u);
    ASSERT_EQ(r.rows.size(), 2u);
    EXPECT_EQ(r.rows[0].user, "a");
    EXPECT_EQ(r.rows[1].user, "c");
  }
}

TEST(EventJsonStream, TruncatedArraysAndObjectsWithSmallBlocks) {
  TempDir dir;
  const std::string rec = "{\"user\": {\"id\": \"a\"}, \"item\": \"x\", \"event\": \"v\", \"time\": 1, \"weight\": 1}";
  struct Case {
    std::string text;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"[" + rec + ",\n{\"user\": ", {"cut.json:2: record 2: unterminated (truncated file?)"}},
      {"[" + rec + ",\n\n", {"cut.json:3: unterminated records array (truncated file?)"}},
      {"[" + rec + "\n", {"cut.json:2: record 1: expected ',' or ']' after the record"}},
      {"[" + rec + "}\n]", {"cut.json:1: record 1: expected ',' or ']'"}},
      {"{\"meta\": 1,\n \"data\": [" + rec + ",\n" + rec,
       {"cut.json:2: member 'data' is unterminated (truncated file?)"}},
      {"{\"data\": [" + rec + "], \"x\" 1}", {"cut.json:1: malformed top-level JSON object (expected ':')"}},
      {"{\"data\": [" + rec + "]\n\"x\": 1}", {"cut.json:2: malformed top-level JSON object (expected ',' or '}')"}},
      {"{\"meta\": {}, \"n\": 2}", {"holds no records array (members: meta, n)"}},
  };
  for (const auto& c : cases)
    for (const std::size_t block : kSmallBlocks) {
      write_file(dir.file("cut.json"), c.text);
      const std::string message = outcome(dir.file("cut.json"), options(block));
      expect_contains(message, c.parts);
      EXPECT_EQ(message, outcome(dir.file("cut.json"), options(kWhole))) << "block " << block;
    }
  // With skipping, a stray '}' is skipped once; the next "record" starts at it.
  write_file(dir.file("stray.json"), "[" + rec + "}\n]");
  EventReaderOptions o = options(3);
  o.skip_invalid = true;
  expect_contains(outcome(dir.file("stray.json"), o), {"stray.json:1: record 2: malformed records array"});
}

// Cutting a valid file anywhere gives the same outcome (error text or records) with
// any block size: the error paths see the same bytes and lines as a one-block read.
TEST(EventJsonStream, EveryTruncationGivesTheOneBlockOutcome) {
  TempDir dir;
  std::mt19937_64 rng(21);
  const Log log = random_log(rng, 3);
  for (const bool object : {false, true}) {
    const std::string text =
        object ? object_text(log, rng, {"\"m\": {\"a\": \"}\"}"}, {"\"z\": 2"}) : array_text(log, rng);
    for (std::size_t cut = 0; cut <= text.size(); cut += 1 + cut % 3) {
      write_file(dir.file("t.json"), text.substr(0, cut));
      for (const bool skip : {false, true}) {
        EventReaderOptions whole = options(kWhole, 2);
        whole.skip_invalid = skip;
        const std::string expected = outcome(dir.file("t.json"), whole);
        for (const std::size_t block : {std::size_t(1), std::size_t(5), std::size_t(64)}) {
          EventReaderOptions o = options(block, 2);
          o.skip_invalid = skip;
          ASSERT_EQ(outcome(dir.file("t.json"), o), expected) << "cut " << cut << " block " << block;
        }
      }
    }
  }
}

// ---- NDJSON detection is unchanged ----

TEST(EventJsonStream, NdjsonInADotJsonFileIsStillDetected) {
  TempDir dir;
  std::mt19937_64 rng(8);
  const Log log = random_log(rng, 10);
  std::string text;
  for (const auto& r : log.records) {
    std::string line = r;
    line.erase(std::remove(line.begin(), line.end(), '\n'), line.end());  // whitespace only: still one record
    text += line + "\n";
  }
  write_file(dir.file("n.json"), text);
  const Read r = read_all(dir.file("n.json"), options(7));
  EXPECT_EQ(r.format, "ndjson");
  EXPECT_EQ(r.rows, log.rows);
}

// Nothing may follow the top-level value. NDJSON whose first record is too long to be
// detected as one (over max(chunk_bytes, 1 MiB)) would otherwise be read as an object
// holding the first record's array and nothing else.
TEST(EventJsonStream, TextAfterTheTopLevelValueIsAnError) {
  TempDir dir;
  const std::string long_first = "{\"user\": {\"id\": \"a\"}, \"item\": \"i\", \"event\": \"v\", \"tags\": [1, 2], \"note\": \"" +
                                 std::string(std::size_t(2) << 20, 'x') + "\"}\n";
  write_file(dir.file("n.json"), long_first + "{\"user\": {\"id\": \"b\"}, \"item\": \"i\", \"event\": \"v\"}\n");
  auto ids_only = [](std::size_t block) {
    EventReaderOptions o = options(block);
    o.time_col = o.weight_col = "";
    o.attr_cols.clear();
    return o;
  };
  expect_contains(outcome(dir.file("n.json"), ids_only(64)), {"n.json:2", "--input-format ndjson"});
  EXPECT_EQ(outcome(dir.file("n.json"), ids_only(kWhole)), "ndjson read 2 skipped 0|a,i,|b,i,");  // fits the limit
  write_file(dir.file("a.json"), "[{\"user\": {\"id\": \"a\"}, \"item\": \"i\", \"event\": \"v\"}]\n[]\n");
  for (const std::size_t block : {std::size_t(3), kWhole})
    expect_contains(outcome(dir.file("a.json"), ids_only(block)), {"a.json:2", "text after the top-level JSON value"});
  write_file(dir.file("ok.json"), "\n[{\"user\": {\"id\": \"a\"}, \"item\": \"i\", \"event\": \"v\"}]  \n\n");  // whitespace is fine
  EXPECT_EQ(read_all(dir.file("ok.json"), ids_only(3)).rows.size(), 1u);
}

// The log's records repeated, joined by separator, until they make ~6 MB; *copies counts
// the repeats. one_line: each record's line breaks removed.
std::string repeated_records(const Log& log, const std::string& separator, bool one_line, std::size_t* copies) {
  std::string records;
  *copies = 0;
  while (records.size() < (std::size_t(6) << 20)) {
    for (std::string r : log.records) {
      if (one_line) r.erase(std::remove(r.begin(), r.end(), '\n'), r.end());
      records += (records.empty() ? "" : separator) + r;
    }
    ++*copies;
  }
  return records;
}

// A minified {"data": [...]} is one long line: detection must not read it whole.
TEST(EventJsonStream, MinifiedOneLineObjectStreams) {
  TempDir dir;
  std::mt19937_64 rng(10);
  const Log log = random_log(rng, 200);
  std::size_t copies = 0;
  const std::string records = repeated_records(log, ",", true, &copies);  // over the 1 MiB line limit
  write_file(dir.file("m.json"), "{\"meta\": {\"n\": 1}, \"data\": [" + records + "]}");
  json_stream::reset_window_high_water();
  const Read r = read_all(dir.file("m.json"), options(64 * 1024));
  EXPECT_EQ(r.format, "json object 'data'");
  ASSERT_EQ(r.rows.size(), copies * log.rows.size());
  for (std::size_t i = 0; i < r.rows.size(); ++i) ASSERT_EQ(r.rows[i], log.rows[i % log.rows.size()]) << i;
  // the first-line check stops after 1 MiB (a string that grew to 2 MiB at most)
  EXPECT_LE(json_stream::window_high_water(), std::size_t(2) << 20);
}

// ---- memory: a few blocks, not the file ----

TEST(EventJsonStream, WindowStaysAFewBlocksOnAMultiMegabyteLog) {
  TempDir dir;
  std::mt19937_64 rng(9);
  const Log log = random_log(rng, 2000);
  std::size_t copies = 0;
  const std::string records = repeated_records(log, ",\n", false, &copies);
  // a record larger than a block must still be read (and kept whole only while parsed)
  const std::string big_note(200 * 1024, 'n');
  const std::string big = "{\"user\": {\"id\": \"big\"}, \"item\": \"i\", \"event\": \"v\", \"time\": 1, \"note\": \"" +
                          big_note + "\", \"loc\": {\"city\": \"c\"}}";
  write_file(dir.file("a.json"), "[" + records + ",\n" + big + "\n]\n");
  write_file(dir.file("o.json"), "{\"meta\": {\"n\": 1}, \"data\": [" + records + ",\n" + big + "\n], \"tail\": 1}\n");
  constexpr std::size_t kBlock = 64 * 1024;
  for (const char* file : {"a.json", "o.json"}) {
    json_stream::reset_window_high_water();
    EventReader reader(dir.file(file), options(kBlock, 4096));
    EventChunk chunk;
    std::size_t rows = 0, peak_before_big = 0;
    std::string last_note;
    while (reader.next(chunk)) {
      rows += chunk.size();
      if (chunk.size() > 0) last_note = std::string(chunk.attrs[1][chunk.size() - 1]);
      if (rows < copies * log.rows.size()) peak_before_big = json_stream::window_high_water();
    }
    EXPECT_EQ(rows, copies * log.rows.size() + 1) << file;
    EXPECT_EQ(last_note, big_note) << file;
    EXPECT_GT(peak_before_big, 0u) << file;
    EXPECT_LE(peak_before_big, 3 * kBlock) << file << ": the window held more than 3 blocks";
    EXPECT_LE(json_stream::window_high_water(), 2 * (big.size() + kBlock) + 4096) << file;
    EXPECT_LT(json_stream::window_high_water(), reader.bytes_total() / 10) << file;
  }
}

}  // namespace
}  // namespace cohort
