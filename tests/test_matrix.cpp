/*
 * test_matrix.cpp: the matrix engine: timestamps, key packing, aggregation against a
 * brute-force std::map reference on random logs (CSV, JSON array, {"data": [...]},
 * NDJSON; chunked == whole), the output files (.mtx / .npy round trips, long CSV,
 * derived matrices), every bad-input case, the real Localytics log, the CLI, and
 * CUDA == CPU when a GPU is present.
 * Tolerances: counts, first and last are compared exactly (integer counts, min/max of
 * the input doubles). Sums of the random non-integer weights depend on summation order
 * across chunks: relative 1e-12 (a few ulps of 100-term sums). Intervals follow.
 */
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/matrix.hpp"
#include "cohort/progress.hpp"
#include "host/io/string_dictionary.hpp"
#include "kernels/matrix_element.hpp"
#include "tests/matrix_expect.hpp"
#include "tests/test_util.hpp"
#ifdef COHORT_WITH_CUDA
#include "kernels/dictionary.hpp"
#endif

namespace cohort {
namespace {

using testing::read_file;
using testing::TempDir;
using testing::write_file;

constexpr double kSumTolerance = 1e-12;

// ---- timestamps and element code ----

TEST(MatrixTime, ParsesEpochAndIso8601) {
  double t = 0;
  ASSERT_TRUE(parse_event_time("1393632004", t));
  EXPECT_EQ(t, 1393632004.0);
  ASSERT_TRUE(parse_event_time(" 1393632004.25 ", t));
  EXPECT_EQ(t, 1393632004.25);
  ASSERT_TRUE(parse_event_time("2014-03-01T00:00:04Z", t));
  EXPECT_EQ(t, 1393632004.0);
  ASSERT_TRUE(parse_event_time("2014-03-01T01:00:04+01:00", t));
  EXPECT_EQ(t, 1393632004.0);
  ASSERT_TRUE(parse_event_time("2014-02-28T19:00:04-0500", t));
  EXPECT_EQ(t, 1393632004.0);
  ASSERT_TRUE(parse_event_time("2014-03-01 00:00:04", t));
  EXPECT_EQ(t, 1393632004.0);
  ASSERT_TRUE(parse_event_time("2014-03-01", t));
  EXPECT_EQ(t, 1393632000.0);
  ASSERT_TRUE(parse_event_time("2014-03-01T00:00:04.5Z", t));
  EXPECT_EQ(t, 1393632004.5);
  // the basic form (no separators), with 'T': a basic date alone is epoch seconds
  ASSERT_TRUE(parse_event_time("20140301T000004Z", t));
  EXPECT_EQ(t, 1393632004.0);
  ASSERT_TRUE(parse_event_time("20140228T190004.25-0500", t));
  EXPECT_EQ(t, 1393632004.25);
  ASSERT_TRUE(parse_event_time("20140301T0001", t));
  EXPECT_EQ(t, 1393632060.0);
  ASSERT_TRUE(parse_event_time("20140301", t));
  EXPECT_EQ(t, 20140301.0);
  for (const char* mixed : {"2014-0301T00:00:04Z", "20140301T00:00:04", "2014-03-01T000004", "20140301 000004",
                            "20141301T000000Z", "20140301T000004X"})
    EXPECT_FALSE(parse_event_time(mixed, t)) << mixed;
  ASSERT_TRUE(parse_event_time("1970-01-01T00:00:00Z", t));
  EXPECT_EQ(t, 0.0);
  ASSERT_TRUE(parse_event_time("2000-02-29T12:00Z", t));
  EXPECT_EQ(t, 951825600.0);
  ASSERT_TRUE(parse_event_time("1969-12-31T23:59:59Z", t));
  EXPECT_EQ(t, -1.0);
  for (const char* bad : {"", "yesterday", "2014-02-30", "2013-02-29", "2014-13-01", "2014-03-01T25:00:00Z",
                          "2014-03-01T00:00:04Q", "2014-3-1", "nan", "2014-03-01T00:00:04+5"})
    EXPECT_FALSE(parse_event_time(bad, t)) << bad;
}

TEST(MatrixElement, KeyPackingRoundTripsAndOrdersByRowEventCol) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 1000; ++trial) {
    const std::uint32_t rows = 1 + static_cast<std::uint32_t>(rng() % 100000), cols = 1 + static_cast<std::uint32_t>(rng() % 5000),
                        events = 1 + static_cast<std::uint32_t>(rng() % 300);
    const KeyLayout k = make_key_layout(rows, cols, events);
    ASSERT_TRUE(fits(k));
    const auto r = static_cast<std::uint32_t>(rng() % rows), c = static_cast<std::uint32_t>(rng() % cols),
               e = static_cast<std::uint32_t>(rng() % events);
    const std::uint64_t key = pack_cell_key(r, e, c, k);
    EXPECT_EQ(key_row(key, k), r);
    EXPECT_EQ(key_col(key, k), c);
    EXPECT_EQ(key_event(key, k), e);
    const auto r2 = static_cast<std::uint32_t>(rng() % rows), c2 = static_cast<std::uint32_t>(rng() % cols),
               e2 = static_cast<std::uint32_t>(rng() % events);
    EXPECT_EQ(pack_cell_key(r, e, c, k) < pack_cell_key(r2, e2, c2, k), std::tie(r, e, c) < std::tie(r2, e2, c2));
  }
  EXPECT_FALSE(fits(make_key_layout(std::uint64_t(1) << 32, std::uint64_t(1) << 31, 4)));
}

TEST(MatrixElement, MergeKeepsCountSumAndTimeRange) {
  const CellAccumulator a = cell_merge(cell_from_event(10, 2), cell_from_event(4, 3));
  const CellAccumulator b = cell_merge(a, cell_from_event(7, 0.5));
  EXPECT_EQ(b.count, 3);
  EXPECT_EQ(b.sum, 5.5);
  EXPECT_EQ(b.first, 4);
  EXPECT_EQ(b.last, 10);
  EXPECT_EQ(cell_mean_interval(b), 3.0);
  EXPECT_EQ(cell_mean_interval(cell_from_event(5, 1)), 0.0);
}

// ---- random logs and the brute-force reference ----

struct Ref {
  long long count = 0;
  double sum = 0, first = INFINITY, last = -INFINITY;
};
using Key = std::tuple<std::string, std::string, std::string>;

struct Log {
  std::vector<std::string> user, item, event, time_text, weight_text;
  std::vector<double> time, weight;
  std::map<Key, Ref> reference() const {
    std::map<Key, Ref> ref;
    for (std::size_t i = 0; i < user.size(); ++i) {
      Ref& r = ref[{user[i], item[i], event[i]}];
      ++r.count;
      r.sum += weight[i];
      r.first = std::min(r.first, time[i]);
      r.last = std::max(r.last, time[i]);
    }
    return ref;
  }
};

// Unicode and comma/quote ids, duplicates (few distinct values), out-of-order times in
// two formats, empty weights (= 1), users with a single event.
Log random_log(std::uint64_t seed, std::size_t n, int n_events) {
  std::mt19937_64 rng(seed);
  const std::vector<std::string> prefixes = {"u", "Zoë", "用户", "a,b", "q\"x", "Ünïcode", "  sp"};
  Log log;
  for (std::size_t i = 0; i < n; ++i) {
    const bool lonely = rng() % 20 == 0;  // a user that most likely appears once
    log.user.push_back(lonely ? "solo" + std::to_string(rng()) : prefixes[rng() % prefixes.size()] + std::to_string(rng() % 40));
    log.item.push_back("cat-" + std::to_string(rng() % 13) + (rng() % 3 == 0 ? "é" : ""));
    log.event.push_back("ev " + std::to_string(rng() % static_cast<std::uint64_t>(n_events)));
    const auto t = static_cast<std::int64_t>(1393632000 + rng() % 3000000);
    log.time.push_back(static_cast<double>(t));
    if (rng() % 2) {
      log.time_text.push_back(std::to_string(t));
    } else {
      const std::int64_t days = t / 86400, secs = t % 86400;
      // 2014-03-01 is day 16130; the log spans < 35 days, in March 2014 or April
      const std::int64_t d = days - 16130;
      char buf[64];
      const int month = d < 31 ? 3 : 4, day = static_cast<int>(d < 31 ? d + 1 : d - 30);
      std::snprintf(buf, sizeof buf, "2014-%02d-%02dT%02d:%02d:%02dZ", month, day, static_cast<int>(secs / 3600),
                    static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
      log.time_text.push_back(buf);
    }
    if (rng() % 5 == 0) {
      log.weight.push_back(1.0);
      log.weight_text.push_back("");
    } else {
      const double w = static_cast<double>(rng() % 10000) / 64.0;  // exact in binary and in text
      log.weight.push_back(w);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", w);
      log.weight_text.push_back(buf);
    }
  }
  return log;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string to_csv(const Log& log) {
  std::string out = "user,item,event,time,weight\n";
  for (std::size_t i = 0; i < log.user.size(); ++i)
    out += csv_escape(log.user[i]) + "," + csv_escape(log.item[i]) + "," + csv_escape(log.event[i]) + "," +
           log.time_text[i] + "," + log.weight_text[i] + "\n";
  return out;
}

std::string json_record(const Log& log, std::size_t i) {
  std::string weight = log.weight_text[i].empty() ? "null" : log.weight_text[i];
  std::string time = log.time_text[i].find('T') != std::string::npos ? json_string(log.time_text[i]) : log.time_text[i];
  return "{\"user\": {\"id\": " + json_string(log.user[i]) + "}, \"item\": " + json_string(log.item[i]) +
         ", \"event\": " + json_string(log.event[i]) + ", \"time\": " + time + ", \"weight\": " + weight + "}";
}

std::string to_json(const Log& log, bool wrapped, bool ndjson) {
  std::string out = ndjson ? "" : wrapped ? "{\"meta\": {\"n\": 1}, \"data\": [\n" : "[\n";
  for (std::size_t i = 0; i < log.user.size(); ++i)
    out += json_record(log, i) + (ndjson ? "\n" : i + 1 < log.user.size() ? ",\n" : "\n");
  if (!ndjson) out += wrapped ? "]}\n" : "]\n";
  return out;
}

MatrixOptions options_for(bool json, std::size_t chunk = std::size_t(1) << 21) {
  MatrixOptions o;
  o.device = Device::Cpu;
  o.reader.user_col = json ? "user.id" : "user";
  o.reader.item_col = "item";
  o.reader.event_col = "event";
  o.reader.time_col = "time";
  o.reader.weight_col = "weight";
  o.reader.chunk_events = chunk;
  o.reader.chunk_bytes = chunk * 8;  // CSV/NDJSON: tiny chunks too
  return o;
}

// CPU, with the user and item columns only.
MatrixOptions user_item_options(const std::string& user, const std::string& item) {
  MatrixOptions o;
  o.device = Device::Cpu;
  o.reader.user_col = user;
  o.reader.item_col = item;
  return o;
}

std::vector<std::string> sorted_unique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

void expect_matches_reference(const MatrixResult& r, const Log& log, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(r.users, sorted_unique(log.user));
  EXPECT_EQ(r.items, sorted_unique(log.item));
  EXPECT_EQ(r.events, sorted_unique(log.event));
  EXPECT_EQ(r.events_read, log.user.size());
  const auto ref = log.reference();
  ASSERT_EQ(r.cells.size(), ref.size());
  for (std::size_t i = 0; i < r.cells.size(); ++i) {
    const Key key{r.users[r.cells.row[i]], r.items[r.cells.col[i]], r.events[r.cells.event[i]]};
    const auto found = ref.find(key);
    ASSERT_NE(found, ref.end()) << "cell " << i;
    EXPECT_EQ(r.cells.count[i], found->second.count);
    EXPECT_NEAR(r.cells.sum_at(i), found->second.sum, kSumTolerance * std::abs(found->second.sum));
    EXPECT_EQ(r.cells.first_at(i), found->second.first);
    EXPECT_EQ(r.cells.last_at(i), found->second.last);
    if (i > 0) {
      EXPECT_LT(std::tie(r.cells.row[i - 1], r.cells.event[i - 1], r.cells.col[i - 1]),
                std::tie(r.cells.row[i], r.cells.event[i], r.cells.col[i]));
    }
  }
}

class MatrixQuiet : public ::testing::Test {
 protected:
  void SetUp() override { set_verbosity(Verbosity::Quiet); }
  void TearDown() override { set_verbosity(Verbosity::Normal); }
};

using MatrixBuild = MatrixQuiet;

TEST_F(MatrixBuild, RandomLogsMatchTheReferenceInEveryFormat) {
  TempDir dir;
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    for (const std::size_t n : {1u, 3u, 2000u}) {
      const Log log = random_log(seed, n, seed == 3 ? 300 : 4);
      const std::string tag = "seed " + std::to_string(seed) + " n " + std::to_string(n);
      write_file(dir.file("log.csv"), to_csv(log));
      write_file(dir.file("log.json"), to_json(log, false, false));
      write_file(dir.file("wrapped.json"), to_json(log, true, false));
      write_file(dir.file("log.ndjson"), to_json(log, false, true));
      expect_matches_reference(build_matrix(dir.file("log.csv"), options_for(false)), log, tag + " csv");
      expect_matches_reference(build_matrix(dir.file("log.json"), options_for(true)), log, tag + " json array");
      const MatrixResult wrapped = build_matrix(dir.file("wrapped.json"), options_for(true));
      EXPECT_EQ(wrapped.format, "json object 'data'");
      expect_matches_reference(wrapped, log, tag + " wrapped");
      expect_matches_reference(build_matrix(dir.file("log.ndjson"), options_for(true)), log, tag + " ndjson");
    }
  }
}

TEST_F(MatrixBuild, TinyChunksEqualOneChunk) {
  TempDir dir;
  const Log log = random_log(11, 3000, 5);
  write_file(dir.file("log.csv"), to_csv(log));
  write_file(dir.file("log.json"), to_json(log, false, false));
  write_file(dir.file("log.ndjson"), to_json(log, false, true));
  for (const char* file : {"log.csv", "log.json", "log.ndjson"}) {
    const bool json = std::string(file) != "log.csv";
    const MatrixResult whole = build_matrix(dir.file(file), options_for(json));
    for (const std::size_t chunk : {1u, 7u, 100u}) {
      const MatrixResult chunked = build_matrix(dir.file(file), options_for(json, chunk));
      SCOPED_TRACE(std::string(file) + " chunk " + std::to_string(chunk));
      expect_matches_reference(chunked, log, "chunked");
      EXPECT_EQ(chunked.cells.count, whole.cells.count);
      EXPECT_EQ(chunked.cells.first, whole.cells.first);
      EXPECT_EQ(chunked.cells.last, whole.cells.last);
      EXPECT_EQ(chunked.cells.col, whole.cells.col);
    }
  }
}

TEST_F(MatrixBuild, WithoutOptionalColumnsCountsOnly) {
  TempDir dir;
  write_file(dir.file("log.csv"), "u,i\nb,x\na,y\nb,x\n");
  MatrixOptions o = user_item_options("u", "i");
  const MatrixResult r = build_matrix(dir.file("log.csv"), o);
  EXPECT_EQ(r.users, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(event_file_stems(r), (std::vector<std::string>{"counts"}));
  EXPECT_TRUE(r.cells.counts_only);
  const Csr m = cell_matrix(r, 0, CellValue::Count);
  EXPECT_EQ(m.at(0, 1), 1.0);
  EXPECT_EQ(m.at(1, 0), 2.0);
  EXPECT_EQ(m.nnz(), 2u);
  const Csr sums = cell_matrix(r, 0, CellValue::Sum);  // weight 1: sum = count
  EXPECT_EQ(sums.values, m.values);
  // chunks of one event merge counts-only tables; the long CSV has sum = count
  o.reader.chunk_bytes = 8;
  const MatrixResult chunked = build_matrix(dir.file("log.csv"), o);
  EXPECT_TRUE(chunked.cells.counts_only);
  EXPECT_EQ(chunked.cells.count, r.cells.count);
  EXPECT_EQ(chunked.cells.col, r.cells.col);
  write_long_csv(chunked, dir.file("long.csv"));
  EXPECT_EQ(read_file(dir.file("long.csv")),
            "user,item,event,count,sum,first,last,mean_interval\na,y,,1,1,,,\nb,x,,2,2,,,\n");
}

TEST_F(MatrixBuild, UserFromMapsJoinOutputToUsers) {
  TempDir dir;
  write_file(dir.file("pairs.csv"), "point_id,polygon_id\np1,s1\np2,s1\np3,s2\np1,s2\n");
  write_file(dir.file("pings.csv"), "point_id,user_id,lon,lat\np1,alice,0,0\np2,bob,0,0\np3,alice,0,0\n");
  const auto map = read_id_map(dir.file("pings.csv"), "point_id", "user_id");
  MatrixOptions o;
  o.device = Device::Cpu;
  o.reader.user_col = "point_id";
  o.reader.item_col = "polygon_id";
  o.reader.user_map = &map;
  const MatrixResult r = build_matrix(dir.file("pairs.csv"), o);
  EXPECT_EQ(r.users, (std::vector<std::string>{"alice", "bob"}));
  const Csr m = cell_matrix(r, 0, CellValue::Count);
  EXPECT_EQ(m.at(0, 0), 1.0);  // alice s1
  EXPECT_EQ(m.at(0, 1), 2.0);  // alice s2 (p3, p1)
  EXPECT_EQ(m.at(1, 0), 1.0);
  write_file(dir.file("pairs2.csv"), "point_id,polygon_id\np9,s1\n");
  EXPECT_THROW(build_matrix(dir.file("pairs2.csv"), o), InvalidInput);
}

TEST_F(MatrixBuild, AttributesFollowTheResolutionRule) {
  TempDir dir;
  // u1: F twice, U three times -> F (known beats unknown). u2: M, O, O -> O (most frequent).
  // u3: M, F -> M (tie, first seen). u4: U only -> U. u5: "" then X -> X.
  write_file(dir.file("log.csv"),
             "user,item,gender\nu1,a,U\nu1,a,F\nu1,b,U\nu1,a,U\nu1,a,F\nu2,a,M\nu2,a,O\nu2,a,O\nu3,a,M\nu3,a,F\n"
             "u4,a,U\nu5,a,\nu5,a,X\n");
  MatrixOptions o = user_item_options("user", "item");
  o.reader.attr_cols = {"gender"};
  const MatrixResult r = build_matrix(dir.file("log.csv"), o);
  ASSERT_EQ(r.users.size(), 5u);
  std::vector<std::string> got;
  for (const auto& row : r.attributes.values) got.push_back(row[0]);
  EXPECT_EQ(got, (std::vector<std::string>{"F", "O", "M", "U", "X"}));
  EXPECT_EQ(r.attributes.users_conflicted, 4u);
  EXPECT_EQ(r.attributes.conflicts[0], 4u);
  // The same through the CLI, with a second column: the files it writes.
  write_file(dir.file("log2.csv"), "user,item,gender,city\nu1,a,F,Oslo\nu1,b,M,Oslo\nu2,a,,\"Bergen, NO\"\nu2,a,F,x\n");
  const auto cli = testing::run_cli("matrix --events " + dir.file("log2.csv") +
                                    " --user-col user --item-col item --attr-cols gender,city --quiet --out " + dir.file("m"));
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(read_file(dir.file("m/attributes.csv")), "user_id,gender,city\nu1,F,Oslo\nu2,F,\"Bergen, NO\"\n");
  EXPECT_EQ(read_file(dir.file("m/attribute_conflicts.csv")), "column,users_conflicted\ngender,2\ncity,1\n(any),2\n");
}

// ---- aggregate_events directly (the backend entry point) ----

struct Encoded {
  std::vector<std::uint32_t> row, col;
  std::vector<std::uint16_t> event;
  std::vector<double> time, weight;
  EventArrays view(std::uint32_t rows, std::uint32_t cols, std::uint32_t events) const {
    EventArrays a;
    a.row = row.data();
    a.col = col.data();
    a.event = event.data();
    a.time = time.data();
    a.weight = weight.data();
    a.size = row.size();
    a.rows = rows;
    a.cols = cols;
    a.events = events;
    return a;
  }
};

Encoded random_encoded(std::uint64_t seed, std::size_t n, std::uint32_t rows, std::uint32_t cols, std::uint32_t events) {
  std::mt19937_64 rng(seed);
  Encoded e;
  for (std::size_t i = 0; i < n; ++i) {
    e.row.push_back(static_cast<std::uint32_t>(rng() % rows));
    e.col.push_back(static_cast<std::uint32_t>(rng() % cols));
    e.event.push_back(static_cast<std::uint16_t>(rng() % events));
    e.time.push_back(static_cast<double>(rng() % 100000) - 50000.0);
    e.weight.push_back(static_cast<double>(rng() % 1000) / 8.0);
  }
  return e;
}

void expect_cells_equal_reference(const CellTable& t, const Encoded& e, const std::string& what) {
  SCOPED_TRACE(what);
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, Ref> ref;
  for (std::size_t i = 0; i < e.row.size(); ++i) {
    Ref& r = ref[{e.row[i], e.event[i], e.col[i]}];
    ++r.count;
    r.sum += e.weight[i];
    r.first = std::min(r.first, e.time[i]);
    r.last = std::max(r.last, e.time[i]);
  }
  ASSERT_EQ(t.size(), ref.size());
  std::size_t i = 0;
  for (const auto& [key, r] : ref) {
    EXPECT_EQ(std::make_tuple(t.row[i], std::uint32_t(t.event[i]), t.col[i]), key) << "cell " << i;
    EXPECT_EQ(t.count[i], r.count);
    EXPECT_EQ(t.sum_at(i), r.sum);  // weights are multiples of 1/8: exact in any order
    EXPECT_EQ(t.first_at(i), r.first);
    EXPECT_EQ(t.last_at(i), r.last);
    ++i;
  }
}

TEST(MatrixAggregate, CpuMatchesReferenceOnRandomEvents) {
  struct Case {
    std::size_t n;
    std::uint32_t rows, cols, events;
  };
  for (const Case c : {Case{0, 1, 1, 1}, Case{1, 1, 1, 1}, Case{3, 2, 2, 1}, Case{5000, 50, 7, 3},
                       Case{20000, 3, 2, 1}, Case{30000, 5000, 300, 400}, Case{200000, 20000, 40, 2}}) {
    for (const std::uint64_t seed : {5u, 6u}) {
      const Encoded e = random_encoded(seed, c.n, c.rows, c.cols, c.events);
      const std::string what = "seed " + std::to_string(seed) + " n " + std::to_string(c.n) + " rows " +
                               std::to_string(c.rows) + " cols " + std::to_string(c.cols) + " events " +
                               std::to_string(c.events);
      expect_cells_equal_reference(aggregate_events(e.view(c.rows, c.cols, c.events), Device::Cpu), e, what);
    }
  }
}

TEST(MatrixAggregate, OptionalColumnsAndKeyRangesMatchReference) {
  // Absent event/time/weight arrays (the counts-only path when both time and weight are
  // absent) on every CPU path: (event, col) in 16 bits with a bitmap scan per row (few
  // columns) or a sort of the row's keys (a few keys spread over a wide range), and
  // wider keys (the sort path); counts only with more than 65536 rows sorts rows in two
  // levels. Reference: the absent columns as event 0, time 0, weight 1.
  struct Case {
    std::size_t n;
    std::uint32_t rows, cols, events;
  };
  for (const Case c : {Case{50000, 2000, 200, 3}, Case{30000, 3000, 40000, 1}, Case{30000, 3000, 300, 400},
                       Case{150000, 70000, 50, 2}, Case{1, 1, 1, 1}}) {
    for (int mask = 0; mask < 8; ++mask) {
      const bool has_event = mask & 1, has_time = mask & 2, has_weight = mask & 4;
      const std::uint64_t seed = 40 + static_cast<std::uint64_t>(mask);
      Encoded e = random_encoded(seed, c.n, c.rows, c.cols, has_event ? c.events : 1);
      if (!has_time) std::fill(e.time.begin(), e.time.end(), 0.0);
      if (!has_weight) std::fill(e.weight.begin(), e.weight.end(), 1.0);
      EventArrays a = e.view(c.rows, c.cols, has_event ? c.events : 1);
      if (!has_event) a.event = nullptr;
      if (!has_time) a.time = nullptr;
      if (!has_weight) a.weight = nullptr;
      const CellTable t = aggregate_events(a, Device::Cpu);
      const std::string what = "seed " + std::to_string(seed) + " cols " + std::to_string(c.cols) + " events " +
                               std::to_string(c.events) + " event/time/weight " + std::to_string(has_event) +
                               std::to_string(has_time) + std::to_string(has_weight);
      expect_cells_equal_reference(t, e, what);
      // without time and weight the values are not stored
      EXPECT_EQ(t.counts_only, !has_time && !has_weight) << what;
      EXPECT_EQ(t.sum.size(), t.counts_only ? 0 : t.size()) << what;
      EXPECT_EQ(t.last.size(), t.counts_only ? 0 : t.size()) << what;
    }
  }
}

TEST(MatrixAggregate, WideKeysUseTheGeneralPath) {
  // cols x events need more than 32 bits: the 16-byte entry path
  const std::uint32_t cols = 1u << 20, events = 5000;
  const Encoded e = random_encoded(9, 20000, 300, cols, events);
  expect_cells_equal_reference(aggregate_events(e.view(300, cols, events), Device::Cpu), e, "wide");
}

TEST(MatrixAggregate, RejectsKeysBeyond64Bits) {
  EventArrays a;
  a.rows = 0xffffffffu;
  a.cols = 0xffffffffu;
  a.events = 3;
  EXPECT_THROW(aggregate_events(a, Device::Cpu), InvalidInput);
}

TEST(MatrixCuda, CudaMatchesCpu) {
  if (cuda_devices().empty()) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
  struct Case {
    std::size_t n;
    std::uint32_t rows, cols, events;
  };
  for (const Case c : {Case{0, 1, 1, 1}, Case{1, 1, 1, 1}, Case{3, 2, 2, 1}, Case{5000, 50, 7, 3},
                       Case{300000, 5000, 300, 400}, Case{1000000, 100000, 40, 2}}) {
    const Encoded e = random_encoded(12, c.n, c.rows, c.cols, c.events);
    const CellTable cpu = aggregate_events(e.view(c.rows, c.cols, c.events), Device::Cpu);
    const CellTable gpu = aggregate_events(e.view(c.rows, c.cols, c.events), Device::Cuda);
    SCOPED_TRACE("n " + std::to_string(c.n));
    EXPECT_EQ(gpu.row, cpu.row);
    EXPECT_EQ(gpu.col, cpu.col);
    EXPECT_EQ(gpu.event, cpu.event);
    EXPECT_EQ(gpu.count, cpu.count);
    EXPECT_EQ(gpu.sum, cpu.sum);  // multiples of 1/8 with small totals: exact in any order
    EXPECT_EQ(gpu.first, cpu.first);
    EXPECT_EQ(gpu.last, cpu.last);
  }
  // Weights in tenths (not exact in binary) and about 30,000 events a cell: the sums are
  // bit-identical only if both backends fold each cell's events in event order.
  {
    Encoded e = random_encoded(14, 1000000, 10, 3, 1);
    std::mt19937_64 rng(15);
    for (double& w : e.weight) w = static_cast<double>(rng() % 1000) / 10.0;
    const CellTable cpu = aggregate_events(e.view(10, 3, 1), Device::Cpu);
    const CellTable gpu = aggregate_events(e.view(10, 3, 1), Device::Cuda);
    EXPECT_EQ(gpu.count, cpu.count);
    EXPECT_EQ(gpu.sum, cpu.sum);
  }
  // and without time / weight / event arrays
  const Encoded e = random_encoded(13, 10000, 100, 10, 1);
  EventArrays a = e.view(100, 10, 1);
  a.time = nullptr;
  a.weight = nullptr;
  a.event = nullptr;
  const CellTable cpu = aggregate_events(a, Device::Cpu), gpu = aggregate_events(a, Device::Cuda);
  EXPECT_TRUE(gpu.counts_only);
  EXPECT_TRUE(gpu.sum.empty());
  EXPECT_EQ(gpu.row, cpu.row);
  EXPECT_EQ(gpu.col, cpu.col);
  EXPECT_EQ(gpu.count, cpu.count);
}

// ---- string ids ----

// Ids that share lengths and prefixes, empty ones, embedded zero bytes and long ones.
StringColumn random_ids(std::uint64_t seed, std::size_t n, std::size_t distinct) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> pool;
  for (std::size_t j = 0; j < distinct; ++j) {
    std::string id = j % 7 == 0 ? std::string("user-0000000000000000000000000000-") + std::to_string(j)
                                : "u" + std::to_string(j);
    if (j % 11 == 0) id += std::string(1, '\0') + "x";
    pool.push_back(j == 0 ? std::string() : id);
  }
  StringColumn column;
  for (std::size_t i = 0; i < n; ++i) column.push_back(pool[rng() % distinct]);
  return column;
}

TEST(MatrixDictionary, IdsAreFirstSeenAndFoundAgainAcrossGrowth) {
  const StringColumn column = random_ids(3, 300000, 120000);  // the slot table grows many times
  StringDictionary dict;
  std::map<std::string, std::uint32_t> first_seen;
  for (std::size_t i = 0; i < column.size(); ++i) {
    const std::string key(column[i]);
    const auto expected = first_seen.emplace(key, static_cast<std::uint32_t>(first_seen.size())).first->second;
    ASSERT_EQ(dict.encode(column[i]), expected) << "row " << i;
  }
  EXPECT_EQ(dict.size(), first_seen.size());
  for (const auto& [name, id] : first_seen) {
    EXPECT_EQ(dict.find(name, StringDictionary::hash(name)), id);
    EXPECT_EQ(dict.name(id), name);
  }
  EXPECT_EQ(dict.find("absent", StringDictionary::hash("absent")), StringDictionary::kMissing);
  EXPECT_EQ(StringDictionary::hash(std::string_view("u1\0x", 4)), string_hash("u1\0x", 4));
}

TEST(MatrixCuda, StringGroupsMatchBruteForce) {
  if (cuda_devices().empty()) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
#ifdef COHORT_WITH_CUDA
  for (const std::size_t n : {1u, 2u, 1000u, 200000u}) {
    SCOPED_TRACE("n " + std::to_string(n));
    const StringColumn column = random_ids(n, n, std::max<std::size_t>(1, n / 4));
    const cuda::StringGroups g = cuda::group_strings_cuda(column.bytes().data(), column.offsets().data(), n);
    EXPECT_FALSE(g.collision);
    std::map<std::string, std::size_t> first_row;
    for (std::size_t i = 0; i < n; ++i) first_row.emplace(std::string(column[i]), i);
    ASSERT_EQ(g.first.size(), first_row.size());
    ASSERT_EQ(g.group.size(), n);
    for (std::size_t r = 0; r < g.first.size(); ++r) {
      const std::string name(column[g.first[r]]);
      EXPECT_EQ(first_row.at(name), g.first[r]) << "group " << r << " starts at its first row";
      EXPECT_EQ(g.hash[r], StringDictionary::hash(name));  // the host dictionary's hash
    }
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(column[g.first[g.group[i]]], column[i]) << "row " << i;
  }
  // Hashes cut to 3 bits: different strings collide and are reported; equal ones are not.
  const StringColumn many = random_ids(5, 5000, 100);
  EXPECT_TRUE(cuda::group_strings_cuda(many.bytes().data(), many.offsets().data(), many.size(), 0x7).collision);
  StringColumn same;
  for (int i = 0; i < 100; ++i) same.push_back("same id");
  const auto one = cuda::group_strings_cuda(same.bytes().data(), same.offsets().data(), same.size(), 0x7);
  EXPECT_FALSE(one.collision);
  EXPECT_EQ(one.first, std::vector<std::uint32_t>{0});
#endif
}

TEST(MatrixCuda, BuildMatrixEqualsCpu) {
  if (cuda_devices().empty()) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
  set_verbosity(Verbosity::Quiet);
  TempDir dir;
  const Log log = random_log(21, 20000, 6);
  write_file(dir.file("log.csv"), to_csv(log));
  for (const std::size_t chunk : {std::size_t(1) << 21, std::size_t(100)}) {
    MatrixOptions o = options_for(false, chunk);
    o.device = Device::Cpu;
    const MatrixResult cpu = build_matrix(dir.file("log.csv"), o);
    o.device = Device::Cuda;
    const MatrixResult gpu = build_matrix(dir.file("log.csv"), o);
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    testing::expect_same_matrix(gpu, cpu);
    expect_matches_reference(gpu, log, "cuda");
  }
  set_verbosity(Verbosity::Normal);
}

// ---- output files ----

using MatrixFiles = MatrixQuiet;

TEST_F(MatrixFiles, MtxAndNpyRoundTrip) {
  TempDir dir;
  const Log log = random_log(21, 1500, 3);
  write_file(dir.file("log.csv"), to_csv(log));
  const MatrixResult r = build_matrix(dir.file("log.csv"), options_for(false));
  MatrixWriteOptions w;
  w.format = "both";
  w.shares = true;
  w.tfidf = true;
  w.conversion = "ev 1/ev_0";  // raw name and file stem both accepted
  w.long_csv = dir.file("long.csv");
  write_matrix(r, dir.file("out"), w);
  EXPECT_EQ(read_lines(dir.file("out/users.txt")), r.users);
  EXPECT_EQ(read_lines(dir.file("out/items.txt")), r.items);
  EXPECT_EQ(read_lines(dir.file("out/events.txt")), r.events);
  const auto stems = event_file_stems(r);
  EXPECT_EQ(stems, (std::vector<std::string>{"ev_0", "ev_1", "ev_2"}));
  for (std::size_t e = 0; e < r.events.size(); ++e) {
    for (const auto& [suffix, value] : std::vector<std::pair<std::string, CellValue>>{
             {"", CellValue::Count}, {".sum", CellValue::Sum}, {".first", CellValue::First},
             {".last", CellValue::Last}, {".interval", CellValue::MeanInterval}}) {
      const Csr expect = cell_matrix(r, e, value);
      const Csr mtx = read_mtx(dir.file("out/" + stems[e] + suffix + ".mtx"));
      EXPECT_EQ(mtx.cols, static_cast<std::int64_t>(r.items.size()));  // .npy triples carry no shape
      for (const Csr& got : {mtx, read_csr_npy(dir.file("out/" + stems[e] + suffix))}) {
        EXPECT_EQ(got.rows, static_cast<std::int64_t>(r.users.size()));
        EXPECT_EQ(got.indptr, expect.indptr) << stems[e] << suffix;
        EXPECT_EQ(got.indices, expect.indices);
        EXPECT_EQ(got.values, expect.values);
      }
    }
    // shares: each nonempty row sums to 1
    const Csr shares = read_mtx(dir.file("out/" + stems[e] + ".shares.mtx"));
    for (std::int64_t row = 0; row < shares.rows; ++row) {
      double total = 0;
      for (auto i = shares.indptr[row]; i < shares.indptr[row + 1]; ++i) total += shares.values[i];
      if (shares.indptr[row + 1] > shares.indptr[row]) {
        EXPECT_NEAR(total, 1.0, 1e-12);
      }
    }
  }
  // Written again into the same directory without event types (and only .npy): the
  // first run's event files go (files.txt lists what is there), a user's own file stays.
  EXPECT_EQ(read_lines(dir.file("out/files.txt")).back(), "files.txt");
  write_file(dir.file("out/notes.txt"), "mine\n");
  MatrixOptions plain = options_for(false);
  plain.reader.event_col.clear();
  MatrixWriteOptions npy_only;
  npy_only.format = "npy";
  write_matrix(build_matrix(dir.file("log.csv"), plain), dir.file("out"), npy_only);
  std::set<std::string> present;
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("out")))
    present.insert(entry.path().filename().string());
  const auto listed = read_lines(dir.file("out/files.txt"));
  std::set<std::string> expected(listed.begin(), listed.end());
  expected.insert("notes.txt");
  EXPECT_EQ(present, expected);
  EXPECT_FALSE(present.count("events.txt"));
  EXPECT_TRUE(present.count("counts.indptr.npy")) << listed.size();
  write_matrix(r, dir.file("out"), w);  // back: the rest of the test reads the first run's files

  // interval holds exactly the cells with count >= 2, each the mean gap between the
  // cell's successive events in time order (by definition, from the log itself)
  std::map<Key, std::vector<double>> times;
  for (std::size_t i = 0; i < log.user.size(); ++i) times[{log.user[i], log.item[i], log.event[i]}].push_back(log.time[i]);
  for (std::size_t e = 0; e < r.events.size(); ++e) {
    const Csr interval = read_mtx(dir.file("out/" + stems[e] + ".interval.mtx"));
    std::size_t multi = 0;
    for (std::int64_t row = 0; row < interval.rows; ++row)
      for (std::size_t col = 0; col < r.items.size(); ++col) {
        auto cell = times[{r.users[static_cast<std::size_t>(row)], r.items[col], r.events[e]}];
        if (cell.size() < 2) continue;
        ++multi;
        std::sort(cell.begin(), cell.end());
        double gaps = 0;
        for (std::size_t k = 1; k < cell.size(); ++k) gaps += cell[k] - cell[k - 1];
        const double want = gaps / static_cast<double>(cell.size() - 1);
        EXPECT_NEAR(interval.at(row, static_cast<std::int64_t>(col)), want, 1e-9 * want)
            << r.users[static_cast<std::size_t>(row)] << " " << r.items[col] << " " << r.events[e];
      }
    EXPECT_EQ(interval.nnz(), multi) << stems[e];
  }
  // conversion = count(ev 1) / count(ev 0) on ev 0's cells
  const Csr conv = read_mtx(dir.file("out/conversion.mtx"));
  const Csr c0 = cell_matrix(r, 0, CellValue::Count), c1 = cell_matrix(r, 1, CellValue::Count);
  EXPECT_EQ(conv.nnz(), c0.nnz());
  for (std::int64_t row = 0; row < conv.rows; ++row)
    for (auto i = conv.indptr[row]; i < conv.indptr[row + 1]; ++i)
      EXPECT_EQ(conv.values[i], c1.at(row, conv.indices[i]) / c0.at(row, conv.indices[i]));
  // the long CSV: one line per cell plus the header, readable by the event reader
  const auto lines = read_lines(dir.file("long.csv"));
  EXPECT_EQ(lines.size(), r.cells.size() + 1);
  EXPECT_EQ(lines[0], "user,item,event,count,sum,first,last,mean_interval");
}

TEST(MatrixDerived, TfidfFollowsItsFormula) {
  Csr m;
  m.rows = 3;
  m.cols = 2;
  m.indptr = {0, 2, 3, 3};
  m.indices = {0, 1, 1};
  m.values = {1, 3, 2};
  const Csr t = tfidf(m);
  EXPECT_DOUBLE_EQ(t.values[0], 0.25 * std::log(3.0 / 1.0));
  EXPECT_DOUBLE_EQ(t.values[1], 0.75 * std::log(3.0 / 2.0));
  EXPECT_DOUBLE_EQ(t.values[2], 1.0 * std::log(3.0 / 2.0));
}

TEST(MatrixDerived, EventStemsAreSafeAndUnique) {
  MatrixResult r;
  r.has_event = true;
  r.events = {"", "View Project", "View/Project", "a.b", "users", "ü"};
  EXPECT_EQ(event_file_stems(r),
            (std::vector<std::string>{"event", "View_Project", "View_Project_2", "a_b", "users_4", "__"}));
}

// ---- bad input ----

using MatrixBadInput = MatrixQuiet;

std::string error_of(const std::string& path, const MatrixOptions& o) {
  try {
    build_matrix(path, o);
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_error(const std::string& message, const std::vector<std::string>& parts) {
  for (const auto& p : parts) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
}

TEST_F(MatrixBadInput, MalformedJsonRecordIsNamedOrSkipped) {
  TempDir dir;
  const std::string body = "[\n{\"user\": {\"id\": \"a\"}, \"item\": \"x\", \"event\": \"v\", \"time\": 1, \"weight\": 2},\n"
                           "{\"user\": {\"id\": \"b\"}, \"item\": \"x\", \"event\": \"v\", \"time\": 1, \"weight\": },\n"
                           "{\"user\": {\"id\": \"c\"}, \"item\": \"x\", \"event\": \"v\", \"time\": 3, \"weight\": 1}\n]\n";
  write_file(dir.file("bad.json"), body);
  MatrixOptions o = options_for(true);
  expect_error(error_of(dir.file("bad.json"), o), {"bad.json:3", "record 2", "malformed JSON"});
  o.reader.skip_invalid = true;
  const MatrixResult r = build_matrix(dir.file("bad.json"), o);
  EXPECT_EQ(r.events_read, 2u);
  EXPECT_EQ(r.events_skipped, 1u);
  EXPECT_EQ(r.users, (std::vector<std::string>{"a", "c"}));
  // NDJSON: the line number
  write_file(dir.file("bad.ndjson"), "{\"user\": {\"id\": \"a\"}, \"item\": \"x\", \"event\": \"v\", \"time\": 1}\n\n{\"user\": \n");
  MatrixOptions n = options_for(true);
  n.reader.weight_col = "";
  expect_error(error_of(dir.file("bad.ndjson"), n), {"bad.ndjson:3", "malformed JSON"});
  // a stray closing brace: the array cannot be split into records, even with skipping
  write_file(dir.file("stray.json"), "[{\"user\": {\"id\": \"a\"}, \"item\": \"x\", \"event\": \"v\", \"time\": 1}}\n]");
  n.reader.skip_invalid = true;
  expect_error(error_of(dir.file("stray.json"), n), {"stray.json:1", "malformed records array"});
  // a truncated array cannot be split into records: always an error
  write_file(dir.file("cut.json"), "[{\"user\": {\"id\": \"a\"}, \"item\": \"x\", \"event\": \"v\", \"time\": 1}, {\"user\": ");
  n.reader.skip_invalid = true;
  expect_error(error_of(dir.file("cut.json"), n), {"cut.json:1", "record 2", "unterminated"});
}

TEST_F(MatrixBadInput, BadTimestampsAndWeightsInCsv) {
  TempDir dir;
  write_file(dir.file("t.csv"), "user,item,event,time,weight\na,x,v,2014-03-01,1\nb,x,v,yesterday,1\nc,x,v,5,\n");
  expect_error(error_of(dir.file("t.csv"), options_for(false)), {"t.csv:3", "unparseable time 'yesterday'", "time"});
  write_file(dir.file("w.csv"), "user,item,event,time,weight\na,x,v,1,1\nb,x,v,2,\n\nc,x,v,3,lots\n");
  expect_error(error_of(dir.file("w.csv"), options_for(false)), {"w.csv:5", "weight 'lots'", "not a number"});
  MatrixOptions o = options_for(false);
  o.reader.skip_invalid = true;
  const MatrixResult r = build_matrix(dir.file("w.csv"), o);
  EXPECT_EQ(r.events_skipped, 1u);
  EXPECT_EQ(r.users, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.cells.sum[1], 1.0);  // empty weight = 1
  // Ragged rows: named, or skipped and counted.
  write_file(dir.file("r.csv"), "user,item,event,time,weight\na,x,v,1,1\nb,x,v\nc,y,v,2,1,extra\nd,y,v,3,1\n");
  expect_error(error_of(dir.file("r.csv"), options_for(false)), {"r.csv:3", "expected 5 fields", "found 3"});
  const MatrixResult ragged = build_matrix(dir.file("r.csv"), o);
  EXPECT_EQ(ragged.events_read, 2u);
  EXPECT_EQ(ragged.events_skipped, 2u);
  EXPECT_EQ(ragged.users, (std::vector<std::string>{"a", "d"}));
  write_file(dir.file("n.csv"), "user,item,event,time,weight\na,x,v,1,1\n\"b\nc\",x,v,1,1\n");
  expect_error(error_of(dir.file("n.csv"), options_for(false)), {"n.csv:3", "column 'user' contains a line break"});
  write_file(dir.file("e.csv"), "user,item,event,time,weight\na,,v,1,1\n");
  expect_error(error_of(dir.file("e.csv"), options_for(false)), {"e.csv:2", "empty item id"});
  write_file(dir.file("j.json"), "[{\"user\": {\"id\": \"a\"}, \"item\": \"x\", \"event\": \"v\", \"time\": \"soon\"}]");
  MatrixOptions j = options_for(true);
  j.reader.weight_col = "";
  expect_error(error_of(dir.file("j.json"), j), {"j.json:1", "record 1", "unparseable time 'soon'"});
  // Unparseable times skipped and counted; the other rows keep their times.
  const MatrixResult times = build_matrix(dir.file("t.csv"), o);
  EXPECT_EQ(times.events_read, 2u);
  EXPECT_EQ(times.events_skipped, 1u);
  EXPECT_EQ(times.users, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(times.cells.first_at(0), 1393632000.0);  // 2014-03-01T00:00:00Z
  EXPECT_EQ(times.cells.first_at(1), 5.0);
}

TEST_F(MatrixBadInput, BadRowsOfEveryKindKeepFileOrder) {
  // 20,000 rows in one chunk (the CSV reader splits it on several threads): a bad
  // weight at line 5,002, a ragged row at 12,002 (which the CSV reader itself finds) and
  // a bad time at 15,002. The first in the file is the error, and each fix makes the
  // next one the error; skipped, all three go and the rest equals the file without them.
  TempDir dir;
  std::vector<std::string> rows;
  for (int i = 0; i < 20000; ++i)
    rows.push_back("u" + std::to_string(i % 997) + ",c" + std::to_string(i % 13) + ",v," + std::to_string(1000 + i) +
                   "," + std::to_string(i % 7));
  const std::vector<std::string> good = rows;
  rows[5000] = "u1,c1,v,1,heavy";
  rows[12000] = "u1,c1,v";
  rows[15000] = "u1,c1,v,later,1";
  auto write = [&](const std::string& name, const std::vector<std::string>& lines, bool drop_bad) {
    std::string text = "user,item,event,time,weight\n";
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (!drop_bad || (i != 5000 && i != 12000 && i != 15000)) text += lines[i] + "\n";
    write_file(dir.file(name), text);
  };
  write("big.csv", rows, false);
  write("clean.csv", rows, true);
  expect_error(error_of(dir.file("big.csv"), options_for(false)), {"big.csv:5002", "weight 'heavy'"});
  MatrixOptions o = options_for(false);
  o.reader.skip_invalid = true;
  const MatrixResult skipped = build_matrix(dir.file("big.csv"), o);
  EXPECT_EQ(skipped.events_read, 19997u);
  EXPECT_EQ(skipped.events_skipped, 3u);
  testing::expect_same_matrix(skipped, build_matrix(dir.file("clean.csv"), options_for(false)));
  rows[5000] = good[5000];
  write("big.csv", rows, false);
  expect_error(error_of(dir.file("big.csv"), options_for(false)), {"big.csv:12002", "expected 5 fields"});
  rows[12000] = good[12000];
  write("big.csv", rows, false);
  expect_error(error_of(dir.file("big.csv"), options_for(false)), {"big.csv:15002", "unparseable time 'later'"});
}

TEST_F(MatrixBadInput, InputFormatOverridesTheExtension) {
  TempDir dir;
  // NDJSON in a .log file: only --input-format tells the reader what it is.
  write_file(dir.file("events.log"), "{\"u\": \"a\", \"i\": \"x\"}\n{\"u\": \"b\", \"i\": \"x\"}\n{\"u\": \"a\", \"i\": \"y\"}\n");
  MatrixOptions o = user_item_options("u", "i");
  o.reader.format = "ndjson";
  const MatrixResult r = build_matrix(dir.file("events.log"), o);
  EXPECT_EQ(r.users, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.events_read, 3u);
  o.reader.format = "csv";  // the same bytes read as CSV have no column "u"
  expect_error(error_of(dir.file("events.log"), o), {"events.log", "'u'"});
  o.reader.format = "xml";
  expect_error(error_of(dir.file("events.log"), o), {"unknown event log format 'xml'"});
  const auto cli = testing::run_cli("matrix --events " + dir.file("events.log") +
                                    " --user-col u --item-col i --input-format ndjson --quiet --out " + dir.file("m"));
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(read_lines(dir.file("m/users.txt")), (std::vector<std::string>{"a", "b"}));
}

TEST_F(MatrixBadInput, MissingColumnsListTheAvailableOnes) {
  TempDir dir;
  write_file(dir.file("log.csv"), "user,item,when\na,x,1\n");
  MatrixOptions o = options_for(false);
  expect_error(error_of(dir.file("log.csv"), o), {"log.csv:1", "no column named 'event'", "user, item, when"});
  write_file(dir.file("log.json"), "{\"data\": [{\"user\": {\"id\": \"a\"}, \"item\": \"x\", \"when\": 1}]}");
  MatrixOptions j = options_for(true);
  expect_error(error_of(dir.file("log.json"), j), {"log.json:1", "no field 'event'", "user.id, item, when"});
  j.reader.event_col = "";
  j.reader.time_col = "";
  j.reader.weight_col = "wieght";  // optional fields must occur in at least one record
  expect_error(error_of(dir.file("log.json"), j), {"no record has a field 'wieght'", "user.id, item, when"});
}

TEST_F(MatrixBadInput, JsonShapeProblems) {
  TempDir dir;
  MatrixOptions o = options_for(true);
  o.reader.event_col = o.reader.time_col = o.reader.weight_col = "";
  write_file(dir.file("two.json"), "{\"a\": [], \"b\": [{\"user\": {\"id\": \"u\"}, \"item\": \"i\"}]}");
  expect_error(error_of(dir.file("two.json"), o), {"several arrays", "a, b", "--records-key"});
  o.reader.records_key = "b";
  EXPECT_EQ(build_matrix(dir.file("two.json"), o).users, (std::vector<std::string>{"u"}));
  o.reader.records_key = "c";
  expect_error(error_of(dir.file("two.json"), o), {"no array member 'c'", "members: a, b"});
  o.reader.records_key = "";
  write_file(dir.file("empty.json"), "[]");
  expect_error(error_of(dir.file("empty.json"), o), {"no valid events"});
  write_file(dir.file("text.json"), "hello");
  expect_error(error_of(dir.file("text.json"), o), {"text.json:1", "not JSON"});
  write_file(dir.file("nested.json"), "[{\"user\": {\"id\": [1]}, \"item\": \"i\"}]");
  expect_error(error_of(dir.file("nested.json"), o), {"record 1", "'user.id' is an array or object"});
}

// ---- the real Localytics log ----

const std::string kLocalytics = std::string(COHORT_SHARED_DATA_DIR) + "/localytics/data.json";

TEST_F(MatrixBuild, LocalyticsLogMatchesAnIndependentScan) {
  if (!std::ifstream(kLocalytics)) GTEST_SKIP() << "no " << kLocalytics;
  MatrixOptions o;
  o.device = Device::Cpu;
  o.reader.user_col = "session_id";
  o.reader.item_col = "category";
  o.reader.event_col = "event_name";
  o.reader.time_col = "client_time";
  o.reader.weight_col = "amount";
  o.reader.attr_cols = {"gender", "age", "marital_status", "device", "location.city", "location.state",
                        "location.zip_code", "location.latitude", "location.longitude"};
  o.reader.chunk_events = 7000;  // several chunks
  const MatrixResult r = build_matrix(kLocalytics, o);
  EXPECT_EQ(r.format, "json object 'data'");
  EXPECT_EQ(r.users.size(), 10466u);
  EXPECT_EQ(r.events, (std::vector<std::string>{"Fund Project", "View Project"}));
  EXPECT_EQ(r.attributes.users_conflicted, 2084u);
  EXPECT_EQ(r.attributes.conflicts[0], 2084u);  // gender
  for (std::size_t c = 1; c < 9; ++c) EXPECT_EQ(r.attributes.conflicts[c], 0u) << r.attributes.columns[c];
  long long per_event[2] = {0, 0};
  for (std::size_t i = 0; i < r.cells.size(); ++i) per_event[r.cells.event[i]] += r.cells.count[i];
  EXPECT_EQ(per_event[0], 20658);
  EXPECT_EQ(per_event[1], 29342);

  // Independent: simdjson DOM over the whole file, plain maps.
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.load(kLocalytics);
  std::map<Key, Ref> ref;
  std::map<std::string, std::map<std::string, int>> genders;
  std::map<std::string, std::string> city;
  for (simdjson::dom::element e : doc["data"].get_array()) {
    const std::string user(e["session_id"].get_string().value());
    Ref& c = ref[{user, std::string(e["category"].get_string().value()), std::string(e["event_name"].get_string().value())}];
    const double t = static_cast<double>(e["client_time"].get_int64().value());
    double amount = 1;
    if (e["amount"].error() == simdjson::SUCCESS) amount = e["amount"].get_double().value();
    ++c.count;
    c.sum += amount;
    c.first = std::min(c.first, t);
    c.last = std::max(c.last, t);
    ++genders[user][std::string(e["gender"].get_string().value())];
    city[user] = std::string(e["location"]["city"].get_string().value());
  }
  ASSERT_EQ(r.cells.size(), ref.size());
  for (std::size_t i = 0; i < r.cells.size(); ++i) {
    const Ref& c = ref.at({r.users[r.cells.row[i]], r.items[r.cells.col[i]], r.events[r.cells.event[i]]});
    ASSERT_EQ(r.cells.count[i], c.count) << r.users[r.cells.row[i]];
    EXPECT_EQ(r.cells.sum[i], c.sum);  // integer amounts: exact
    EXPECT_EQ(r.cells.first[i], c.first);
    EXPECT_EQ(r.cells.last[i], c.last);
  }
  std::size_t conflicted = 0;
  for (std::size_t u = 0; u < r.users.size(); ++u) {
    const auto& g = genders.at(r.users[u]);
    conflicted += g.size() > 1;
    EXPECT_EQ(r.attributes.values[u][4], city.at(r.users[u]));
    const std::string& got = r.attributes.values[u][0];
    if (g.count("F") || g.count("M") || g.count("O")) {
      EXPECT_NE(got, "U") << r.users[u];
    }
    EXPECT_TRUE(g.count(got)) << r.users[u];
  }
  EXPECT_EQ(conflicted, 2084u);
}

// ---- the CLI ----

TEST(MatrixCli, RoundTripAndErrors) {
  TempDir dir;
  const Log log = random_log(31, 500, 2);
  write_file(dir.file("log.csv"), to_csv(log));
  const auto ok = testing::run_cli("matrix --events " + dir.file("log.csv") +
                                   " --user-col user --item-col item --event-col event --time-col time --weight-col weight"
                                   " --device cpu --threads 2 --format both --long " + dir.file("long.csv") + " --out " +
                                   dir.file("out"));
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("500 events"), std::string::npos) << ok.output;
  EXPECT_EQ(read_lines(dir.file("out/users.txt")), sorted_unique(log.user));
  const auto ref = log.reference();
  const Csr m = read_mtx(dir.file("out/ev_1.mtx"));
  const auto users = read_lines(dir.file("out/users.txt")), items = read_lines(dir.file("out/items.txt"));
  long long total = 0;
  for (std::int64_t row = 0; row < m.rows; ++row)
    for (auto i = m.indptr[row]; i < m.indptr[row + 1]; ++i) {
      EXPECT_EQ(m.values[i], ref.at({users[row], items[m.indices[i]], "ev 1"}).count);
      total += static_cast<long long>(m.values[i]);
    }
  EXPECT_EQ(total, std::count(log.event.begin(), log.event.end(), "ev 1"));
  const auto bad = testing::run_cli("matrix --events " + dir.file("log.csv") + " --user-col nobody --item-col item --out " +
                                    dir.file("out2"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("error: "), std::string::npos);
  EXPECT_NE(bad.output.find("no column named 'nobody'"), std::string::npos) << bad.output;
  EXPECT_FALSE(testing::fs::exists(dir.file("out2/users.txt")));
}

TEST(MatrixCli, GeneratorEventsAndJoinPairsWithUserFrom) {
  TempDir dir;
  // the generator's event log as is: user_id,category,event,timestamp,amount (empty for views)
  const auto gen = testing::run_cli("generate --size tiny --seed 3 -q --out " + dir.file("world"));
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  const auto m = testing::run_cli("matrix --events " + dir.file("world/events.csv") +
                                  " --user-col user_id --item-col category --event-col event --time-col timestamp"
                                  " --weight-col amount --conversion purchase/view -q --device cpu --out " +
                                  dir.file("m"));
  ASSERT_EQ(m.exit_code, 0) << m.output;
  const auto lines = read_lines(dir.file("world/events.csv"));
  long long total = 0;
  for (const auto& event : read_lines(dir.file("m/events.txt"))) {
    const Csr counts = read_mtx(dir.file("m/" + event + ".mtx"));
    for (const double v : counts.values) total += static_cast<long long>(v);
    EXPECT_EQ(read_mtx(dir.file("m/" + event + ".first.mtx")).nnz(), counts.nnz());
  }
  EXPECT_EQ(total, static_cast<long long>(lines.size()) - 1);
  EXPECT_TRUE(testing::fs::exists(dir.file("m/conversion.mtx")));
  // a join's output: point ids mapped to users through the pings file
  write_file(dir.file("pairs.csv"), "point_id,polygon_id\np1,s2\np2,s1\np3,s2\n");
  write_file(dir.file("pings.csv"), "ping_id,user_id\np1,bob\np2,alice\np3,bob\n");
  const auto j = testing::run_cli("matrix --events " + dir.file("pairs.csv") + " --user-col point_id --item-col polygon_id" +
                                  " --user-from " + dir.file("pings.csv") +
                                  " --user-from-key ping_id --user-from-col user_id -q --device cpu --out " + dir.file("v"));
  ASSERT_EQ(j.exit_code, 0) << j.output;
  EXPECT_EQ(read_lines(dir.file("v/users.txt")), (std::vector<std::string>{"alice", "bob"}));
  const Csr visits = read_mtx(dir.file("v/counts.mtx"));
  EXPECT_EQ(visits.at(0, 0), 1.0);
  EXPECT_EQ(visits.at(1, 1), 2.0);
  EXPECT_EQ(visits.nnz(), 2u);
}

}  // namespace
}  // namespace cohort
