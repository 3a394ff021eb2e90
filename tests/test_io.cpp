/*
 * test_io.cpp: the shared I/O layer: CSV edge cases (quotes, CRLF, empty fields,
 * embedded newlines, chunk boundaries, ragged rows and bad numbers with the right line
 * number), .npy bytes checked against hand-computed headers and round trips, atomic
 * writes that leave nothing behind on failure, and Matrix Market / CSR .npy round trips.
 */
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/npy.hpp"
#include "cohort/sparse.hpp"
#include "tests/test_util.hpp"

namespace cohort {
namespace {

using testing::read_file;
using testing::TempDir;
using testing::write_file;

// All records of a CSV file as strings, read with the given chunk size.
std::vector<std::vector<std::string>> read_all(const std::string& path, std::size_t chunk_bytes,
                                               std::vector<std::uint64_t>* lines = nullptr) {
  CsvOptions options;
  options.chunk_bytes = chunk_bytes;
  CsvReader reader(path, options);
  std::vector<std::vector<std::string>> rows;
  CsvChunk chunk;
  while (reader.next(chunk)) {
    for (std::size_t r = 0; r < chunk.rows(); ++r) {
      std::vector<std::string> row;
      for (std::size_t c = 0; c < chunk.columns(); ++c) row.emplace_back(chunk.field(r, c));
      rows.push_back(row);
      if (lines) lines->push_back(chunk.line(r));
    }
  }
  return rows;
}

// The InvalidInput message thrown while reading the whole file, or "".
std::string read_error(const std::string& path, std::size_t chunk_bytes = 1 << 20, bool parse_numbers = true) {
  try {
    CsvOptions options;
    options.chunk_bytes = chunk_bytes;
    CsvReader reader(path, options);
    CsvChunk chunk;
    while (reader.next(chunk))
      for (std::size_t r = 0; parse_numbers && r < chunk.rows(); ++r)
        for (std::size_t c = 0; c < chunk.columns(); ++c) chunk.number(r, c);
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "";
}

TEST(Csv, QuotesCrlfEmptyFieldsAndEmbeddedNewlines) {
  TempDir dir;
  const std::string path = dir.file("a.csv");
  write_file(path,
            "id,name,note\r\n"
            "1,\"Smith, J\",plain\r\n"
            "2,\"say \"\"hi\"\"\",\r\n"
            "\r\n"
            "3,,\"two\nlines\"\n"
            "4,\"\",last");  // no final newline
  for (std::size_t chunk : {std::size_t(1), std::size_t(3), std::size_t(7), std::size_t(1) << 20}) {
    SCOPED_TRACE("chunk_bytes=" + std::to_string(chunk));
    std::vector<std::uint64_t> lines;
    const auto rows = read_all(path, chunk, &lines);
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0], (std::vector<std::string>{"1", "Smith, J", "plain"}));
    EXPECT_EQ(rows[1], (std::vector<std::string>{"2", "say \"hi\"", ""}));
    EXPECT_EQ(rows[2], (std::vector<std::string>{"3", "", "two\nlines"}));
    EXPECT_EQ(rows[3], (std::vector<std::string>{"4", "", "last"}));
    EXPECT_EQ(lines, (std::vector<std::uint64_t>{2, 3, 5, 7}));
  }
}

TEST(Csv, HeaderLookupListsAvailableColumns) {
  TempDir dir;
  const std::string path = dir.file("h.csv");
  write_file(path, "user,\"item, name\",t\n");
  CsvReader reader(path);
  EXPECT_EQ(reader.header(), (std::vector<std::string>{"user", "item, name", "t"}));
  EXPECT_EQ(reader.column("t"), 2u);
  EXPECT_FALSE(reader.find_column("nope").has_value());
  try {
    reader.column("nope");
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("no column named 'nope' (columns: user, item, name, t)"), std::string::npos)
        << e.what();
  }
  CsvChunk chunk;
  EXPECT_FALSE(reader.next(chunk));  // header only: no records
}

// Spreadsheet exports start with a UTF-8 byte-order mark: it is not part of the first
// column's name (quoted or not); a file holding only the mark is empty.
TEST(Csv, ByteOrderMarkIsNotPartOfTheHeader) {
  TempDir dir;
  const std::string path = dir.file("bom.csv");
  for (const char* header : {"id,x,y", "\"id\",x,y"}) {
    write_file(path, std::string("\xEF\xBB\xBF") + header + "\r\np1,1,2\r\n");
    CsvReader reader(path);
    EXPECT_EQ(reader.header(), (std::vector<std::string>{"id", "x", "y"})) << header;
    CsvChunk chunk;
    ASSERT_TRUE(reader.next(chunk));
    ASSERT_EQ(chunk.rows(), 1u);
    EXPECT_EQ(chunk.field(0, 0), "p1");
    EXPECT_EQ(chunk.line(0), 2u);
  }
  write_file(path, "\xEF\xBB\xBF\n");
  EXPECT_THROW(CsvReader reader(path), InvalidInput);
}

TEST(Csv, RaggedRowsReportTheirLine) {
  TempDir dir;
  const std::string path = dir.file("r.csv");
  write_file(path, "a,b\n1,2\n3,4\n\"multi\nline\",5\n6\n");
  for (std::size_t chunk : {std::size_t(2), std::size_t(1) << 20}) {
    const std::string error = read_error(path, chunk, false);
    EXPECT_NE(error.find("r.csv:6: expected 2 fields (as in the header), found 1"), std::string::npos) << error;
  }
  write_file(path, "a,b\n1,2,3\n");
  EXPECT_NE(read_error(path).find("r.csv:2: expected 2 fields"), std::string::npos);
}

TEST(Csv, KeptMalformedRecordsAreListedAndLeaveTheRows) {
  TempDir dir;
  const std::string path = dir.file("m.csv");
  write_file(path, "a,b\n1,2\n3\n\"multi\nline\",5\n6,7,8\n\"x\"y,9\n10,11\n");
  for (std::size_t chunk_bytes : {std::size_t(3), std::size_t(1) << 20}) {
    CsvOptions options;
    options.chunk_bytes = chunk_bytes;
    options.keep_malformed = true;
    std::vector<std::pair<std::uint64_t, std::string>> malformed;
    CsvReader reader(path, options);
    CsvChunk chunk;
    std::vector<std::string> firsts;
    std::vector<std::uint64_t> lines, records;
    while (reader.next(chunk)) {
      malformed.insert(malformed.end(), chunk.malformed().begin(), chunk.malformed().end());
      for (std::size_t r = 0; r < chunk.rows(); ++r) {
        firsts.emplace_back(chunk.field(r, 0));
        lines.push_back(chunk.line(r));
        records.push_back(chunk.record(r));
      }
    }
    EXPECT_EQ(firsts, (std::vector<std::string>{"1", "multi\nline", "10"})) << chunk_bytes;
    EXPECT_EQ(lines, (std::vector<std::uint64_t>{2, 4, 8})) << chunk_bytes;
    EXPECT_EQ(records, (std::vector<std::uint64_t>{0, 2, 5})) << chunk_bytes;
    ASSERT_EQ(malformed.size(), 3u) << chunk_bytes;
    EXPECT_EQ(malformed[0].first, 3u);
    EXPECT_NE(malformed[0].second.find("found 1"), std::string::npos) << malformed[0].second;
    EXPECT_EQ(malformed[1].first, 6u);
    EXPECT_NE(malformed[1].second.find("found 3"), std::string::npos) << malformed[1].second;
    EXPECT_EQ(malformed[2].first, 7u);
  }
}

TEST(Csv, BadNumbersReportLineAndColumn) {
  TempDir dir;
  const std::string path = dir.file("n.csv");
  write_file(path, "x,y\n1.5,-2e3\n 7 ,+3\n1.0,abc\n");
  const std::string error = read_error(path);
  EXPECT_NE(error.find("n.csv:4: column 'y': 'abc' is not a number"), std::string::npos) << error;
  write_file(path, "x,y\n1.5,\n");
  EXPECT_NE(read_error(path).find("n.csv:2: column 'y': '' is not a number"), std::string::npos);
  write_file(path, "x,y\n1.5,2x\n");
  EXPECT_NE(read_error(path).find("'2x' is not a number"), std::string::npos);
  write_file(path, "x,y\n1.5,-2e3\n 7 ,+3\n");
  CsvReader reader(path);
  CsvChunk chunk;
  ASSERT_TRUE(reader.next(chunk));
  EXPECT_EQ(chunk.number(0, 1), -2000.0);
  EXPECT_EQ(chunk.number(1, 0), 7.0);
  EXPECT_EQ(chunk.integer(1, 1), 3);
  EXPECT_THROW(chunk.integer(0, 0), InvalidInput);
}

TEST(Csv, QuotingErrors) {
  TempDir dir;
  const std::string path = dir.file("q.csv");
  write_file(path, "a,b\n\"x\"y,1\n");
  EXPECT_NE(read_error(path).find("q.csv:2: unexpected character after a closing quote"), std::string::npos);
  write_file(path, "a,b\n1,2\n\"open,3\n");
  EXPECT_NE(read_error(path).find("q.csv:3: unterminated quoted field"), std::string::npos) << read_error(path);
}

TEST(Csv, EmptyAndMissingFiles) {
  TempDir dir;
  const std::string path = dir.file("e.csv");
  write_file(path, "");
  EXPECT_THROW(CsvReader reader(path), InvalidInput);
  EXPECT_THROW(CsvReader reader(dir.file("missing.csv")), InvalidInput);
}

TEST(Csv, RandomTablesSurviveAnyChunkSize) {
  const unsigned seed = 20261123;
  std::mt19937 rng(seed);
  TempDir dir;
  const std::string path = dir.file("random.csv");
  const char alphabet[] = "ab,\"\n\r x";
  for (int trial = 0; trial < 20; ++trial) {
    const std::size_t columns = 1 + rng() % 4, rows = rng() % 50;
    std::vector<std::vector<std::string>> expected;
    std::string text;
    for (std::size_t c = 0; c < columns; ++c) text += (c ? ",h" : "h") + std::to_string(c);
    text += rng() % 2 ? "\r\n" : "\n";
    for (std::size_t r = 0; r < rows; ++r) {
      std::vector<std::string> row;
      for (std::size_t c = 0; c < columns; ++c) {
        std::string field;
        const std::size_t length = rng() % 6;
        for (std::size_t i = 0; i < length; ++i) field += alphabet[rng() % (sizeof alphabet - 1)];
        if (columns == 1 && field.empty()) field = "z";  // a lone empty field would be a blank line
        row.push_back(field);
        text += (c ? "," : "") + csv_escape(field);
      }
      expected.push_back(row);
      text += rng() % 2 ? "\r\n" : "\n";
    }
    write_file(path, text);
    for (std::size_t chunk : {std::size_t(1), std::size_t(5), std::size_t(64), std::size_t(1) << 20}) {
      SCOPED_TRACE("seed=" + std::to_string(seed) + " trial=" + std::to_string(trial) + " chunk=" + std::to_string(chunk));
      EXPECT_EQ(read_all(path, chunk), expected);
    }
  }
}

TEST(Npy, HeaderBytesMatchNumpy) {
  // numpy.save(np.zeros((2, 3), np.float32)) writes exactly this 128-byte... header of 64 bytes:
  const std::string expected = std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
                               "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" +
                               std::string(58, ' ') + "\n";
  const std::string header = make_npy_header(DType::F32, {2, 3});
  EXPECT_EQ(header.size(), 128u);
  EXPECT_EQ(header, expected);
  const std::string one_d = make_npy_header(DType::I64, {5});
  EXPECT_EQ(one_d.size() % 64, 0u);
  EXPECT_NE(one_d.find("{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"), std::string::npos);
}

TEST(Npy, RoundTripsEveryDtype) {
  TempDir dir;
  const std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 1e-20f, -7.0f};
  write_npy(dir.file("f.npy"), f.data(), {3, 2});
  const auto back = read_npy<float>(dir.file("f.npy"));
  EXPECT_EQ(back.shape, (std::vector<std::size_t>{3, 2}));
  EXPECT_EQ(back.data, f);
  EXPECT_EQ(back.rows(), 3u);
  EXPECT_EQ(back.cols(), 2u);
  const std::vector<std::int64_t> i = {1, -2, 1LL << 40};
  write_npy(dir.file("i.npy"), i.data(), {3});
  EXPECT_EQ(read_npy<std::int64_t>(dir.file("i.npy")).data, i);
  EXPECT_EQ(read_npy<double>(dir.file("i.npy")).data, (std::vector<double>{1.0, -2.0, 1099511627776.0}));
  const std::vector<std::int32_t> i32 = {7, -8};
  write_npy(dir.file("i32.npy"), i32.data(), {1, 2});
  EXPECT_EQ(read_npy<std::int32_t>(dir.file("i32.npy")).data, i32);
  const std::vector<double> d = {0.1, 0.2};
  write_npy(dir.file("d.npy"), d.data(), {2, 1});
  EXPECT_EQ(read_npy<double>(dir.file("d.npy")).data, d);
  // The file is header + raw little-endian data, nothing else.
  EXPECT_EQ(read_file(dir.file("f.npy")).size(), 128u + 6 * 4);
}

TEST(Npy, RowWriterStreamsRowsAndPatchesTheCount) {
  TempDir dir;
  std::vector<std::int64_t> all;
  {
    NpyRowWriter<std::int64_t> writer(dir.file("pairs.npy"), 2);
    for (std::int64_t piece = 0; piece < 5; ++piece) {
      std::vector<std::int64_t> rows;
      for (std::int64_t r = 0; r < piece * 3; ++r) rows.insert(rows.end(), {piece * 100 + r, -r});
      writer.append(rows.data(), rows.size() / 2);
      all.insert(all.end(), rows.begin(), rows.end());
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("pairs.npy")));  // atomic: nothing until commit
    writer.commit();
  }
  const auto back = read_npy<std::int64_t>(dir.file("pairs.npy"));
  EXPECT_EQ(back.shape, (std::vector<std::size_t>{30, 2}));
  EXPECT_EQ(back.data, all);
  const std::string bytes = read_file(dir.file("pairs.npy"));
  const std::size_t header = bytes.size() - all.size() * sizeof(std::int64_t);
  EXPECT_EQ(header % 64, 0u);  // numpy's alignment of the data
  EXPECT_EQ(bytes[header - 1], '\n');
  {
    NpyRowWriter<float> empty(dir.file("empty.npy"), 3);
    empty.commit();
  }
  EXPECT_EQ(read_npy<float>(dir.file("empty.npy")).shape, (std::vector<std::size_t>{0, 3}));
  {
    NpyRowWriter<float> abandoned(dir.file("abandoned.npy"), 1);
    const float one = 1.0f;
    abandoned.append(&one, 1);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("abandoned.npy")));
}

TEST(Npy, ReadsFloat16AndRowRanges) {
  TempDir dir;
  // float16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800, 65504 = 0x7bff, smallest subnormal = 0x0001
  const std::uint16_t halves[] = {0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x0000};
  std::string bytes = make_npy_header(DType::F16, {3, 2});
  bytes.replace(bytes.find("<f2"), 3, "<f2");
  bytes.append(reinterpret_cast<const char*>(halves), sizeof halves);
  write_file(dir.file("h.npy"), bytes);
  NpyReader reader(dir.file("h.npy"));
  EXPECT_EQ(reader.header().dtype, DType::F16);
  float row[2];
  reader.read_rows(1, 1, row);
  EXPECT_EQ(row[0], 0.5f);
  EXPECT_EQ(row[1], 65504.0f);
  reader.read_rows(2, 1, row);
  EXPECT_EQ(row[0], std::ldexp(1.0f, -24));
  EXPECT_THROW(reader.read_rows(2, 2, row), Error);
}

TEST(Npy, RejectsUnsupportedFiles) {
  TempDir dir;
  write_file(dir.file("bad.npy"), "not numpy at all");
  EXPECT_THROW(NpyReader reader(dir.file("bad.npy")), InvalidInput);
  std::string big_endian = make_npy_header(DType::F32, {1});
  big_endian.replace(big_endian.find("<f4"), 3, ">f4");
  write_file(dir.file("be.npy"), big_endian + std::string(4, '\0'));
  EXPECT_THROW(NpyReader reader(dir.file("be.npy")), InvalidInput);
  std::string fortran = make_npy_header(DType::F32, {1});
  fortran.replace(fortran.find("False"), 5, "True ");
  write_file(dir.file("f.npy"), fortran + std::string(4, '\0'));
  EXPECT_THROW(NpyReader reader(dir.file("f.npy")), InvalidInput);
  write_file(dir.file("short.npy"), make_npy_header(DType::F64, {4}) + std::string(8, '\0'));
  try {
    NpyReader reader(dir.file("short.npy"));
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("truncated npy data"), std::string::npos) << e.what();
  }
}

TEST(AtomicFile, CommitRenamesAndFailureLeavesNothing) {
  TempDir dir;
  const std::string target = dir.file("out.csv");
  {
    AtomicFile out(target);
    out.write("partial");
    EXPECT_FALSE(std::filesystem::exists(target));  // nothing visible before commit
  }  // destroyed without commit: as if the run failed
  EXPECT_FALSE(std::filesystem::exists(target));
  EXPECT_EQ(dir.entries(), 0u);  // the temporary is gone too
  write_text_file(target, "old complete\n");
  try {
    AtomicFile out(target);
    out.write("new but ");
    throw Error("engine failed half way");
  } catch (const Error&) {
  }
  EXPECT_EQ(read_file(target), "old complete\n");  // the older output is intact
  EXPECT_EQ(dir.entries(), 1u);
  write_lines(target, {"a", "b"});
  EXPECT_EQ(read_file(target), "a\nb\n");
  EXPECT_EQ(read_lines(target), (std::vector<std::string>{"a", "b"}));
  EXPECT_THROW(AtomicFile out(dir.file("no/such/dir/x")), Error);
}

TEST(Sparse, MatrixMarketAndNpyRoundTrip) {
  TempDir dir;
  Csr m;
  m.rows = 3;
  m.cols = 4;
  m.indptr = {0, 2, 2, 3};
  m.indices = {0, 3, 1};
  m.values = {1, 5, 2};
  write_mtx(dir.file("m.mtx"), m, true, "counts");
  EXPECT_EQ(read_file(dir.file("m.mtx")),
            "%%MatrixMarket matrix coordinate integer general\n% counts\n3 4 3\n1 1 1\n1 4 5\n3 2 2\n");
  const Csr back = read_mtx(dir.file("m.mtx"));
  EXPECT_EQ(back.rows, 3);
  EXPECT_EQ(back.cols, 4);
  EXPECT_EQ(back.indptr, m.indptr);
  EXPECT_EQ(back.indices, m.indices);
  EXPECT_EQ(back.values, m.values);
  EXPECT_EQ(back.at(0, 3), 5.0);
  EXPECT_EQ(back.at(1, 3), 0.0);
  m.values = {0.1, 1e-300, -2.5};
  write_mtx(dir.file("r.mtx"), m, false);
  EXPECT_EQ(read_mtx(dir.file("r.mtx")).values, m.values);  // the shortest round-trip form
  write_csr_npy(dir.file("m"), m);
  const Csr triple = read_csr_npy(dir.file("m"));
  EXPECT_EQ(triple.indptr, m.indptr);
  EXPECT_EQ(triple.values, m.values);
  write_file(dir.file("bad.mtx"), "%%MatrixMarket matrix coordinate real general\n2 2 1\n3 1 1.0\n");
  try {
    read_mtx(dir.file("bad.mtx"));
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("bad.mtx:3: entry outside the matrix"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cohort
