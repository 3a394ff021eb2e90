/*
 * pipeline_config.cpp: the pipeline's JSON config (see pipeline.hpp): parsed with the
 * simdjson DOM, every key checked against the known ones (an unknown key is an error
 * naming its path, so a typo never silently falls back to a default), input files
 * checked to exist; and written back as JSON (`--verbose`, the manifest).
 */
#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>

#include "cohort/error.hpp"
#include "cohort/pipeline.hpp"

namespace cohort {
namespace {

namespace fs = std::filesystem;
using simdjson::dom::element;

struct Walker {
  std::string name;  // config file, for errors

  [[noreturn]] void fail(const std::string& where, const std::string& problem) const {
    throw InvalidInput(name, 0, "config key '" + where + "': " + problem);
  }
  // Calls handler(key) for every member of an object; unknown keys fail.
  void object(element value, const std::string& where,
              const std::map<std::string, std::function<void(element, const std::string&)>>& handlers) const {
    simdjson::dom::object members;
    if (value.get_object().get(members)) fail(where, "expected an object");
    for (auto field : members) {
      const std::string key(field.key);
      const std::string path = where.empty() ? key : where + "." + key;
      const auto it = handlers.find(key);
      if (it == handlers.end()) {
        std::string known;
        for (const auto& h : handlers) known += (known.empty() ? "" : ", ") + h.first;
        fail(path, "unknown key (known here: " + known + ")");
      }
      it->second(field.value, path);
    }
  }
  std::string string(element value, const std::string& where) const {
    std::string_view text;
    if (value.get_string().get(text)) fail(where, "expected a string");
    return std::string(text);
  }
  double number(element value, const std::string& where) const {
    double x = 0;
    if (value.get_double().get(x) || !std::isfinite(x)) fail(where, "expected a number");
    return x;
  }
  int integer(element value, const std::string& where, int lo, int hi) const {
    const double x = number(value, where);
    if (x != std::floor(x) || x < lo || x > hi)
      fail(where, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<int>(x);
  }
  bool boolean(element value, const std::string& where) const {
    bool b = false;
    if (value.get_bool().get(b)) fail(where, "expected true or false");
    return b;
  }
  std::vector<std::string> strings(element value, const std::string& where) const {
    simdjson::dom::array items;
    if (value.get_array().get(items)) fail(where, "expected an array of strings");
    std::vector<std::string> out;
    for (element item : items) out.push_back(string(item, where));
    return out;
  }
};

std::string resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

std::string quote(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + quote(items[i]);
  return out + "]";
}

std::string number(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", x);
  return buffer;
}

}  // namespace

PipelineConfig parse_pipeline_config(const std::string& json, const std::string& base_dir, const std::string& name) {
  Walker w{name};
  simdjson::dom::parser parser;
  element root;
  if (const auto error = parser.parse(simdjson::padded_string(json)).get(root))
    throw InvalidInput(name, 0, std::string("malformed JSON: ") + simdjson::error_message(error));
  PipelineConfig c;
  using H = std::map<std::string, std::function<void(element, const std::string&)>>;
  auto str = [&](std::string& target) { return [&w, &target](element v, const std::string& p) { target = w.string(v, p); }; };
  auto path = [&](std::string& target) {
    return [&w, &target, &base_dir](element v, const std::string& p) { target = resolve(base_dir, w.string(v, p)); };
  };
  auto integer = [&](int& target, int lo, int hi) {
    return [&w, &target, lo, hi](element v, const std::string& p) { target = w.integer(v, p, lo, hi); };
  };
  w.object(root, "", H{
      {"inputs", [&](element v, const std::string& p) {
         w.object(v, p, H{
             {"polygons", [&](element o, const std::string& q) {
                w.object(o, q, H{{"path", path(c.polygons)}, {"id_column", str(c.polygon_id_column)},
                                 {"wkt_column", str(c.wkt_column)}, {"category_column", str(c.polygon_category_column)}});
              }},
             {"points", [&](element o, const std::string& q) {
                w.object(o, q, H{{"path", path(c.points)}, {"id_column", str(c.point_id_column)},
                                 {"x_column", str(c.x_column)}, {"y_column", str(c.y_column)},
                                 {"user_column", str(c.point_user_column)}, {"time_column", str(c.point_time_column)}});
              }},
             {"events", [&](element o, const std::string& q) {
                w.object(o, q, H{{"path", path(c.events)}, {"user_column", str(c.user_column)},
                                 {"item_column", str(c.item_column)}, {"event_column", str(c.event_column)},
                                 {"time_column", str(c.time_column)}});
              }},
             {"customers", [&](element o, const std::string& q) {
                w.object(o, q, H{{"path", path(c.customers)}, {"id_column", str(c.customer_id_column)},
                                 {"x_column", str(c.home_x_column)}, {"y_column", str(c.home_y_column)}});
              }},
             {"truth", path(c.truth_dir)}});
       }},
      {"steps", [&](element v, const std::string& p) {
         w.object(v, p, H{
             {"join", [&](element o, const std::string& q) {
                w.object(o, q, H{{"first", [&](element b, const std::string& r) { c.join_first = w.boolean(b, r); }}});
              }},
             {"matrix", [&](element o, const std::string& q) { w.object(o, q, H{{"conversion", str(c.conversion)}}); }},
             {"train", [&](element o, const std::string& q) {
                c.train = true;
                w.object(o, q, H{
                    {"enabled", [&](element b, const std::string& r) { c.train = w.boolean(b, r); }},
                    {"target", str(c.train_target)},
                    {"cat_columns", [&](element a, const std::string& r) { c.train_cat_columns = w.strings(a, r); }},
                    {"cont_columns", [&](element a, const std::string& r) { c.train_cont_columns = w.strings(a, r); }},
                    {"epochs", integer(c.train_epochs, 1, 1000)},
                    {"batch", integer(c.train_batch, 1, 1 << 20)},
                    {"lr", [&](element x, const std::string& r) { c.train_lr = w.number(x, r); }},
                    {"bag", [&](element b, const std::string& r) { c.train_bag = w.boolean(b, r); }},
                    {"layers", [&](element a, const std::string& r) {
                       simdjson::dom::array items;
                       if (a.get_array().get(items)) w.fail(r, "expected an array of integers");
                       c.train_layers.clear();
                       for (element item : items) c.train_layers.push_back(w.integer(item, r, 1, 1 << 16));
                     }}});
              }},
             {"segment", [&](element o, const std::string& q) {
                w.object(o, q, H{{"k_min", integer(c.k_min, 2, 1000)}, {"k_max", integer(c.k_max, 2, 1000)},
                                 {"metric", str(c.metric)}, {"n_init", integer(c.n_init, 1, 100)}});
              }},
             {"similar", [&](element o, const std::string& q) {
                w.object(o, q, H{{"k", integer(c.similar_k, 1, 100000)}, {"queries", integer(c.similar_queries, 1, 1 << 30)}});
              }},
             {"analysis", [&](element o, const std::string& q) {
                w.object(o, q, H{{"utc_offset_hours", [&](element x, const std::string& r) {
                                    c.utc_offset_hours = w.number(x, r);
                                    if (std::fabs(c.utc_offset_hours) > 14) w.fail(r, "expected hours in [-14, 14]");
                                  }},
                                 {"attribute_columns", [&](element a, const std::string& r) {
                                    c.attribute_columns = w.strings(a, r);
                                  }}});
              }}});
       }},
      {"seed", [&](element v, const std::string& p) { c.seed = static_cast<std::uint64_t>(w.integer(v, p, 0, 2147483647)); }}});

  // Required inputs, checked now so a typo fails before any stage runs.
  const std::pair<const char*, const std::string*> required[] = {
      {"inputs.polygons.path", &c.polygons}, {"inputs.points.path", &c.points},
      {"inputs.events.path", &c.events}, {"inputs.customers.path", &c.customers}};
  for (const auto& [key, value] : required) {
    if (value->empty()) w.fail(key, "missing (required)");
    if (!fs::exists(*value)) w.fail(key, "input file '" + *value + "' does not exist");
  }
  if (!c.truth_dir.empty() && !fs::is_directory(c.truth_dir))
    w.fail("inputs.truth", "directory '" + c.truth_dir + "' does not exist");
  if (c.k_min > c.k_max) w.fail("steps.segment", "k_min > k_max");
  if (c.metric != "cosine" && c.metric != "euclidean") w.fail("steps.segment.metric", "expected cosine or euclidean");
  if (c.train && c.train_cat_columns.empty() && c.train_cont_columns.empty())
    w.fail("steps.train", "needs cat_columns or cont_columns");
  return c;
}

PipelineConfig read_pipeline_config(const std::string& path) {
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text)) throw InvalidInput(path, 0, "cannot read the config file");
  const std::string base = fs::path(path).parent_path().string();
  return parse_pipeline_config(std::string(text.data(), text.size()), base, path);
}

std::string pipeline_config_json(const PipelineConfig& c) {
  std::string j = "{\n  \"inputs\": {\n";
  j += "    \"polygons\": {\"path\": " + quote(c.polygons) + ", \"id_column\": " + quote(c.polygon_id_column) +
       ", \"wkt_column\": " + quote(c.wkt_column) + ", \"category_column\": " + quote(c.polygon_category_column) + "},\n";
  j += "    \"points\": {\"path\": " + quote(c.points) + ", \"id_column\": " + quote(c.point_id_column) +
       ", \"x_column\": " + quote(c.x_column) + ", \"y_column\": " + quote(c.y_column) +
       ", \"user_column\": " + quote(c.point_user_column) + ", \"time_column\": " + quote(c.point_time_column) + "},\n";
  j += "    \"events\": {\"path\": " + quote(c.events) + ", \"user_column\": " + quote(c.user_column) +
       ", \"item_column\": " + quote(c.item_column) + ", \"event_column\": " + quote(c.event_column) +
       ", \"time_column\": " + quote(c.time_column) + "},\n";
  j += "    \"customers\": {\"path\": " + quote(c.customers) + ", \"id_column\": " + quote(c.customer_id_column) +
       ", \"x_column\": " + quote(c.home_x_column) + ", \"y_column\": " + quote(c.home_y_column) + "},\n";
  j += "    \"truth\": " + quote(c.truth_dir) + "\n  },\n  \"steps\": {\n";
  j += std::string("    \"join\": {\"first\": ") + (c.join_first ? "true" : "false") + "},\n";
  j += "    \"matrix\": {\"conversion\": " + quote(c.conversion) + "},\n";
  std::string layers = "[";
  for (std::size_t i = 0; i < c.train_layers.size(); ++i) layers += (i ? ", " : "") + std::to_string(c.train_layers[i]);
  layers += "]";
  j += std::string("    \"train\": {\"enabled\": ") + (c.train ? "true" : "false") + ", \"target\": " + quote(c.train_target) +
       ", \"cat_columns\": " + list(c.train_cat_columns) + ", \"cont_columns\": " + list(c.train_cont_columns) +
       ", \"epochs\": " + std::to_string(c.train_epochs) + ", \"batch\": " + std::to_string(c.train_batch) +
       ", \"lr\": " + number(c.train_lr) + ", \"bag\": " + (c.train_bag ? "true" : "false") +
       ", \"layers\": " + layers + "},\n";
  j += "    \"segment\": {\"k_min\": " + std::to_string(c.k_min) + ", \"k_max\": " + std::to_string(c.k_max) +
       ", \"metric\": " + quote(c.metric) + ", \"n_init\": " + std::to_string(c.n_init) + "},\n";
  j += "    \"similar\": {\"k\": " + std::to_string(c.similar_k) + ", \"queries\": " + std::to_string(c.similar_queries) +
       "},\n";
  j += "    \"analysis\": {\"utc_offset_hours\": " + number(c.utc_offset_hours) +
       ", \"attribute_columns\": " + list(c.attribute_columns) + "}\n  },\n";
  j += "  \"seed\": " + std::to_string(c.seed) + "\n}\n";
  return j;
}

}  // namespace cohort
