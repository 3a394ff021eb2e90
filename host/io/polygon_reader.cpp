/*
 * polygon_reader.cpp: PolygonSet building, WKT parsing and the polygon file readers.
 *
 * WKT (in a CSV column): POLYGON ((x y, ...), (hole ...)) and
 * MULTIPOLYGON (((x y, ...)), ((...))), keywords case-insensitive, 2-d only.
 * GeoJSON (simdjson DOM): a FeatureCollection, a single Feature or a bare geometry;
 * geometry types Polygon and MultiPolygon. Each record is parsed into its own small
 * PolygonSet first, so a record that fails validation is either reported or skipped
 * whole, never half appended.
 */
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <utility>

#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/geometry.hpp"

namespace cohort {

// ---------------------------------------------------------------- PolygonSet

void PolygonSet::add_ring(const std::vector<double>& ring_x, const std::vector<double>& ring_y) {
  std::size_t n = ring_x.size();
  if (n > 1 && ring_x[0] == ring_x[n - 1] && ring_y[0] == ring_y[n - 1]) --n;  // drop the closing vertex
  x.insert(x.end(), ring_x.begin(), ring_x.begin() + static_cast<std::ptrdiff_t>(n));
  y.insert(y.end(), ring_y.begin(), ring_y.begin() + static_cast<std::ptrdiff_t>(n));
  ring_offsets.push_back(x.size());
}

void PolygonSet::end_polygon() { polygon_ring_offsets.push_back(rings()); }

void PolygonSet::end_feature(std::string id) {
  feature_polygon_offsets.push_back(polygons());
  ids.push_back(std::move(id));
}

void PolygonSet::append(const PolygonSet& other) {
  const std::uint64_t v0 = vertices(), r0 = rings(), p0 = polygons();
  x.insert(x.end(), other.x.begin(), other.x.end());
  y.insert(y.end(), other.y.begin(), other.y.end());
  for (std::size_t i = 1; i < other.ring_offsets.size(); ++i) ring_offsets.push_back(v0 + other.ring_offsets[i]);
  for (std::size_t i = 1; i < other.polygon_ring_offsets.size(); ++i)
    polygon_ring_offsets.push_back(r0 + other.polygon_ring_offsets[i]);
  for (std::size_t i = 1; i < other.feature_polygon_offsets.size(); ++i)
    feature_polygon_offsets.push_back(p0 + other.feature_polygon_offsets[i]);
  ids.insert(ids.end(), other.ids.begin(), other.ids.end());
}

std::string ring_problem(const std::vector<double>& ring_x, const std::vector<double>& ring_y) {
  const std::size_t n = ring_x.size();
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(ring_x[i]) || !std::isfinite(ring_y[i]))
      return "coordinate " + std::to_string(i + 1) + " of a ring is NaN or infinite";
  // Three distinct vertices: the first, one differing from it, one differing from both.
  std::size_t second = n;
  for (std::size_t i = 1; i < n && second == n; ++i)
    if (ring_x[i] != ring_x[0] || ring_y[i] != ring_y[0]) second = i;
  bool third = false;
  for (std::size_t i = second + 1; i < n && !third; ++i)
    third = (ring_x[i] != ring_x[0] || ring_y[i] != ring_y[0]) &&
            (ring_x[i] != ring_x[second] || ring_y[i] != ring_y[second]);
  if (!third) return "ring has fewer than 3 distinct vertices";
  return "";
}

// ---------------------------------------------------------------- WKT

namespace {

class WktParser {
 public:
  explicit WktParser(const std::string& text) : s_(text) {}

  void parse(std::string id, PolygonSet& out) {
    const std::string keyword = word();
    if (keyword.empty()) fail("expected POLYGON or MULTIPOLYGON");
    std::string upper = keyword;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    skip_space();
    if (pos_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_]))) {
      std::string next = word();
      for (auto& c : next) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (next == "EMPTY") fail("empty geometry");
      fail("'" + keyword + " " + next + "': only 2-d coordinates are supported");
    }
    if (upper == "POLYGON") {
      polygon(out);
    } else if (upper == "MULTIPOLYGON") {
      expect('(');
      do polygon(out);
      while (accept(','));
      expect(')');
    } else {
      fail("unknown geometry type '" + keyword + "' (supported: POLYGON, MULTIPOLYGON)");
    }
    skip_space();
    if (pos_ != s_.size()) fail("unexpected text after the geometry");
    out.end_feature(std::move(id));
  }

 private:
  void polygon(PolygonSet& out) {
    expect('(');
    do ring(out);
    while (accept(','));
    expect(')');
    out.end_polygon();
  }
  void ring(PolygonSet& out) {
    expect('(');
    xs_.clear();
    ys_.clear();
    do {
      xs_.push_back(number());
      ys_.push_back(number());
    } while (accept(','));
    expect(')');
    const std::string problem = ring_problem(xs_, ys_);
    if (!problem.empty()) throw InvalidInput(problem);
    out.add_ring(xs_, ys_);
  }
  double number() {
    skip_space();
    const char* first = s_.data() + pos_;
    const char* last = s_.data() + s_.size();
    if (first != last && *first == '+') ++first;
    double value = 0;
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || ptr == first) fail("expected a number");
    pos_ = static_cast<std::size_t>(ptr - s_.data());
    if (pos_ < s_.size() && !std::isspace(static_cast<unsigned char>(s_[pos_])) && s_[pos_] != ',' &&
        s_[pos_] != ')')
      fail("expected a number");
    return value;
  }
  std::string word() {
    skip_space();
    const std::size_t start = pos_;
    while (pos_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }
  [[noreturn]] void fail(const std::string& what) const {
    std::string near = pos_ < s_.size() ? "'" + s_.substr(pos_, 12) + "'" : "end of text";
    throw InvalidInput("malformed WKT: " + what + " at character " + std::to_string(pos_ + 1) + " (near " + near +
                       ")");
  }

  const std::string& s_;
  std::size_t pos_ = 0;
  std::vector<double> xs_, ys_;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Skip-or-throw policy shared by both readers.
void reject(PolygonReadResult& result, const PolygonReadOptions& options, const std::string& path,
            std::uint64_t line, const std::string& problem) {
  if (!options.skip_invalid) throw InvalidInput(path, line, problem);
  if (result.skipped++ == 0) result.first_problem = InvalidInput(path, line, problem).what();
}

PolygonReadResult read_wkt_csv(const std::string& path, const PolygonReadOptions& options) {
  PolygonReadResult result;
  CsvOptions csv_options;
  csv_options.keep_malformed = true;  // a ragged record is rejected (or skipped) like a bad WKT, in line order
  CsvReader reader(path, csv_options);
  const auto& header = reader.header();
  std::size_t id_col = 0, wkt_col = 0;
  if (!options.id_column.empty()) {
    id_col = reader.column(options.id_column);
  } else if (auto c = reader.find_column("id")) {
    id_col = *c;
  } else {
    id_col = 0;
    for (std::size_t i = 0; i < header.size(); ++i)
      if (ends_with(lower(header[i]), "_id")) {
        id_col = i;
        break;
      }
  }
  if (!options.wkt_column.empty()) {
    wkt_col = reader.column(options.wkt_column);
  } else {
    std::optional<std::size_t> c;
    for (const char* name : {"wkt", "geometry", "geom", "WKT"})
      if (!c) c = reader.find_column(name);
    if (!c) reader.column("wkt");  // throws, listing the columns
    wkt_col = *c;
  }
  CsvChunk chunk;
  std::string wkt;
  while (reader.next(chunk)) {
    MalformedBefore malformed(chunk);
    auto reject_malformed_before = [&](std::uint64_t line) {
      malformed(line, [&](std::uint64_t bad_line, const std::string& problem) {
        ++result.records;
        reject(result, options, path, bad_line, problem);
      });
    };
    for (std::size_t row = 0; row < chunk.rows(); ++row) {
      reject_malformed_before(chunk.line(row));
      ++result.records;
      wkt.assign(chunk.field(row, wkt_col));
      PolygonSet one;
      try {
        WktParser(wkt).parse(std::string(chunk.field(row, id_col)), one);
      } catch (const InvalidInput& e) {
        reject(result, options, path, chunk.line(row), e.what());
        continue;
      }
      result.polygons.append(one);
      result.record.push_back(result.records - 1);
    }
    reject_malformed_before(UINT64_MAX);
  }
  if (result.records == 0) throw InvalidInput(path, 0, "no polygon records");
  return result;
}

// ---------------------------------------------------------------- GeoJSON

using simdjson::dom::element;

void geojson_ring(element ring, PolygonSet& out, std::vector<double>& xs, std::vector<double>& ys) {
  simdjson::dom::array points;
  if (ring.get_array().get(points)) throw InvalidInput("a ring is not an array of positions");
  xs.clear();
  ys.clear();
  for (element point : points) {
    simdjson::dom::array xy;
    if (point.get_array().get(xy) || xy.size() < 2) throw InvalidInput("a position is not an array [x, y]");
    double px = 0, py = 0;
    if (xy.at(0).get_double().get(px) || xy.at(1).get_double().get(py))
      throw InvalidInput("a coordinate is not a number");
    xs.push_back(px);
    ys.push_back(py);
  }
  const std::string problem = ring_problem(xs, ys);
  if (!problem.empty()) throw InvalidInput(problem);
  out.add_ring(xs, ys);
}

void geojson_polygon(element rings, PolygonSet& out, std::vector<double>& xs, std::vector<double>& ys) {
  simdjson::dom::array array;
  if (rings.get_array().get(array) || array.size() == 0) throw InvalidInput("a Polygon needs an array of rings");
  for (element ring : array) geojson_ring(ring, out, xs, ys);
  out.end_polygon();
}

void geojson_geometry(element geometry, std::string id, PolygonSet& out) {
  if (geometry.is_null()) throw InvalidInput("the feature has no geometry");
  std::string_view type;
  if (geometry["type"].get_string().get(type)) throw InvalidInput("the geometry has no \"type\"");
  element coordinates;
  if (geometry["coordinates"].get(coordinates)) throw InvalidInput("the geometry has no \"coordinates\"");
  std::vector<double> xs, ys;
  if (type == "Polygon") {
    geojson_polygon(coordinates, out, xs, ys);
  } else if (type == "MultiPolygon") {
    simdjson::dom::array polygons;
    if (coordinates.get_array().get(polygons) || polygons.size() == 0)
      throw InvalidInput("a MultiPolygon needs an array of polygons");
    for (element polygon : polygons) geojson_polygon(polygon, out, xs, ys);
  } else {
    throw InvalidInput("unknown geometry type '" + std::string(type) + "' (supported: Polygon, MultiPolygon)");
  }
  out.end_feature(std::move(id));
}

std::string json_text(element value) {
  std::string_view text;
  if (!value.get_string().get(text)) return std::string(text);
  return simdjson::minify(value);
}

std::string feature_id(element feature, std::size_t index, const PolygonReadOptions& options) {
  simdjson::dom::object properties;
  const bool has_properties = !feature["properties"].get_object().get(properties);
  element value;
  if (!options.id_column.empty()) {
    if (!has_properties || properties[options.id_column].get(value))
      throw InvalidInput("no property \"" + options.id_column + "\"");
    return json_text(value);
  }
  if (has_properties) {
    if (!properties["id"].get(value)) return json_text(value);
    for (auto field : properties)
      if (ends_with(lower(std::string(field.key)), "_id")) return json_text(field.value);
  }
  if (!feature["id"].get(value)) return json_text(value);
  return std::to_string(index);
}

// Walks a JSON value, reading every number, string and literal: the first bad one
// stops the walk with its error.
simdjson::error_code walk_json(simdjson::ondemand::value value) {
  namespace od = simdjson::ondemand;
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  switch (type) {
    case od::json_type::array: {
      od::array array;
      if (auto error = value.get_array().get(array)) return error;
      for (auto element : array) {
        od::value inner;
        if (auto error = element.get(inner)) return error;
        if (auto error = walk_json(inner)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::object: {
      od::object object;
      if (auto error = value.get_object().get(object)) return error;
      for (auto field : object) {
        od::value inner;
        if (auto error = field.value().get(inner)) return error;
        if (auto error = walk_json(inner)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: return value.get_double().error();
    case od::json_type::string: return value.get_string().error();
    case od::json_type::boolean: return value.get_bool().error();
    case od::json_type::null: return value.is_null().error();
  }
  return simdjson::INCORRECT_TYPE;
}

// The DOM parser says what is wrong, not where: an on-demand walk over the same text stops
// at the first bad value. Returns its line (0 when not found) and, inside a
// FeatureCollection's "features", the feature's index (else -1).
std::pair<std::uint64_t, long> locate_json_error(const std::string& path) {
  namespace od = simdjson::ondemand;
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text)) return {0, -1};
  od::parser parser;
  od::document document;
  if (parser.iterate(text).get(document)) return {0, -1};
  long feature = -1;
  const auto line_of_stop = [&]() -> std::uint64_t {
    const char* at = nullptr;
    if (document.current_location().get(at) || at < text.data() || at > text.data() + text.size()) return 0;
    return 1 + static_cast<std::uint64_t>(std::count(static_cast<const char*>(text.data()), at, '\n'));
  };
  od::object root;
  if (document.get_object().get(root)) return {line_of_stop(), -1};
  for (auto field : root) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) return {line_of_stop(), feature};
    od::array features;
    if (key != "features" || value.get_array().get(features)) {
      if (walk_json(value)) return {line_of_stop(), -1};
      continue;
    }
    for (auto element : features) {
      ++feature;
      od::value item;
      if (element.get(item) || walk_json(item)) return {line_of_stop(), feature};
    }
    feature = -1;
  }
  return {0, -1};
}

PolygonReadResult read_geojson(const std::string& path, const PolygonReadOptions& options) {
  PolygonReadResult result;
  simdjson::dom::parser parser;
  element root;
  if (auto error = parser.load(path).get(root)) {
    std::string problem = std::string("not valid JSON: ") + simdjson::error_message(error);
    if (error == simdjson::UTF8_ERROR)  // GeoJSON is UTF-8 (RFC 7946); the WKT CSV reader takes any bytes
      problem += " (convert it, e.g. iconv -f latin1 -t utf-8, or give the polygons as a WKT CSV, whose ids pass "
                 "through byte for byte)";
    const auto [line, feature] = locate_json_error(path);
    if (feature >= 0) problem = "feature " + std::to_string(feature) + ": " + problem;
    throw InvalidInput(path, line, problem);
  }
  std::string_view type;
  if (root["type"].get_string().get(type)) throw InvalidInput(path, 0, "no \"type\" member: not GeoJSON");
  std::vector<element> features;
  if (type == "FeatureCollection") {
    simdjson::dom::array array;
    if (root["features"].get_array().get(array)) throw InvalidInput(path, 0, "FeatureCollection without \"features\"");
    for (element f : array) features.push_back(f);
  } else {
    features.push_back(root);
  }
  for (std::size_t i = 0; i < features.size(); ++i) {
    ++result.records;
    PolygonSet one;
    try {
      element feature = features[i];
      std::string_view feature_type;
      if (feature["type"].get_string().get(feature_type)) throw InvalidInput("no \"type\" member");
      if (feature_type == "Feature") {
        element geometry;
        if (feature["geometry"].get(geometry)) throw InvalidInput("the feature has no geometry");
        geojson_geometry(geometry, feature_id(feature, i, options), one);
      } else {
        geojson_geometry(feature, std::to_string(i), one);
      }
    } catch (const InvalidInput& e) {
      reject(result, options, path, 0, "feature " + std::to_string(i) + ": " + e.what());
      continue;
    }
    result.polygons.append(one);
    result.record.push_back(result.records - 1);
  }
  if (result.records == 0) throw InvalidInput(path, 0, "no features");
  return result;
}

}  // namespace

void parse_wkt_feature(const std::string& wkt, std::string id, PolygonSet& set) {
  WktParser(wkt).parse(std::move(id), set);
}

PolygonReadResult read_polygons(const std::string& path, const PolygonReadOptions& options) {
  const std::string name = lower(path);
  PolygonReadResult result;
  if (ends_with(name, ".geojson") || ends_with(name, ".json"))
    result = read_geojson(path, options);
  else if (ends_with(name, ".csv"))
    result = read_wkt_csv(path, options);
  else
    throw InvalidInput(path, 0, "unknown polygon format (expected .csv with WKT, .geojson or .json)");
  if (result.polygons.features() == 0)
    throw InvalidInput(path, 0, "no valid polygons (" + std::to_string(result.skipped) + " invalid records skipped)");
  return result;
}

}  // namespace cohort
