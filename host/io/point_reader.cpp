/*
 * point_reader.cpp: PointReader, points in chunks from CSV (CsvReader) or .npy
 * (NpyReader row ranges). Coordinates of a CSV chunk are parsed in parallel; rows that
 * fail (empty, not a number, NaN/inf) are then handled in order, so the error reported
 * is always the first bad line of the file.
 */
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>

#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/geometry.hpp"
#include "cohort/npy.hpp"

namespace cohort {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A coordinate field -> value; false when empty, not a number or not finite.
bool parse_coordinate(std::string_view field, double& value) {
  const char* first = field.data();
  const char* last = first + field.size();
  while (first < last && (*first == ' ' || *first == '\t')) ++first;
  while (last > first && (last[-1] == ' ' || last[-1] == '\t')) --last;
  if (first < last && *first == '+') ++first;
  auto [ptr, ec] = std::from_chars(first, last, value);
  return ec == std::errc() && ptr == last && first != last && std::isfinite(value);
}

}  // namespace

struct PointReader::Impl {
  std::string path;
  PointReadOptions options;
  std::optional<CsvReader> csv;
  std::optional<NpyReader> npy;
  CsvChunk csv_chunk;
  std::size_t id_col = 0, x_col = 0, y_col = 0;
  bool has_ids = false;
  std::uint64_t next_row = 0;  // .npy rows consumed so far
  std::vector<double> raw;
  std::vector<double> xs, ys;  // per-chunk scratch, kept to avoid page faults per chunk
  std::vector<unsigned char> ok;
};

PointReader::PointReader(std::string path, PointReadOptions options) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.path = std::move(path);
  m.options = options;
  if (m.options.chunk_points == 0) m.options.chunk_points = 1;
  const std::string name = lower(m.path);
  if (ends_with(name, ".npy")) {
    m.npy.emplace(m.path);
    const auto& h = m.npy->header();
    if (h.shape.size() != 2 || h.shape[1] != 2)
      throw InvalidInput(m.path, 0, "points .npy must have shape (n, 2) (x, y per row)");
    if (h.dtype != DType::F64 && h.dtype != DType::F32)
      throw InvalidInput(m.path, 0, "points .npy must be float32 or float64");
    if (!options.id_column.empty())
      throw InvalidInput(m.path, 0, "a .npy point file has no id column ('" + options.id_column + "')");
    return;
  }
  if (!ends_with(name, ".csv")) throw InvalidInput(m.path, 0, "unknown point format (expected .csv or .npy)");
  CsvOptions csv_options;
  // About 48 bytes per point, but no bigger than the file (small files: small buffers).
  std::error_code size_error;
  const auto file_bytes = std::filesystem::file_size(m.path, size_error);
  csv_options.chunk_bytes = std::max<std::size_t>(std::size_t(1) << 16, m.options.chunk_points * 48);
  if (!size_error) csv_options.chunk_bytes = std::min<std::size_t>(csv_options.chunk_bytes, file_bytes + 1024);
  csv_options.keep_malformed = true;  // reported below, in file order with the coordinates
  m.csv.emplace(m.path, csv_options);
  auto& csv = *m.csv;
  auto pick = [&](const std::string& given, std::initializer_list<const char*> names) {
    if (!given.empty()) return csv.column(given);
    for (const char* n : names)
      if (auto c = csv.find_column(n)) return *c;
    return csv.column(*names.begin());  // throws, listing the columns
  };
  m.x_col = pick(options.x_column, {"x", "lon", "lng", "longitude", "X", "LON", "Longitude"});
  m.y_col = pick(options.y_column, {"y", "lat", "latitude", "Y", "LAT", "Latitude"});
  if (!options.id_column.empty()) {
    m.id_col = csv.column(options.id_column);
    m.has_ids = true;
  } else if (auto c = csv.find_column("id")) {
    m.id_col = *c;
    m.has_ids = true;
  } else {
    for (std::size_t i = 0; i < csv.header().size() && !m.has_ids; ++i)
      if (ends_with(lower(csv.header()[i]), "_id")) {
        m.id_col = i;
        m.has_ids = true;
      }
  }
}

PointReader::~PointReader() = default;

void PointReader::record_invalid(std::uint64_t line, const std::string& problem) {
  if (!impl_->options.skip_invalid) throw InvalidInput(impl_->path, line, problem);
  if (invalid_++ == 0) first_problem_ = InvalidInput(impl_->path, line, problem).what();
}

std::uint64_t PointReader::total_units() const {
  return impl_->csv ? impl_->csv->bytes_total() : impl_->npy->header().rows();
}
std::uint64_t PointReader::done_units() const { return impl_->csv ? impl_->csv->bytes_consumed() : impl_->next_row; }

bool PointReader::next(PointChunk& chunk) {
  auto& m = *impl_;
  chunk.x.clear();
  chunk.y.clear();
  chunk.row.clear();
  chunk.id_bytes.clear();
  chunk.id_offsets.assign(1, 0);
  chunk.has_ids = m.has_ids;
  auto invalid = [&](std::uint64_t line, const std::string& problem) { record_invalid(line, problem); };
  if (m.npy) {
    const std::size_t rows = m.npy->header().rows();
    if (m.next_row >= rows) return false;
    const std::size_t n = std::min<std::size_t>(m.options.chunk_points, rows - m.next_row);
    m.raw.resize(2 * n);
    m.npy->read_rows<double>(m.next_row, n, m.raw.data());
    chunk.x.reserve(n);
    chunk.y.reserve(n);
    chunk.row.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double px = m.raw[2 * i], py = m.raw[2 * i + 1];
      if (!std::isfinite(px) || !std::isfinite(py)) {
        invalid(0, "row " + std::to_string(m.next_row + i) + ": coordinate is NaN or infinite");
        continue;
      }
      chunk.x.push_back(px);
      chunk.y.push_back(py);
      chunk.row.push_back(m.next_row + i);
    }
    m.next_row += n;
    return true;
  }
  if (!m.csv->next(m.csv_chunk)) return false;
  const CsvChunk& c = m.csv_chunk;
  const std::size_t n = c.rows();
  auto& xs = m.xs;
  auto& ys = m.ys;
  auto& ok = m.ok;
  xs.resize(n);
  ys.resize(n);
  ok.resize(n);
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i)
    ok[i] = parse_coordinate(c.field(i, m.x_col), xs[i]) && parse_coordinate(c.field(i, m.y_col), ys[i]);
  chunk.x.reserve(n);
  chunk.y.reserve(n);
  chunk.row.reserve(n);
  MalformedBefore malformed(c);
  auto report_malformed_before = [&](std::uint64_t line) { malformed(line, invalid); };
  for (std::size_t i = 0; i < n; ++i) {
    report_malformed_before(c.line(i));
    if (!ok[i]) {
      const auto& header = m.csv->header();
      double v = 0;
      const bool x_ok = parse_coordinate(c.field(i, m.x_col), v);
      const std::size_t col = x_ok ? m.y_col : m.x_col;
      const std::string_view text = c.field(i, col);
      invalid(c.line(i), "column '" + header[col] + "': " +
                             (text.empty() ? std::string("missing coordinate")
                                           : "'" + std::string(text) + "' is not a finite number"));
      continue;
    }
    chunk.x.push_back(xs[i]);
    chunk.y.push_back(ys[i]);
    chunk.row.push_back(c.record(i));
    if (m.has_ids) {
      chunk.id_bytes.append(c.field(i, m.id_col));
      chunk.id_offsets.push_back(chunk.id_bytes.size());
    }
  }
  report_malformed_before(UINT64_MAX);
  return true;
}

}  // namespace cohort
