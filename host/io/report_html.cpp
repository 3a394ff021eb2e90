/*
 * report_html.cpp: the pipeline's HTML report (see report_html.hpp). Sections:
 * ground truth, stage timings, training loss curves (train/history.csv), segment sizes,
 * model selection and profiles, a map of customers' homes coloured by segment with the
 * store polygons, example look-alikes, and the three questions of the analysis: lift heat
 * maps (segment x store, segment x category), the category correlation, segment
 * consistency, and hour-of-week seasonality heat maps with the peak hours.
 * Everything is inline SVG: every chart has a title, axis labels and a legend.
 */
#include "host/io/report_html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <unordered_map>

#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/geometry.hpp"

namespace cohort::detail {
namespace {

namespace fs = std::filesystem;

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  int column(const std::string& name) const {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return static_cast<int>(i);
    return -1;
  }
};

Table read_table(const std::string& path) {
  Table t;
  if (!fs::exists(path)) return t;
  CsvReader reader(path);
  t.header = reader.header();
  CsvChunk chunk;
  while (reader.next(chunk))
    for (std::size_t r = 0; r < chunk.rows(); ++r) {
      std::vector<std::string> row;
      for (std::size_t c = 0; c < chunk.columns(); ++c) row.emplace_back(chunk.field(r, c));
      t.rows.push_back(std::move(row));
    }
  return t;
}

double to_double(const std::string& s) {
  if (s.empty()) return std::nan("");
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  return end == s.c_str() ? std::nan("") : v;
}

std::string esc(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string f(const char* format, double v) {
  char text[64];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
std::string segment_color(int s) { return s < 0 ? "#bbbbbb" : kPalette[s % 10]; }

std::string rgb(double r, double g, double b) {
  char text[16];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", static_cast<int>(std::lround(r)), static_cast<int>(std::lround(g)),
                static_cast<int>(std::lround(b)));
  return text;
}

// Diverging: t in [-1, 1] -> blue, white, red.
std::string diverging(double t) {
  if (!std::isfinite(t)) return "#eeeeee";
  t = std::clamp(t, -1.0, 1.0);
  return t < 0 ? rgb(255 + t * (255 - 49), 255 + t * (255 - 104), 255 + t * (255 - 176))
               : rgb(255 - t * (255 - 200), 255 - t * (255 - 40), 255 - t * (255 - 40));
}

// Sequential: t in [0, 1] -> white to dark green-blue.
std::string sequential(double t) {
  if (!std::isfinite(t)) return "#eeeeee";
  t = std::clamp(t, 0.0, 1.0);
  return rgb(255 - t * (255 - 8), 255 - t * (255 - 64), 255 - t * (255 - 129));
}

std::string html_table(const Table& t, std::size_t max_rows = 50) {
  std::string h = "<table><tr>";
  for (const auto& c : t.header) h += "<th>" + esc(c) + "</th>";
  h += "</tr>";
  for (std::size_t r = 0; r < t.rows.size() && r < max_rows; ++r) {
    h += "<tr>";
    for (const auto& c : t.rows[r]) h += "<td>" + esc(c) + "</td>";
    h += "</tr>";
  }
  h += "</table>";
  if (t.rows.size() > max_rows) h += "<p class=\"note\">first " + std::to_string(max_rows) + " of " + std::to_string(t.rows.size()) + " rows</p>";
  return h;
}

// A heat map: rows x cols values, coloured by color(value); labels every label_step columns.
struct Heatmap {
  std::string id, title, x_label, y_label, legend_low, legend_high;
  std::vector<std::string> row_names, col_names;
  std::vector<double> values;  // rows x cols
  std::function<std::string(double)> color;
  std::function<std::string(double)> legend_color;  // over t in [0, 1] for the legend bar
  double cell_w = 14, cell_h = 16;
  std::size_t label_step = 1;
  bool numbers = false;
};

std::string heatmap_svg(const Heatmap& m) {
  const double left = 90, top = 44, bottom = 70;  // the legend sits under the title
  const double width = left + m.cell_w * static_cast<double>(m.col_names.size()) + 20;
  const double height = top + m.cell_h * static_cast<double>(m.row_names.size()) + bottom;
  std::string s = "<svg id=\"" + m.id + "\" class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                  f("%.0f", std::max(width, 420.0)) + "\" height=\"" + f("%.0f", height) + "\">";
  s += "<text x=\"4\" y=\"16\" class=\"charttitle\">" + esc(m.title) + "</text>";
  for (std::size_t r = 0; r < m.row_names.size(); ++r) {
    const double y = top + m.cell_h * static_cast<double>(r);
    s += "<text x=\"" + f("%.0f", left - 4) + "\" y=\"" + f("%.1f", y + m.cell_h * 0.75) +
         "\" text-anchor=\"end\" class=\"tick\">" + esc(m.row_names[r]) + "</text>";
    for (std::size_t c = 0; c < m.col_names.size(); ++c) {
      const double v = m.values[r * m.col_names.size() + c];
      const double x = left + m.cell_w * static_cast<double>(c);
      s += "<rect x=\"" + f("%.1f", x) + "\" y=\"" + f("%.1f", y) + "\" width=\"" + f("%.1f", m.cell_w) +
           "\" height=\"" + f("%.1f", m.cell_h) + "\" fill=\"" + m.color(v) + "\"><title>" + esc(m.row_names[r]) +
           " / " + esc(m.col_names[c]) + ": " + (std::isfinite(v) ? f("%.3g", v) : std::string("n/a")) + "</title></rect>";
      if (m.numbers && std::isfinite(v))
        s += "<text x=\"" + f("%.1f", x + m.cell_w / 2) + "\" y=\"" + f("%.1f", y + m.cell_h * 0.7) +
             "\" text-anchor=\"middle\" class=\"cell\">" + f("%.2g", v) + "</text>";
    }
  }
  const double axis_y = top + m.cell_h * static_cast<double>(m.row_names.size());
  for (std::size_t c = 0; c < m.col_names.size(); c += m.label_step) {
    const double x = left + m.cell_w * (static_cast<double>(c) + 0.5);
    s += "<text transform=\"translate(" + f("%.1f", x) + "," + f("%.1f", axis_y + 6) +
         ") rotate(60)\" class=\"tick\">" + esc(m.col_names[c]) + "</text>";
  }
  s += "<text x=\"" + f("%.0f", left) + "\" y=\"" + f("%.0f", height - 4) + "\" class=\"axis\">" + esc(m.x_label) + "</text>";
  s += "<text transform=\"translate(12," + f("%.0f", top + m.cell_h * static_cast<double>(m.row_names.size()) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">" + esc(m.y_label) + "</text>";
  // Legend bar.
  const double lx = left + 60, ly = 24;
  for (int i = 0; i < 20; ++i)
    s += "<rect x=\"" + f("%.0f", lx + 6 * i) + "\" y=\"" + f("%.0f", ly) + "\" width=\"6\" height=\"10\" fill=\"" +
         m.legend_color(i / 19.0) + "\"/>";
  s += "<text x=\"" + f("%.0f", lx - 3) + "\" y=\"" + f("%.0f", ly + 9) + "\" text-anchor=\"end\" class=\"tick\">" +
       esc(m.legend_low) + "</text>";
  s += "<text x=\"" + f("%.0f", lx + 123) + "\" y=\"" + f("%.0f", ly + 9) + "\" class=\"tick\">" + esc(m.legend_high) + "</text>";
  return s + "</svg>";
}

// Line chart of several series over x = 1..n.
std::string line_chart(const std::string& id, const std::string& title, const std::string& x_label,
                       const std::string& y_label, const std::vector<std::string>& names,
                       const std::vector<std::vector<double>>& series) {
  const double w = 560, h = 280, left = 78, right = 130, top = 30, bottom = 45;
  double lo = INFINITY, hi = -INFINITY;
  std::size_t n = 0;
  for (const auto& ys : series) {
    n = std::max(n, ys.size());
    for (const double y : ys)
      if (std::isfinite(y)) lo = std::min(lo, y), hi = std::max(hi, y);
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-12) hi = lo + 1;
  const double pad = (hi - lo) * 0.05;
  lo -= pad, hi += pad;
  auto px = [&](std::size_t i) { return left + (n > 1 ? (w - left - right) * static_cast<double>(i) / static_cast<double>(n - 1) : 0); };
  auto py = [&](double y) { return top + (h - top - bottom) * (1 - (y - lo) / (hi - lo)); };
  std::string s = "<svg id=\"" + id + "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + f("%.0f", w) +
                  "\" height=\"" + f("%.0f", h) + "\">";
  s += "<text x=\"4\" y=\"16\" class=\"charttitle\">" + esc(title) + "</text>";
  s += "<line x1=\"" + f("%.0f", left) + "\" y1=\"" + f("%.0f", h - bottom) + "\" x2=\"" + f("%.0f", w - right) +
       "\" y2=\"" + f("%.0f", h - bottom) + "\" class=\"axisline\"/>";
  s += "<line x1=\"" + f("%.0f", left) + "\" y1=\"" + f("%.0f", top) + "\" x2=\"" + f("%.0f", left) + "\" y2=\"" +
       f("%.0f", h - bottom) + "\" class=\"axisline\"/>";
  for (int t = 0; t <= 4; ++t) {
    const double y = lo + (hi - lo) * t / 4;
    s += "<text x=\"" + f("%.0f", left - 4) + "\" y=\"" + f("%.1f", py(y) + 4) + "\" text-anchor=\"end\" class=\"tick\">" +
         f("%.3g", y) + "</text>";
  }
  for (std::size_t i = 0; i < n; i += std::max<std::size_t>(1, n / 10))
    s += "<text x=\"" + f("%.1f", px(i)) + "\" y=\"" + f("%.0f", h - bottom + 14) + "\" text-anchor=\"middle\" class=\"tick\">" +
         std::to_string(i + 1) + "</text>";
  s += "<text x=\"" + f("%.0f", (left + w - right) / 2) + "\" y=\"" + f("%.0f", h - 6) +
       "\" text-anchor=\"middle\" class=\"axis\">" + esc(x_label) + "</text>";
  s += "<text transform=\"translate(14," + f("%.0f", (top + h - bottom) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">" + esc(y_label) + "</text>";
  for (std::size_t k = 0; k < series.size(); ++k) {
    std::string points;
    for (std::size_t i = 0; i < series[k].size(); ++i)
      if (std::isfinite(series[k][i])) points += f("%.1f", px(i)) + "," + f("%.1f", py(series[k][i])) + " ";
    s += "<polyline fill=\"none\" stroke=\"" + segment_color(static_cast<int>(k)) + "\" stroke-width=\"2\" points=\"" +
         points + "\"/>";
    const double ly = top + 16.0 * static_cast<double>(k);
    s += "<rect x=\"" + f("%.0f", w - right + 10) + "\" y=\"" + f("%.0f", ly) + "\" width=\"12\" height=\"4\" fill=\"" +
         segment_color(static_cast<int>(k)) + "\"/><text x=\"" + f("%.0f", w - right + 26) + "\" y=\"" +
         f("%.0f", ly + 6) + "\" class=\"tick\">" + esc(names[k]) + "</text>";
  }
  return s + "</svg>";
}

std::string bar_chart(const std::string& id, const std::string& title, const std::string& x_label,
                      const std::string& y_label, const std::vector<std::string>& names, const std::vector<double>& values) {
  const double w = 520, h = 240, left = 60, top = 30, bottom = 45;
  const double hi = values.empty() ? 1.0 : std::max(1.0, *std::max_element(values.begin(), values.end()));
  const double slot = (w - left - 20) / static_cast<double>(std::max<std::size_t>(values.size(), 1));
  std::string s = "<svg id=\"" + id + "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + f("%.0f", w) +
                  "\" height=\"" + f("%.0f", h) + "\">";
  s += "<text x=\"4\" y=\"16\" class=\"charttitle\">" + esc(title) + "</text>";
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double bh = (h - top - bottom) * values[i] / hi, x = left + slot * static_cast<double>(i);
    s += "<rect x=\"" + f("%.1f", x + slot * 0.1) + "\" y=\"" + f("%.1f", h - bottom - bh) + "\" width=\"" +
         f("%.1f", slot * 0.8) + "\" height=\"" + f("%.1f", bh) + "\" fill=\"" + segment_color(static_cast<int>(i)) +
         "\"><title>" + esc(names[i]) + ": " + f("%.0f", values[i]) + "</title></rect>";
    s += "<text x=\"" + f("%.1f", x + slot / 2) + "\" y=\"" + f("%.1f", h - bottom - bh - 3) +
         "\" text-anchor=\"middle\" class=\"tick\">" + f("%.0f", values[i]) + "</text>";
    s += "<text x=\"" + f("%.1f", x + slot / 2) + "\" y=\"" + f("%.0f", h - bottom + 14) +
         "\" text-anchor=\"middle\" class=\"tick\">" + esc(names[i]) + "</text>";
  }
  s += "<line x1=\"" + f("%.0f", left) + "\" y1=\"" + f("%.0f", h - bottom) + "\" x2=\"" + f("%.0f", w - 20) +
       "\" y2=\"" + f("%.0f", h - bottom) + "\" class=\"axisline\"/>";
  s += "<text x=\"" + f("%.0f", (left + w) / 2) + "\" y=\"" + f("%.0f", h - 6) + "\" text-anchor=\"middle\" class=\"axis\">" +
       esc(x_label) + "</text>";
  s += "<text transform=\"translate(14," + f("%.0f", (top + h - bottom) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">" + esc(y_label) + "</text>";
  return s + "</svg>";
}

// Customers' homes coloured by segment over the store polygons.
std::string map_svg(const PipelineConfig& c, const std::unordered_map<std::string, int>& segment_of, int segments) {
  PolygonReadOptions options;
  options.id_column = c.polygon_id_column;
  options.wkt_column = c.wkt_column;
  options.skip_invalid = true;
  const PolygonSet polygons = read_polygons(c.polygons, options).polygons;
  std::vector<double> hx, hy;
  std::vector<int> hs;
  {
    CsvReader reader(c.customers);
    const auto id = reader.column(c.customer_id_column), x = reader.column(c.home_x_column),
               y = reader.column(c.home_y_column);
    CsvChunk chunk;
    while (reader.next(chunk))
      for (std::size_t r = 0; r < chunk.rows(); ++r) {
        const double lon = chunk.number(r, x), lat = chunk.number(r, y);
        if (!std::isfinite(lon) || !std::isfinite(lat)) continue;
        const auto seg = segment_of.find(std::string(chunk.field(r, id)));
        hx.push_back(lon), hy.push_back(lat), hs.push_back(seg == segment_of.end() ? -1 : seg->second);
      }
  }
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  auto grow = [&](double x, double y) { x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y); };
  for (std::size_t i = 0; i < hx.size(); ++i) grow(hx[i], hy[i]);
  for (std::size_t i = 0; i < polygons.x.size(); ++i) grow(polygons.x[i], polygons.y[i]);
  if (!std::isfinite(x0)) return "<p>no coordinates to map</p>";
  const double aspect = std::cos((y0 + y1) / 2 * 3.14159265358979323846 / 180.0);  // degrees of longitude are shorter
  const double span_x = std::max((x1 - x0) * aspect, 1e-9), span_y = std::max(y1 - y0, 1e-9);
  const double plot = 640, margin = 40, legend = 150;
  const double scale = plot / std::max(span_x, span_y);
  const double w = span_x * scale + 2 * margin + 16 + legend, h = span_y * scale + 2 * margin;
  auto px = [&](double x) { return margin + 16 + (x - x0) * aspect * scale; };
  auto py = [&](double y) { return margin + (y1 - y) * scale; };
  std::string s = "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + f("%.0f", w) + "\" height=\"" +
                  f("%.0f", h) + "\"><rect x=\"0\" y=\"0\" width=\"" + f("%.0f", w - legend) + "\" height=\"" +
                  f("%.0f", h) + "\" fill=\"#fafafa\"/>";
  s += "<text x=\"4\" y=\"16\" class=\"charttitle\">Customers' homes by segment, with the store polygons</text>";
  // Homes first (at most 6000, evenly spaced), then the stores on top.
  const std::size_t step = std::max<std::size_t>(1, hx.size() / 6000);
  s += "<g class=\"homes\">";
  for (std::size_t i = 0; i < hx.size(); i += step)
    s += "<circle cx=\"" + f("%.1f", px(hx[i])) + "\" cy=\"" + f("%.1f", py(hy[i])) + "\" r=\"2\" fill=\"" +
         segment_color(hs[i]) + "\" fill-opacity=\"0.7\"/>";
  s += "</g><g class=\"stores\">";
  for (std::size_t feature = 0; feature < polygons.features(); ++feature) {
    std::string d;
    for (auto p = polygons.feature_polygon_offsets[feature]; p < polygons.feature_polygon_offsets[feature + 1]; ++p)
      for (auto r = polygons.polygon_ring_offsets[p]; r < polygons.polygon_ring_offsets[p + 1]; ++r) {
        for (auto v = polygons.ring_offsets[r]; v < polygons.ring_offsets[r + 1]; ++v)
          d += (v == polygons.ring_offsets[r] ? "M" : "L") + f("%.1f", px(polygons.x[v])) + " " + f("%.1f", py(polygons.y[v]));
        d += "Z";
      }
    s += "<path class=\"store\" d=\"" + d + "\" fill=\"#333333\" fill-opacity=\"0.35\" stroke=\"#000\" stroke-width=\"0.8\" "
         "fill-rule=\"evenodd\"><title>store " + esc(polygons.ids[feature]) + "</title></path>";
  }
  s += "</g>";
  // Axes: longitude and latitude ticks, and the legend.
  for (int t = 0; t <= 4; ++t) {
    const double lon = x0 + (x1 - x0) * t / 4, lat = y0 + (y1 - y0) * t / 4;
    s += "<text x=\"" + f("%.1f", px(lon)) + "\" y=\"" + f("%.0f", h - margin + 16) + "\" text-anchor=\"middle\" class=\"tick\">" +
         f("%.3f", lon) + "</text>";
    s += "<text x=\"" + f("%.0f", margin + 12) + "\" y=\"" + f("%.1f", py(lat)) + "\" text-anchor=\"end\" class=\"tick\">" +
         f("%.3f", lat) + "</text>";
  }
  s += "<text x=\"" + f("%.0f", margin + span_x * scale / 2) + "\" y=\"" + f("%.0f", h - 4) +
       "\" text-anchor=\"middle\" class=\"axis\">longitude</text>";
  s += "<text transform=\"translate(10," + f("%.0f", h / 2) + ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">latitude</text>";
  const double lx = w - legend + 10;
  s += "<text x=\"" + f("%.0f", lx) + "\" y=\"" + f("%.0f", margin) + "\" class=\"axis\">segment</text>";
  for (int k = 0; k < segments; ++k)
    s += "<circle cx=\"" + f("%.0f", lx + 6) + "\" cy=\"" + f("%.0f", margin + 16 + 18 * k) + "\" r=\"5\" fill=\"" +
         segment_color(k) + "\"/><text x=\"" + f("%.0f", lx + 16) + "\" y=\"" + f("%.0f", margin + 20 + 18 * k) +
         "\" class=\"tick\">segment " + std::to_string(k) + "</text>";
  const double sy = margin + 26 + 18.0 * segments;
  s += "<rect x=\"" + f("%.0f", lx) + "\" y=\"" + f("%.0f", sy) + "\" width=\"12\" height=\"10\" fill=\"#333\" "
       "fill-opacity=\"0.35\" stroke=\"#000\"/><text x=\"" + f("%.0f", lx + 16) + "\" y=\"" + f("%.0f", sy + 9) +
       "\" class=\"tick\">store</text>";
  return s + "</svg>";
}

const char* kStyle =
    "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1280px;color:#222;"
    "padding:0 16px}h1{margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}"
    "table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px;"
    "text-align:left}th{background:#f0f0f0}td{font-variant-numeric:tabular-nums}.note{color:#666;font-size:13px}"
    ".charttitle{font-size:14px;font-weight:bold}.tick{font-size:10px;fill:#333}.axis{font-size:12px;fill:#222}"
    ".cell{font-size:9px;fill:#111}.axisline{stroke:#444;stroke-width:1}svg{display:block;margin:8px 0}"
    ".ok{color:#1a7f37;font-weight:bold}.bad{color:#c62828;font-weight:bold}.scroll{overflow-x:auto}";

}  // namespace

void write_report_html(const PipelineConfig& c, const std::string& out, const std::vector<PipelineStageResult>& stages,
                       const GroundTruthScores& truth, Device device) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cohort report</title><style>";
  h += kStyle;
  h += "</style></head><body>\n<h1>cohort report</h1>\n<p class=\"note\">cohort " + esc(COHORT_VERSION) + ", device " +
       esc(device_name(device)) + "; inputs: " + esc(c.points) + ", " + esc(c.polygons) + ", " + esc(c.events) + ", " +
       esc(c.customers) + "</p>\n";

  if (truth.available) {
    h += "<h2 id=\"truth\">Ground truth</h2><table><tr><th>check</th><th>result</th><th>expectation</th></tr>";
    h += "<tr><td>join: stores whose ping count equals the truth</td><td class=\"" +
         std::string(truth.stores_exact == truth.stores.size() ? "ok" : "bad") + "\">" + std::to_string(truth.stores_exact) +
         " of " + std::to_string(truth.stores.size()) + "</td><td>all (exact)</td></tr>";
    h += "<tr><td>segments: k chosen by silhouette</td><td>" + std::to_string(truth.chosen_k) + "</td><td>" +
         std::to_string(truth.true_k) + " latent segments</td></tr>";
    h += "<tr><td>segments: adjusted Rand index vs the latent segments</td><td>" + f("%.3f", truth.segment_ari) +
         "</td><td>1 = identical, 0 = chance</td></tr>";
    h += "<tr><td>look-alikes sharing the query's latent segment</td><td>" + f("%.1f%%", 100 * truth.lookalike_precision) +
         "</td><td>random neighbours: " + f("%.1f%%", 100 * truth.random_precision) + "</td></tr></table>\n";
  }

  h += "<h2 id=\"stages\">Stages</h2><table id=\"stage-table\"><tr><th>stage</th><th>status</th><th>seconds</th><th>result</th></tr>";
  for (const auto& s : stages)
    h += "<tr><td>" + esc(s.name) + "</td><td>" + (s.skipped ? "skipped (unchanged)" : "ran") + "</td><td>" +
         f("%.2f", s.skipped ? s.recorded_seconds : s.seconds) + "</td><td>" + esc(s.detail) + "</td></tr>";
  h += "</table><p class=\"note\">Skipped stages show the time of the run that made their artifacts.</p>\n";

  const Table history = read_table(out + "train/history.csv");
  if (!history.rows.empty()) {
    std::vector<double> train_loss, valid_loss;
    const int tl = history.column("train_loss"), vl = history.column("valid_loss");
    for (const auto& row : history.rows) {
      train_loss.push_back(tl >= 0 ? to_double(row[static_cast<std::size_t>(tl)]) : std::nan(""));
      valid_loss.push_back(vl >= 0 ? to_double(row[static_cast<std::size_t>(vl)]) : std::nan(""));
    }
    h += "<h2 id=\"training\">Training</h2>" +
         line_chart("loss-curves", "Loss per epoch (target: " + c.train_target + ")", "epoch", "loss",
                    {"train loss", "valid loss"}, {train_loss, valid_loss});
  }

  // Segments.
  const Table labels = read_table(out + "segments/labels.csv");
  std::unordered_map<std::string, int> segment_of;
  int segments = 0;
  for (const auto& row : labels.rows) {
    const int s = std::atoi(row[1].c_str());
    segment_of[row[0]] = s;
    segments = std::max(segments, s + 1);
  }
  std::vector<double> sizes(static_cast<std::size_t>(segments), 0.0);
  for (const auto& entry : segment_of) sizes[static_cast<std::size_t>(entry.second)] += 1.0;
  std::vector<std::string> segment_names;
  for (int s = 0; s < segments; ++s) segment_names.push_back(std::to_string(s));
  h += "<h2 id=\"segments\">Segments</h2>" +
       bar_chart("segment-sizes", "Customers per segment", "segment", "customers", segment_names, sizes);
  h += "<h3>Model selection</h3>" + html_table(read_table(out + "segments/model_selection.csv"));
  h += "<h3>Profiles</h3><div class=\"scroll\">" + html_table(read_table(out + "segments/profiles.csv")) + "</div>\n";

  h += "<h2 id=\"map-section\">Map</h2>" + map_svg(c, segment_of, segments) + "\n";

  // Look-alikes: the first few queries.
  const Table lookalikes = read_table(out + "lookalikes.csv");
  h += "<h2 id=\"lookalikes\">Example look-alikes</h2><p class=\"note\">The most similar customers (cosine of category "
       "shares) of a few customers, with each one's segment.</p><table id=\"lookalike-table\"><tr><th>customer</th>"
       "<th>segment</th><th>rank</th><th>look-alike</th><th>segment</th><th>cosine</th></tr>";
  int queries = 0;
  std::string last;
  for (const auto& row : lookalikes.rows) {
    if (row[0] != last) {
      if (++queries > 5) break;
      last = row[0];
    }
    if (std::atoi(row[1].c_str()) > 5) continue;
    auto seg = [&](const std::string& id) {
      const auto it = segment_of.find(id);
      return it == segment_of.end() ? std::string("-") : std::to_string(it->second);
    };
    h += "<tr><td>" + esc(row[0]) + "</td><td>" + seg(row[0]) + "</td><td>" + esc(row[1]) + "</td><td>" + esc(row[2]) +
         "</td><td>" + seg(row[2]) + "</td><td>" + esc(row[3]) + "</td></tr>";
  }
  h += "</table>\n";

  // Question 1: lift.
  h += "<h2 id=\"q1\">1. Which stores and categories draw each segment</h2><p class=\"note\">Lift = visits of the segment "
       "to the store / visits expected if segments and stores were independent; 1 = no preference, 2 = twice as "
       "often. Colours show log2(lift).</p>";
  // A lift table's rows (segment or attribute value) x columns; rows names the heat map's
  // rows, row_of gives a table row's index among them (or -1 to leave it out).
  auto lift_heatmap_of = [&](const Table& t, const std::string& column, const std::string& id, const std::string& title,
                             const std::string& x_label, const std::string& y_label, const std::vector<std::string>& rows,
                             const std::function<int(const std::vector<std::string>&)>& row_of, double cell_w,
                             bool numbers) {
    if (t.rows.empty()) return std::string("<p>no data</p>");
    Heatmap m;
    m.id = id, m.title = title, m.x_label = x_label, m.y_label = y_label;
    std::map<std::string, std::size_t> col_of;
    const int ci = t.column(column), li = t.column("lift"), vi = t.column("visits");
    std::map<std::string, double> totals;
    for (const auto& row : t.rows) {
      const std::string& name = row[static_cast<std::size_t>(ci)];
      if (!totals.count(name)) m.col_names.push_back(name);
      totals[name] += to_double(row[static_cast<std::size_t>(vi)]);
    }
    // Hundreds of columns stay readable; beyond, the most visited ones (the CSV has all).
    constexpr std::size_t kMaxColumns = 300;
    if (m.col_names.size() > kMaxColumns) {
      std::stable_sort(m.col_names.begin(), m.col_names.end(),
                       [&](const std::string& a, const std::string& b) { return totals[a] > totals[b]; });
      m.col_names.resize(kMaxColumns);
      m.title += " (the " + std::to_string(kMaxColumns) + " most visited)";
    }
    for (const auto& name : m.col_names) col_of.emplace(name, col_of.size());
    m.row_names = rows;
    m.values.assign(m.row_names.size() * m.col_names.size(), std::nan(""));
    for (const auto& row : t.rows) {
      const int r = row_of(row);
      const auto col = col_of.find(row[static_cast<std::size_t>(ci)]);
      if (r >= 0 && static_cast<std::size_t>(r) < m.row_names.size() && col != col_of.end())
        m.values[static_cast<std::size_t>(r) * m.col_names.size() + col->second] = to_double(row[static_cast<std::size_t>(li)]);
    }
    m.color = [](double v) { return std::isfinite(v) && v > 0 ? diverging(std::log2(v) / 2) : std::string("#eeeeee"); };
    m.legend_color = [](double x) { return diverging(2 * x - 1); };
    m.legend_low = "lift 1/4", m.legend_high = "lift 4";
    // Wide enough to read with few columns, narrow enough to fit with hundreds.
    m.cell_w = cell_w > 0 ? cell_w : std::clamp(900.0 / static_cast<double>(m.col_names.size()), 5.0, 40.0);
    m.numbers = numbers;
    m.label_step = m.cell_w < 8 ? 10 : 1;
    return "<div class=\"scroll\">" + heatmap_svg(m) + "</div>";
  };
  auto lift_heatmap = [&](const std::string& path, const std::string& column, const std::string& id,
                          const std::string& title, const std::string& x_label, double cell_w, bool numbers) {
    return lift_heatmap_of(read_table(path), column, id, title, x_label, "segment", segment_names,
                           [](const std::vector<std::string>& row) { return std::atoi(row[0].c_str()); }, cell_w, numbers);
  };
  h += lift_heatmap(out + "analysis/segment_store_lift.csv", "store_id", "heatmap-store-lift",
                    "Segment x store lift (in-store pings)", "store", 0, false);
  h += lift_heatmap(out + "analysis/segment_category_lift.csv", "category", "heatmap-category-lift",
                    "Segment x category lift (events)", "category", 44, true);
  if (fs::exists(out + "analysis/segment_store_category_lift.csv"))
    h += lift_heatmap(out + "analysis/segment_store_category_lift.csv", "store_category", "heatmap-store-category-lift",
                      "Segment x store category lift (in-store pings)", "store category", 44, true);
  // Attribute groups: one heat map per attribute, its values as rows (category lift).
  {
    const Table t = read_table(out + "analysis/attribute_category_lift.csv");
    std::vector<std::string> attributes;
    std::map<std::string, std::vector<std::string>> values;
    for (const auto& row : t.rows) {
      auto& list = values[row[0]];
      if (list.empty()) attributes.push_back(row[0]);
      if (std::find(list.begin(), list.end(), row[1]) == list.end()) list.push_back(row[1]);
    }
    if (!attributes.empty())
      h += "<p class=\"note\">The same question for customer attributes: lift of each attribute value for each "
           "category, expected counts computed within the attribute.</p>";
    for (std::size_t a = 0; a < attributes.size(); ++a) {
      const auto& rows = values[attributes[a]];
      h += lift_heatmap_of(t, "category", "heatmap-attribute-lift-" + std::to_string(a),
                           attributes[a] + " x category lift (events)", "category", attributes[a], rows,
                           [&](const std::vector<std::string>& row) {
                             if (row[0] != attributes[a]) return -1;
                             return static_cast<int>(std::find(rows.begin(), rows.end(), row[1]) - rows.begin());
                           },
                           44, true);
    }
  }
  {
    const Table t = read_table(out + "analysis/category_covariance.csv");
    if (!t.rows.empty()) {
      Heatmap m;
      m.id = "heatmap-correlation", m.title = "Correlation across customers of category shares";
      m.x_label = "category", m.y_label = "category";
      std::map<std::string, std::size_t> index;
      for (const auto& row : t.rows)
        if (!index.count(row[0])) index[row[0]] = m.row_names.size(), m.row_names.push_back(row[0]);
      m.col_names = m.row_names;
      m.values.assign(m.row_names.size() * m.row_names.size(), std::nan(""));
      for (const auto& row : t.rows) m.values[index[row[0]] * m.row_names.size() + index[row[1]]] = to_double(row[3]);
      m.color = [](double v) { return diverging(v); };
      m.legend_color = [](double v) { return diverging(2 * v - 1); };
      m.legend_low = "-1", m.legend_high = "+1";
      m.cell_w = 44, m.cell_h = 18, m.numbers = true;
      h += "<div class=\"scroll\">" + heatmap_svg(m) + "</div>";
    }
  }

  // Question 2: consistency.
  h += "<h2 id=\"q2\">2. How consistent is each segment</h2><p class=\"note\">mean_distance: mean Euclidean distance of the "
       "members' category-share vectors to the segment's mean (0 = all alike); entropies in bits (higher = interests "
       "spread over more categories).</p>" +
       html_table(read_table(out + "analysis/segment_consistency.csv")) + "\n";

  // Question 3: seasonality.
  h += "<h2 id=\"q3\">3. When do they come: visits by hour of week</h2><p class=\"note\">Hour of week in local time (UTC" +
       f("%+g", c.utc_offset_hours) + "), Monday 00:00 first. Colour: share of the row's visits, scaled to the row's busiest hour.</p>";
  auto season_heatmap = [&](const std::string& path, const std::string& id, const std::string& title,
                            const std::string& y_label, std::size_t max_rows, bool busiest_first) {
    const Table t = read_table(path);
    if (t.rows.empty()) return std::string("<p>no data</p>");
    Heatmap m;
    m.id = id, m.title = title, m.x_label = "hour of week (local time)", m.y_label = y_label;
    static const char* days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    for (int hour = 0; hour < 168; ++hour) m.col_names.push_back(std::string(days[hour / 24]) + " " + f("%02.0f", hour % 24) + "h");
    std::vector<const std::vector<std::string>*> rows;
    for (const auto& row : t.rows) rows.push_back(&row);
    if (busiest_first)
      std::stable_sort(rows.begin(), rows.end(), [](const auto* a, const auto* b) { return to_double((*a)[1]) > to_double((*b)[1]); });
    if (rows.size() > max_rows) rows.resize(max_rows);
    for (const auto* row : rows) {
      m.row_names.push_back((*row)[0]);
      double peak = 0;
      for (int hour = 0; hour < 168; ++hour) peak = std::max(peak, to_double((*row)[4 + static_cast<std::size_t>(hour)]));
      for (int hour = 0; hour < 168; ++hour) m.values.push_back(peak > 0 ? to_double((*row)[4 + static_cast<std::size_t>(hour)]) / peak : 0.0);
    }
    m.color = sequential, m.legend_color = sequential;
    m.legend_low = "0", m.legend_high = "row's peak";
    m.cell_w = 5, m.cell_h = 14, m.label_step = 12;
    return "<div class=\"scroll\">" + heatmap_svg(m) + "</div>";
  };
  h += season_heatmap(out + "analysis/seasonality_segment.csv", "heatmap-season-segment",
                      "Visits by hour of week, per segment", "segment", 100, false);
  h += season_heatmap(out + "analysis/seasonality_store.csv", "heatmap-season-store",
                      "Visits by hour of week, the 25 busiest stores", "store", 25, true);
  Table peaks = read_table(out + "analysis/peak_hours.csv");
  Table segment_peaks;
  segment_peaks.header = peaks.header;
  for (const auto& row : peaks.rows)
    if (row[0] == "segment") segment_peaks.rows.push_back(row);
  h += "<h3>Peak hours per segment</h3>" + html_table(segment_peaks) +
       "<p class=\"note\">Per store: analysis/peak_hours.csv.</p>\n";
  h += "<p class=\"note\">Artifacts: manifest.json, visits.csv, matrix/, user_vectors.npy, segments/, lookalikes.csv, "
       "analysis/*.csv.</p></body></html>\n";
  write_text_file(out + "report.html", h);
}

}  // namespace cohort::detail
