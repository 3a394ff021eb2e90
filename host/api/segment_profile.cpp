/*
 * segment_profile.cpp: per-segment profiles, optionally joined with a `cohort matrix`
 * output directory.
 *
 *   size, share            from the labels
 *   <event> total, per user  row sums of DIR/<event>.mtx (count matrices: a stem with no
 *                          further '.', e.g. view.mtx but not view.sum.mtx), over the
 *                          segment's users found in DIR/users.txt
 *   conversion             total of the numerator event / total of the denominator
 *                          event, named in ProfileOptions (file stem or raw name from
 *                          events.txt); else guessed: the purchase-like over the
 *                          view-like event (names containing "purchase"/"buy"/"order"
 *                          and "view")
 *   top items by lift      (segment's count of item / segment's total) /
 *                          (population's count of item / population's total), counts
 *                          summed over all events, population = every labelled user
 *                          found in the matrix; only items with >= min_item_count
 *                          interactions in the segment; ties to the earlier item
 *   attributes             DIR/attributes.csv (user_id + columns), over the labelled
 *                          users found in it: per column and value, the segment's users
 *                          with it, their share of the segment, the value's share of the
 *                          population and the lift (their ratio); and the mode (most
 *                          common value, ties to the smaller value in byte order)
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
#include "cohort/matrix.hpp"
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

// Index in stems of the event named by its stem or by its raw name in DIR/events.txt.
int find_event(const std::string& name, const std::vector<std::string>& stems, const std::string& dir) {
  for (std::size_t e = 0; e < stems.size(); ++e)
    if (stems[e] == name) return static_cast<int>(e);
  if (fs::exists(dir + "/events.txt")) {
    MatrixResult names;
    names.has_event = true;
    names.events = read_lines(dir + "/events.txt");
    const auto file_stems = event_file_stems(names);
    for (std::size_t e = 0; e < names.events.size(); ++e)
      if (names.events[e] == name)
        for (std::size_t i = 0; i < stems.size(); ++i)
          if (stems[i] == file_stems[e]) return static_cast<int>(i);
  }
  std::string known;
  for (const auto& stem : stems) known += (known.empty() ? "'" : ", '") + stem + "'";
  throw InvalidInput(dir, 0, "conversion: no event '" + name + "' (event stems: " + known + ")");
}

std::string format_number(double value, int precision = 3) {
  if (std::isnan(value)) return "";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", precision, value);
  return buffer;
}

// Shares and lifts of rare values stay readable: significant digits, not decimals.
std::string format_general(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

bool names_conversion(const ProfileOptions& options) {
  return !options.conversion_numerator.empty() || !options.conversion_denominator.empty();
}

// (numerator, denominator) indices in stems: the named events, else the purchase-like
// over the view-like event; -1 where none.
std::pair<int, int> conversion_events(const std::vector<std::string>& stems, const std::string& dir,
                                      const ProfileOptions& options) {
  int purchase = -1, view = -1;
  if (names_conversion(options)) {
    purchase = find_event(options.conversion_numerator, stems, dir);
    view = find_event(options.conversion_denominator, stems, dir);
  }
  for (std::size_t e = 0; e < stems.size() && (view < 0 || purchase < 0); ++e) {
    const std::string& name = stems[e];
    if (view < 0 && contains(name, "view")) view = static_cast<int>(e);
    if (purchase < 0 && (contains(name, "purchase") || contains(name, "buy") || contains(name, "order")))
      purchase = static_cast<int>(e);
  }
  return {purchase, view};
}

}  // namespace

void check_profile_options(const std::string& matrix_dir, const ProfileOptions& options) {
  COHORT_EXPECTS(!names_conversion(options) || !matrix_dir.empty(), "conversion events need a matrix directory (--matrix)");
  COHORT_EXPECTS(options.attributes_csv.empty() || !matrix_dir.empty(),
                 "an attribute table needs a matrix directory (its users.txt matches the ids)");
  if (matrix_dir.empty()) return;
  COHORT_EXPECTS(fs::is_directory(matrix_dir), matrix_dir + ": not a directory (expected a `cohort matrix` output)");
  if (names_conversion(options)) conversion_events(count_matrix_stems(matrix_dir), matrix_dir, options);
}

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
  check_profile_options(matrix_dir, options);
  if (matrix_dir.empty()) return profiles;

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
  const auto [purchase, view] = conversion_events(profiles.events, matrix_dir, options);
  profiles.has_conversion = view >= 0 && purchase >= 0;
  if (profiles.has_conversion) profiles.conversion_label = profiles.events[purchase] + "/" + profiles.events[view];

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

  const bool own_table = !options.attributes_csv.empty();
  const std::string attributes_path = own_table ? options.attributes_csv : matrix_dir + "/attributes.csv";
  if (own_table || fs::exists(attributes_path)) {
    CsvReader reader(attributes_path);
    const auto& header = reader.header();
    COHORT_EXPECTS(!header.empty(), attributes_path + ": no header");
    const std::string id_name = options.attributes_id_column.empty() ? "user_id" : options.attributes_id_column;
    const std::size_t id_column =
        options.attributes_id_column.empty() ? reader.find_column(id_name).value_or(0) : reader.column(id_name);
    std::vector<std::size_t> columns;
    if (options.attribute_columns.empty()) {
      for (std::size_t c = 0; c < header.size(); ++c)
        if (c != id_column) columns.push_back(c);
    } else {
      for (const auto& name : options.attribute_columns) columns.push_back(reader.column(name));
    }
    for (const std::size_t c : columns) profiles.attributes.push_back(header[c]);
    // Per column: value -> id in first-seen order, and the users per (id, segment) pair,
    // kept sparse (at most one pair per user) since values may be as many as users.
    const auto kk = static_cast<std::uint64_t>(k);
    std::vector<std::unordered_map<std::string, std::uint64_t>> dictionary(columns.size());
    std::vector<std::vector<std::string>> values(columns.size());
    std::vector<std::unordered_map<std::uint64_t, std::size_t>> counts(columns.size());  // key id * k + segment
    std::vector<std::size_t> seen(k, 0);
    std::size_t population = 0;
    std::string key;
    CsvChunk chunk;
    while (reader.next(chunk)) {
      for (std::size_t r = 0; r < chunk.rows(); ++r) {
        key.assign(chunk.field(r, id_column));
        const auto it = user_row.find(key);
        if (it == user_row.end() || segment_of[it->second] < 0) continue;
        const auto s = static_cast<std::uint64_t>(segment_of[it->second]);
        ++seen[s];
        ++population;
        for (std::size_t a = 0; a < columns.size(); ++a) {
          key.assign(chunk.field(r, columns[a]));
          const auto at = dictionary[a].try_emplace(key, values[a].size()).first;
          if (at->second == values[a].size()) values[a].push_back(key);
          ++counts[a][at->second * kk + s];
        }
      }
    }
    for (auto& p : profiles.segments) p.attribute_values.resize(columns.size());
    for (std::size_t a = 0; a < columns.size(); ++a) {
      // rank[id]: the value's place in byte order (std::string compares as unsigned bytes).
      std::vector<std::uint64_t> order(values[a].size()), rank(values[a].size());
      for (std::size_t v = 0; v < order.size(); ++v) order[v] = v;
      std::sort(order.begin(), order.end(), [&](std::uint64_t x, std::uint64_t y) { return values[a][x] < values[a][y]; });
      for (std::size_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
      std::vector<std::size_t> everyone(values[a].size(), 0);
      std::vector<std::pair<std::uint64_t, std::size_t>> cells;  // (segment, rank), users
      cells.reserve(counts[a].size());
      for (const auto& [cell, n] : counts[a]) {
        everyone[cell / kk] += n;
        cells.emplace_back((cell % kk) * values[a].size() + rank[cell / kk], n);
      }
      std::sort(cells.begin(), cells.end());
      for (const auto& [cell, n] : cells) {
        const std::size_t s = cell / values[a].size();
        const std::uint64_t v = order[cell % values[a].size()];
        AttributeValueShare share;
        share.value = values[a][v];
        share.users = n;
        share.share_in_segment = static_cast<double>(n) / static_cast<double>(seen[s]);
        share.share_in_population = static_cast<double>(everyone[v]) / static_cast<double>(population);
        share.lift = share.share_in_segment / share.share_in_population;
        profiles.segments[s].attribute_values[a].push_back(std::move(share));
      }
      for (int s = 0; s < k; ++s) {  // the mode: in byte order, ties keep the smaller value
        std::pair<std::string, double> mode{"", 0.0};
        std::size_t best = 0;
        for (const auto& v : profiles.segments[s].attribute_values[a])
          if (v.users > best) {
            best = v.users;
            mode = {v.value, v.share_in_segment};
          }
        profiles.segments[s].attribute_modes.push_back(mode);
      }
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

void write_attribute_profiles_csv(const std::string& path, const SegmentProfiles& profiles) {
  AtomicFile out(path);
  out.write("segment,attribute,value,users,share_in_segment,share_in_population,lift\n");
  std::string line;
  for (const auto& p : profiles.segments)
    for (std::size_t a = 0; a < p.attribute_values.size(); ++a)
      for (const auto& v : p.attribute_values[a]) {
        line = std::to_string(p.segment) + "," + csv_escape(profiles.attributes[a]) + "," + csv_escape(v.value) + "," +
               std::to_string(v.users) + "," + format_general(v.share_in_segment) + "," +
               format_general(v.share_in_population) + "," + format_general(v.lift) + "\n";
        out.write(line);
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
