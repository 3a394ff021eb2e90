/*
 * segment_profile.cpp: per-segment profiles, optionally joined with a `cohort matrix`
 * output directory.
 *
 *   size, share            from the labels
 *   <event> total, per user  row sums of DIR/<event>.mtx (count matrices: a stem with no
 *                          further '.', e.g. view.mtx but not view.sum.mtx), over the
 *                          segment's users found in DIR/users.txt
 *   conversion             total of the purchase-like event / total of the view-like
 *                          event (names containing "purchase"/"buy"/"order" and "view")
 *   top items by lift      (segment's count of item / segment's total) /
 *                          (population's count of item / population's total), counts
 *                          summed over all events, population = every labelled user
 *                          found in the matrix; only items with >= min_item_count
 *                          interactions in the segment; ties to the earlier item
 *   attribute modes        DIR/attributes.csv (user_id + columns): most common value per
 *                          column among the segment's users (ties to the smaller value)
 *                          and its share of them
 */
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <unordered_map>

#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/segment.hpp"
#include "cohort/sparse.hpp"

namespace cohort {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

std::vector<std::string> count_matrix_stems(const std::string& dir) {
  std::vector<std::string> stems;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".mtx") continue;
    const std::string stem = name.substr(0, name.size() - 4);
    if (stem.find('.') != std::string::npos || stem == "conversion") continue;
    stems.push_back(stem);
  }
  std::sort(stems.begin(), stems.end());
  return stems;
}

std::string format_number(double value, int precision = 3) {
  if (std::isnan(value)) return "";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", precision, value);
  return buffer;
}

}  // namespace

SegmentProfiles profile_segments(const std::vector<std::string>& ids, const std::vector<std::int32_t>& labels,
                                 int k, const std::string& matrix_dir, const ProfileOptions& options) {
  COHORT_EXPECTS(ids.size() == labels.size(), "ids (" + std::to_string(ids.size()) + ") and labels (" +
                                                  std::to_string(labels.size()) + ") differ in length");
  SegmentProfiles profiles;
  profiles.segments.resize(k);
  for (int s = 0; s < k; ++s) profiles.segments[s].segment = s;
  for (const auto label : labels) {
    COHORT_EXPECTS(label >= 0 && label < k, "label outside [0, k)");
    ++profiles.segments[label].size;
  }
  for (auto& p : profiles.segments)
    p.share = labels.empty() ? 0.0 : static_cast<double>(p.size) / static_cast<double>(labels.size());
  if (matrix_dir.empty()) return profiles;

  COHORT_EXPECTS(fs::is_directory(matrix_dir), matrix_dir + ": not a directory (expected a `cohort matrix` output)");
  const auto users = read_lines(matrix_dir + "/users.txt");
  const auto items = read_lines(matrix_dir + "/items.txt");
  std::unordered_map<std::string, std::int64_t> user_row;
  for (std::size_t u = 0; u < users.size(); ++u) user_row.emplace(users[u], static_cast<std::int64_t>(u));
  // Matrix row -> segment (-1: not labelled).
  std::vector<std::int32_t> segment_of(users.size(), -1);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto it = user_row.find(ids[i]);
    if (it == user_row.end()) continue;
    segment_of[it->second] = labels[i];
    ++profiles.segments[labels[i]].matched_users;
  }

  profiles.events = count_matrix_stems(matrix_dir);
  const std::size_t events = profiles.events.size();
  std::vector<double> population_items(items.size(), 0.0);
  std::vector<std::vector<double>> segment_items(k, std::vector<double>(items.size(), 0.0));
  for (auto& p : profiles.segments) p.event_totals.assign(events, 0.0);
  for (std::size_t e = 0; e < events; ++e) {
    const std::string path = matrix_dir + "/" + profiles.events[e] + ".mtx";
    const Csr m = read_mtx(path);
    if (m.rows != static_cast<std::int64_t>(users.size()) || m.cols != static_cast<std::int64_t>(items.size()))
      throw InvalidInput(path, 0, "is " + std::to_string(m.rows) + " x " + std::to_string(m.cols) +
                                      " but users.txt and items.txt give " + std::to_string(users.size()) + " x " +
                                      std::to_string(items.size()));
    for (std::int64_t r = 0; r < m.rows; ++r) {
      const std::int32_t s = segment_of[r];
      if (s < 0) continue;
      for (std::int64_t at = m.indptr[r]; at < m.indptr[r + 1]; ++at) {
        profiles.segments[s].event_totals[e] += m.values[at];
        segment_items[s][m.indices[at]] += m.values[at];
        population_items[m.indices[at]] += m.values[at];
      }
    }
  }
  // Conversion: the purchase-like over the view-like event.
  int view = -1, purchase = -1;
  for (std::size_t e = 0; e < events; ++e) {
    const std::string& name = profiles.events[e];
    if (view < 0 && contains(name, "view")) view = static_cast<int>(e);
    if (purchase < 0 && (contains(name, "purchase") || contains(name, "buy") || contains(name, "order")))
      purchase = static_cast<int>(e);
  }
  profiles.has_conversion = view >= 0 && purchase >= 0;
  if (profiles.has_conversion) profiles.conversion_label = profiles.events[purchase] + "/" + profiles.events[view];

  double population_total = 0.0;
  for (double v : population_items) population_total += v;
  for (int s = 0; s < k; ++s) {
    auto& p = profiles.segments[s];
    const double members = static_cast<double>(p.matched_users);
    for (std::size_t e = 0; e < events; ++e)
      p.event_per_user.push_back(members > 0 ? p.event_totals[e] / members : 0.0);
    p.conversion = std::numeric_limits<double>::quiet_NaN();
    if (profiles.has_conversion && p.event_totals[view] > 0)
      p.conversion = p.event_totals[purchase] / p.event_totals[view];
    double segment_total = 0.0;
    for (double v : segment_items[s]) segment_total += v;
    std::vector<std::pair<double, std::size_t>> ranked;
    for (std::size_t j = 0; j < items.size(); ++j) {
      const double count = segment_items[s][j];
      if (count < options.min_item_count || count <= 0.0) continue;
      const double lift = (count / segment_total) / (population_items[j] / population_total);
      ranked.emplace_back(lift, j);
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    for (std::size_t t = 0; t < ranked.size() && static_cast<int>(t) < options.top_items; ++t)
      p.top_items.emplace_back(items[ranked[t].second], ranked[t].first);
  }

  const std::string attributes_path = matrix_dir + "/attributes.csv";
  if (fs::exists(attributes_path)) {
    CsvReader reader(attributes_path);
    const auto& header = reader.header();
    COHORT_EXPECTS(!header.empty(), attributes_path + ": no header");
    const std::size_t id_column = reader.find_column("user_id").value_or(0);
    std::vector<std::size_t> columns;
    for (std::size_t c = 0; c < header.size(); ++c)
      if (c != id_column) {
        columns.push_back(c);
        profiles.attributes.push_back(header[c]);
      }
    // counts[segment][attribute][value]
    std::vector<std::vector<std::map<std::string, std::size_t>>> counts(
        k, std::vector<std::map<std::string, std::size_t>>(columns.size()));
    std::vector<std::size_t> seen(k, 0);
    CsvChunk chunk;
    while (reader.next(chunk)) {
      for (std::size_t r = 0; r < chunk.rows(); ++r) {
        const auto it = user_row.find(std::string(chunk.field(r, id_column)));
        if (it == user_row.end() || segment_of[it->second] < 0) continue;
        const int s = segment_of[it->second];
        ++seen[s];
        for (std::size_t a = 0; a < columns.size(); ++a) ++counts[s][a][std::string(chunk.field(r, columns[a]))];
      }
    }
    for (int s = 0; s < k; ++s)
      for (std::size_t a = 0; a < columns.size(); ++a) {
        std::pair<std::string, double> mode{"", 0.0};
        std::size_t best = 0;
        for (const auto& [value, count] : counts[s][a])  // map order: ties keep the smaller value
          if (count > best) {
            best = count;
            mode.first = value;
          }
        mode.second = seen[s] ? static_cast<double>(best) / static_cast<double>(seen[s]) : 0.0;
        profiles.segments[s].attribute_modes.push_back(mode);
      }
  }
  return profiles;
}

void write_profiles_csv(const std::string& path, const SegmentProfiles& profiles) {
  AtomicFile out(path);
  std::string line = "segment,size,share";
  const bool joined = !profiles.events.empty() || !profiles.attributes.empty();
  if (joined) line += ",matched_users";
  for (const auto& e : profiles.events) line += "," + csv_escape(e + "_total") + "," + csv_escape(e + "_per_user");
  if (profiles.has_conversion) line += ",conversion";
  if (!profiles.events.empty()) line += ",top_items";
  for (const auto& a : profiles.attributes) line += "," + csv_escape(a + "_mode") + "," + csv_escape(a + "_mode_share");
  out.write(line + "\n");
  for (const auto& p : profiles.segments) {
    line = std::to_string(p.segment) + "," + std::to_string(p.size) + "," + format_number(p.share, 6);
    if (joined) line += "," + std::to_string(p.matched_users);
    for (std::size_t e = 0; e < profiles.events.size(); ++e)
      line += "," + format_number(p.event_totals[e], 0) + "," + format_number(p.event_per_user[e], 6);
    if (profiles.has_conversion) line += "," + format_number(p.conversion, 6);
    if (!profiles.events.empty()) {
      std::string top;  // "item:lift;item:lift"
      for (const auto& [item, lift] : p.top_items) top += (top.empty() ? "" : ";") + item + ":" + format_number(lift, 3);
      line += "," + csv_escape(top);
    }
    for (const auto& [value, share] : p.attribute_modes) line += "," + csv_escape(value) + "," + format_number(share, 6);
    out.write(line + "\n");
  }
  out.commit();
}

std::string format_profiles(const SegmentProfiles& profiles) {
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> head = {"segment", "size", "share"};
  for (const auto& e : profiles.events) head.push_back(e + "/user");
  if (profiles.has_conversion) head.push_back("conversion");
  if (!profiles.events.empty()) head.push_back("top items (lift)");
  for (const auto& a : profiles.attributes) head.push_back(a);
  table.push_back(head);
  for (const auto& p : profiles.segments) {
    std::vector<std::string> row = {std::to_string(p.segment), std::to_string(p.size),
                                    format_number(100.0 * p.share, 1) + "%"};
    for (std::size_t e = 0; e < profiles.events.size(); ++e) row.push_back(format_number(p.event_per_user[e], 2));
    if (profiles.has_conversion) row.push_back(std::isnan(p.conversion) ? "-" : format_number(100.0 * p.conversion, 1) + "%");
    if (!profiles.events.empty()) {
      std::string top;
      for (const auto& [item, lift] : p.top_items) top += (top.empty() ? "" : ", ") + item + " (" + format_number(lift, 1) + ")";
      row.push_back(top.empty() ? "-" : top);
    }
    for (const auto& [value, share] : p.attribute_modes)
      row.push_back(value + " " + format_number(100.0 * share, 0) + "%");
    table.push_back(row);
  }
  std::vector<std::size_t> width(head.size(), 0);
  for (const auto& row : table)
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string text;
  for (std::size_t r = 0; r < table.size(); ++r) {
    for (std::size_t c = 0; c < table[r].size(); ++c) {
      text += table[r][c];
      if (c + 1 < table[r].size()) text += std::string(width[c] - table[r][c].size() + 2, ' ');
    }
    text += "\n";
    if (r == 0) {
      std::size_t total = 0;
      for (auto w : width) total += w + 2;
      text += std::string(total - 2, '-') + "\n";
    }
  }
  return text;
}

}  // namespace cohort
