/*
 * pipeline_analysis.cpp: the analyst's three questions, answered from the artifacts
 * into DIR/analysis/ (every file CSV, written atomically):
 *
 * (1) attraction
 *   segment_store_lift.csv     segment,store_id,visits,expected,lift: in-store pings of the
 *                              segment's users at the store; expected = row total x column
 *                              total / all visits (independence); lift = visits / expected
 *   segment_category_lift.csv  segment,category,visits,expected,lift: the same over the
 *                              event matrix (all event types; "visits" = interactions)
 *   segment_store_category_lift.csv  segment,store_category,visits,expected,lift: the store
 *                              visits summed by the stores' category (when the config names
 *                              the polygons' category column and the polygons are CSV)
 *   attribute_store_lift.csv, attribute_category_lift.csv  attribute,value,store_id|category,
 *                              visits,expected,lift: the same with users grouped by each of
 *                              the customers table's attribute columns (config
 *                              steps.analysis.attribute_columns); expected within each attribute
 *   category_covariance.csv    category_a,category_b,covariance,correlation of users'
 *                              category shares (user_vectors.npy), sample covariance (n - 1)
 * (2) consistency
 *   segment_consistency.csv    segment,members,mean_distance,mean_entropy_bits,
 *                              entropy_of_mean_bits,top_category,top_share: mean Euclidean
 *                              distance of members' share vectors to the segment's mean
 *                              share vector (0 = all alike), mean Shannon entropy of the
 *                              members' shares and the entropy of the mean
 * (3) seasonality (hour of week: 0 = Monday 00:00 local, see pipeline.hpp)
 *   seasonality_store.csv      store_id,visits,peak_hour,peak_label,h000..h167
 *   seasonality_segment.csv    segment,visits,peak_hour,peak_label,h000..h167
 *   peak_hours.csv             kind,id,rank,hour_of_week,label,visits,share: the 3 busiest
 *                              hours of each store and segment
 * A visit is one (point, store) pair of visits.csv; its user and time come from the
 * points file (CSV; the tables that need a user or time column are left out, with a
 * warning, when the config names none); users without a segment count for the stores
 * but no segment.
 */
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>
#include <unordered_map>

#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/npy.hpp"
#include "cohort/progress.hpp"
#include "host/api/pipeline_internal.hpp"

namespace cohort::detail {
namespace {

namespace fs = std::filesystem;

constexpr int kHours = 168;

std::string num(double x) {
  if (!std::isfinite(x)) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", x);
  return text;
}

double entropy_bits(const float* p, std::size_t n) {
  double h = 0.0;
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] > 0) h -= static_cast<double>(p[i]) * std::log2(static_cast<double>(p[i]));
  return h;
}

// Writes the lift rows of one grouping (rows x names counts) in long form; each row's
// line starts with its prefix (e.g. "3" or "gender,F"). Expected counts assume the
// grouping and the columns independent: row total x column total / all visits.
void write_lift_rows(AtomicFile& file, const std::vector<std::string>& row_prefixes, const std::vector<std::string>& names,
                     const std::vector<double>& counts) {
  const std::size_t rows = row_prefixes.size(), cols = names.size();
  std::vector<double> row_totals(rows, 0.0), col_totals(cols, 0.0);
  double total = 0.0;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < cols; ++j) {
      const double v = counts[r * cols + j];
      row_totals[r] += v;
      col_totals[j] += v;
      total += v;
    }
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < cols; ++j) {
      const double v = counts[r * cols + j];
      const double expected = total > 0 ? row_totals[r] * col_totals[j] / total : 0.0;
      file.write(row_prefixes[r] + "," + csv_escape(names[j]) + "," + num(v) + "," + num(expected) + "," +
                 (expected > 0 ? num(v / expected) : std::string()) + "\n");
    }
}

void write_lift(const std::string& path, const char* column, const std::vector<std::string>& names,
                const std::vector<double>& counts, int segments) {
  std::vector<std::string> prefixes;
  for (int s = 0; s < segments; ++s) prefixes.push_back(std::to_string(s));
  AtomicFile file(path);
  file.write(std::string("segment,") + column + ",visits,expected,lift\n");
  write_lift_rows(file, prefixes, names, counts);
  file.commit();
}

// Customers grouped by the values of one attribute column (values in byte order).
struct AttributeGroups {
  std::string attribute;
  std::vector<std::string> values;
  std::vector<int> group_of_customer;  // by row of the customers table
};

// Users -> customers-table row, and one grouping per attribute column.
struct Attributes {
  std::unordered_map<std::string, std::size_t> customer_of;
  std::vector<AttributeGroups> groups;

  static Attributes read(const PipelineConfig& c) {
    Attributes a;
    if (c.attribute_columns.empty()) return a;
    std::vector<std::string> columns{c.customer_id_column};
    columns.insert(columns.end(), c.attribute_columns.begin(), c.attribute_columns.end());
    const auto table = read_csv_columns(c.customers, columns);
    for (std::size_t i = 0; i < table[0].size(); ++i) a.customer_of.emplace(table[0][i], i);
    for (std::size_t k = 0; k < c.attribute_columns.size(); ++k) {
      AttributeGroups g;
      g.attribute = c.attribute_columns[k];
      std::map<std::string, int> index;
      for (const auto& value : table[k + 1]) index.emplace(value, 0);
      for (auto& entry : index) entry.second = static_cast<int>(g.values.size()), g.values.push_back(entry.first);
      for (const auto& value : table[k + 1]) g.group_of_customer.push_back(index[value]);
      a.groups.push_back(std::move(g));
    }
    return a;
  }
  // Groups x columns count tables, one per attribute, zeroed.
  std::vector<std::vector<double>> zero_counts(std::size_t columns) const {
    std::vector<std::vector<double>> counts;
    for (const auto& g : groups) counts.emplace_back(g.values.size() * columns, 0.0);
    return counts;
  }
  // Adds weight to (the user's group, column) in every attribute's table.
  void add(std::vector<std::vector<double>>& counts, const std::string& user, std::size_t column, std::size_t columns,
           double weight) const {
    const auto it = customer_of.find(user);
    if (it == customer_of.end()) return;
    for (std::size_t k = 0; k < groups.size(); ++k)
      counts[k][static_cast<std::size_t>(groups[k].group_of_customer[it->second]) * columns + column] += weight;
  }
  void write(const std::string& path, const char* column, const std::vector<std::string>& names,
             const std::vector<std::vector<double>>& counts) const {
    AtomicFile file(path);
    file.write(std::string("attribute,value,") + column + ",visits,expected,lift\n");
    for (std::size_t k = 0; k < groups.size(); ++k) {
      std::vector<std::string> prefixes;
      for (const auto& value : groups[k].values) prefixes.push_back(csv_escape(groups[k].attribute) + "," + csv_escape(value));
      write_lift_rows(file, prefixes, names, counts[k]);
    }
    file.commit();
  }
};

void write_seasonality(const std::string& path, const char* column, const std::vector<std::string>& names,
                       const std::vector<double>& hours, const char* kind, std::string& peaks) {
  AtomicFile file(path);
  file.write(std::string(column) + ",visits,peak_hour,peak_label");
  for (int h = 0; h < kHours; ++h) {
    char text[8];
    std::snprintf(text, sizeof text, ",h%03d", h);
    file.write(text);
  }
  file.write("\n");
  for (std::size_t r = 0; r < names.size(); ++r) {
    const double* row = hours.data() + r * kHours;
    const double total = std::accumulate(row, row + kHours, 0.0);
    std::vector<int> order(kHours);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return row[a] > row[b]; });
    const bool any = total > 0;
    file.write(csv_escape(names[r]) + "," + num(total) + "," + (any ? std::to_string(order[0]) : "") + "," +
               (any ? hour_of_week_label(order[0]) : ""));
    for (int h = 0; h < kHours; ++h) file.write("," + num(row[h]));
    file.write("\n");
    for (int rank = 0; any && rank < 3; ++rank)
      peaks += std::string(kind) + "," + csv_escape(names[r]) + "," + std::to_string(rank + 1) + "," +
               std::to_string(order[static_cast<std::size_t>(rank)]) + "," +
               hour_of_week_label(order[static_cast<std::size_t>(rank)]) + "," + num(row[order[static_cast<std::size_t>(rank)]]) +
               "," + num(row[order[static_cast<std::size_t>(rank)]] / total) + "\n";
  }
  file.commit();
}

}  // namespace

std::string stage_analysis(const PipelineConfig& c, const std::string& out) {
  const std::string dir = out + "analysis/";
  ensure_directory(dir);

  // Segments.
  const auto labels = read_csv_columns(out + "segments/labels.csv", {"id", "segment"});
  std::unordered_map<std::string, int> segment_of;
  int segments = 0;
  for (std::size_t i = 0; i < labels[0].size(); ++i) {
    const int s = std::stoi(labels[1][i]);
    segment_of[labels[0][i]] = s;
    segments = std::max(segments, s + 1);
  }
  std::vector<std::string> segment_names;
  for (int s = 0; s < segments; ++s) segment_names.push_back(std::to_string(s));

  // Stores in feature order, and the visits.
  const auto stores = read_csv_columns(out + "store_counts.csv", {"polygon_id"})[0];
  std::unordered_map<std::string, std::size_t> store_index;
  for (std::size_t j = 0; j < stores.size(); ++j) store_index.emplace(stores[j], j);
  // Users and times of the visited points, streamed from the points file (a CSV with
  // user and time columns; without them the store/segment visit tables are left out).
  const bool csv_points = fs::path(c.points).extension() == ".csv";
  const bool has_user = csv_points && !c.point_user_column.empty();
  const bool has_time = csv_points && !c.point_time_column.empty();
  if (!has_user)
    log_warning("analysis: no user column for the points (config inputs.points.user_column): "
                "segment x store lift left out");
  if (!has_time)
    log_warning("analysis: no time column for the points (config inputs.points.time_column): "
                "hour-of-week seasonality left out");
  std::vector<double> seg_store(static_cast<std::size_t>(segments) * stores.size(), 0.0);
  std::vector<double> store_hours(stores.size() * kHours, 0.0), seg_hours(static_cast<std::size_t>(segments) * kHours, 0.0);
  const Attributes attributes = Attributes::read(c);
  auto attr_store = attributes.zero_counts(stores.size());
  std::uint64_t visits = 0;
  if (has_user || has_time) {
    // visits.csv lists (point, store) pairs in the points file's order (the join keeps
    // it), so one merge pass over both files finds each visit's user and time in O(1)
    // memory, whatever the number of pings.
    const std::string visits_path = out + "visits.csv";
    CsvReader visit_reader(visits_path);
    const std::size_t visit_point = visit_reader.column("point_id"), visit_store = visit_reader.column("polygon_id");
    CsvChunk visit_chunk;
    std::size_t v = 0;
    bool more = visit_reader.next(visit_chunk);
    auto settle = [&] {
      while (more && v >= visit_chunk.rows()) more = visit_reader.next(visit_chunk), v = 0;
    };
    settle();
    CsvReader reader(c.points);
    const std::size_t id = reader.column(c.point_id_column);
    const std::size_t user = has_user ? reader.column(c.point_user_column) : 0;
    const std::size_t time = has_time ? reader.column(c.point_time_column) : 0;
    CsvChunk chunk;
    while (more && reader.next(chunk))
      for (std::size_t r = 0; more && r < chunk.rows(); ++r) {
        const std::string_view point = chunk.field(r, id);
        if (visit_chunk.field(v, visit_point) != point) continue;
        int hour = 0;
        if (has_time) {
          const double t = chunk.number(r, time);
          if (!std::isfinite(t)) throw InvalidInput(c.points, chunk.line(r), "time is not a number");
          hour = hour_of_week(t, c.utc_offset_hours);
        }
        const std::string user_id = has_user ? std::string(chunk.field(r, user)) : std::string();
        const auto seg = has_user ? segment_of.find(user_id) : segment_of.end();
        while (more && visit_chunk.field(v, visit_point) == point) {
          const auto store = store_index.find(std::string(visit_chunk.field(v, visit_store)));
          if (store == store_index.end())
            throw InvalidInput(visits_path, visit_chunk.line(v), "unknown store '" + std::string(visit_chunk.field(v, visit_store)) + "'");
          const std::size_t j = store->second;
          ++visits;
          store_hours[j * kHours + static_cast<std::size_t>(hour)] += 1.0;
          if (has_user) attributes.add(attr_store, user_id, j, stores.size(), 1.0);
          if (seg != segment_of.end()) {
            const auto s = static_cast<std::size_t>(seg->second);
            seg_store[s * stores.size() + j] += 1.0;
            seg_hours[s * kHours + static_cast<std::size_t>(hour)] += 1.0;
          }
          ++v;
          settle();
        }
      }
    if (more)
      throw InvalidInput(visits_path, visit_chunk.line(v), "point '" + std::string(visit_chunk.field(v, visit_point)) +
                                                                "' not found in " + c.points +
                                                                " in order (visits.csv must be this points file's join)");
  }
  if (has_user) write_lift(dir + "segment_store_lift.csv", "store_id", stores, seg_store, segments);
  if (has_user && !attributes.groups.empty())
    attributes.write(dir + "attribute_store_lift.csv", "store_id", stores, attr_store);
  if (has_user && !c.polygon_category_column.empty() && fs::path(c.polygons).extension() == ".csv") {
    const auto table = read_csv_columns(c.polygons, {c.polygon_id_column, c.polygon_category_column});
    std::map<std::string, std::string> category_of;
    for (std::size_t i = 0; i < table[0].size(); ++i) category_of.emplace(table[0][i], table[1][i]);
    std::map<std::string, std::size_t> column;
    for (const auto& entry : category_of) column.emplace(entry.second, 0);
    std::vector<std::string> names;
    for (auto& entry : column) entry.second = names.size(), names.push_back(entry.first);
    std::vector<double> by_category(static_cast<std::size_t>(segments) * names.size(), 0.0);
    for (std::size_t j = 0; j < stores.size(); ++j) {
      const auto it = category_of.find(stores[j]);
      if (it == category_of.end()) continue;
      const std::size_t col = column[it->second];
      for (std::size_t s = 0; s < static_cast<std::size_t>(segments); ++s)
        by_category[s * names.size() + col] += seg_store[s * stores.size() + j];
    }
    write_lift(dir + "segment_store_category_lift.csv", "store_category", names, by_category, segments);
  }
  if (has_time) {
    std::string peaks = "kind,id,rank,hour_of_week,label,visits,share\n";
    write_seasonality(dir + "seasonality_store.csv", "store_id", stores, store_hours, "store", peaks);
    if (has_user) write_seasonality(dir + "seasonality_segment.csv", "segment", segment_names, seg_hours, "segment", peaks);
    write_text_file(dir + "peak_hours.csv", peaks);
  }

  // Categories: lift from the event matrix, covariance and consistency from the shares.
  const auto users = read_lines(out + "matrix/users.txt");
  const auto items = read_lines(out + "matrix/items.txt");
  const std::size_t d = items.size();
  const auto counts = interaction_counts(out + "matrix", users.size(), d);
  std::vector<double> seg_items(static_cast<std::size_t>(segments) * d, 0.0);
  auto attr_items = attributes.zero_counts(d);
  for (std::size_t u = 0; u < users.size(); ++u) {
    for (std::size_t i = 0; i < d; ++i)
      if (counts[u * d + i] != 0) attributes.add(attr_items, users[u], i, d, counts[u * d + i]);
    const auto seg = segment_of.find(users[u]);
    if (seg == segment_of.end()) continue;
    for (std::size_t i = 0; i < d; ++i) seg_items[static_cast<std::size_t>(seg->second) * d + i] += counts[u * d + i];
  }
  write_lift(dir + "segment_category_lift.csv", "category", items, seg_items, segments);
  if (!attributes.groups.empty()) attributes.write(dir + "attribute_category_lift.csv", "category", items, attr_items);

  const NpyArray<float> shares = read_npy<float>(out + "user_vectors.npy");
  const auto ids = read_lines(out + "user_ids.txt");
  const std::size_t n = shares.rows();
  COHORT_EXPECTS(shares.cols() == d && ids.size() == n, out + "user_vectors.npy: shape differs from items.txt/user_ids.txt");
  std::vector<double> mean(d, 0.0), cov(d * d, 0.0);
  for (std::size_t u = 0; u < n; ++u)
    for (std::size_t i = 0; i < d; ++i) mean[i] += shares.data[u * d + i];
  for (auto& m : mean) m /= static_cast<double>(std::max<std::size_t>(n, 1));
  for (std::size_t u = 0; u < n; ++u)
    for (std::size_t a = 0; a < d; ++a) {
      const double da = shares.data[u * d + a] - mean[a];
      for (std::size_t b = 0; b < d; ++b) cov[a * d + b] += da * (shares.data[u * d + b] - mean[b]);
    }
  {
    AtomicFile file(dir + "category_covariance.csv");
    file.write("category_a,category_b,covariance,correlation\n");
    for (std::size_t a = 0; a < d; ++a)
      for (std::size_t b = 0; b < d; ++b) {
        const double denom = n > 1 ? static_cast<double>(n - 1) : 1.0;
        const double cv = cov[a * d + b] / denom, va = cov[a * d + a] / denom, vb = cov[b * d + b] / denom;
        file.write(csv_escape(items[a]) + "," + csv_escape(items[b]) + "," + num(cv) + "," +
                   (va > 0 && vb > 0 ? num(cv / std::sqrt(va * vb)) : std::string()) + "\n");
      }
    file.commit();
  }

  std::vector<double> seg_mean(static_cast<std::size_t>(segments) * d, 0.0), members(static_cast<std::size_t>(segments), 0.0),
      distance(static_cast<std::size_t>(segments), 0.0), entropy(static_cast<std::size_t>(segments), 0.0);
  std::vector<int> row_segment(n, -1);
  for (std::size_t u = 0; u < n; ++u) {
    const auto seg = segment_of.find(ids[u]);
    if (seg == segment_of.end()) continue;
    const auto s = static_cast<std::size_t>(row_segment[u] = seg->second);
    members[s] += 1.0;
    entropy[s] += entropy_bits(shares.data.data() + u * d, d);
    for (std::size_t i = 0; i < d; ++i) seg_mean[s * d + i] += shares.data[u * d + i];
  }
  for (std::size_t s = 0; s < members.size(); ++s)
    for (std::size_t i = 0; i < d; ++i) seg_mean[s * d + i] /= std::max(members[s], 1.0);
  for (std::size_t u = 0; u < n; ++u) {
    if (row_segment[u] < 0) continue;
    const auto s = static_cast<std::size_t>(row_segment[u]);
    double sq = 0.0;
    for (std::size_t i = 0; i < d; ++i) {
      const double diff = shares.data[u * d + i] - seg_mean[s * d + i];
      sq += diff * diff;
    }
    distance[s] += std::sqrt(sq);
  }
  AtomicFile file(dir + "segment_consistency.csv");
  file.write("segment,members,mean_distance,mean_entropy_bits,entropy_of_mean_bits,top_category,top_share\n");
  for (std::size_t s = 0; s < members.size(); ++s) {
    const double m = std::max(members[s], 1.0);
    std::vector<float> mean_shares(seg_mean.begin() + static_cast<std::ptrdiff_t>(s * d),
                                   seg_mean.begin() + static_cast<std::ptrdiff_t>((s + 1) * d));
    const auto top = static_cast<std::size_t>(std::max_element(mean_shares.begin(), mean_shares.end()) - mean_shares.begin());
    file.write(std::to_string(s) + "," + num(members[s]) + "," + num(distance[s] / m) + "," + num(entropy[s] / m) + "," +
               num(entropy_bits(mean_shares.data(), d)) + "," + (d ? csv_escape(items[top]) : "") + "," +
               (d ? num(mean_shares[top]) : "") + "\n");
  }
  file.commit();
  char text[160];
  std::snprintf(text, sizeof text, "%llu visits, %d segments x %zu stores x %zu categories, 168 hours of week",
                static_cast<unsigned long long>(visits), segments, stores.size(), d);
  return text;
}

}  // namespace cohort::detail
