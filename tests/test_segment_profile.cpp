/*
 * test_segment_profile.cpp: segment profiles joined with a hand-made `cohort matrix`
 * directory: the full attribute distributions (attribute_profiles.csv) against a
 * brute-force count over the labelled users, and the conversion KPI from named events
 * (ProfileOptions and `cohort segment --conversion NUM/DEN`) or from the name guess.
 * Random cases print their seed on failure.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/npy.hpp"
#include "cohort/segment.hpp"
#include "cohort/sparse.hpp"
#include "tests/test_util.hpp"

namespace cohort {
namespace {

using testing::TempDir;

// A users x items count matrix from (user, item, count) triples; rows sorted by column.
Csr counts_matrix(std::int64_t users, std::int64_t items, std::map<std::pair<std::int32_t, std::int32_t>, double> cells) {
  Csr m;
  m.rows = users, m.cols = items;
  m.indptr.assign(1, 0);
  auto at = cells.begin();
  for (std::int32_t r = 0; r < users; ++r) {
    for (; at != cells.end() && at->first.first == r; ++at) {
      m.indices.push_back(at->first.second);
      m.values.push_back(at->second);
    }
    m.indptr.push_back(static_cast<std::int64_t>(m.indices.size()));
  }
  return m;
}

std::vector<std::vector<std::string>> read_csv_rows(const std::string& path, std::vector<std::string>* header) {
  CsvReader reader(path);
  if (header) *header = reader.header();
  std::vector<std::vector<std::string>> rows;
  CsvChunk chunk;
  while (reader.next(chunk))
    for (std::size_t r = 0; r < chunk.rows(); ++r) {
      rows.emplace_back();
      for (std::size_t c = 0; c < chunk.columns(); ++c) rows.back().emplace_back(chunk.field(r, c));
    }
  return rows;
}

// ---- attribute distributions ----

// A random matrix directory whose attributes.csv holds awkward values (commas, quotes,
// empty, bytes >= 0x80) and rows for users outside users.txt; some labelled ids are not
// in the matrix, some matrix users are unlabelled or have no attributes row.
struct AttributeCase {
  std::vector<std::string> ids;
  std::vector<std::int32_t> labels;
  std::vector<std::string> columns;  // attribute columns
  std::map<std::string, std::vector<std::string>> attributes;  // user -> values (users in users.txt only)
};

AttributeCase make_attribute_case(const std::string& dir, int k, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  AttributeCase c;
  c.columns = {"city", "age, band", "tier"};
  const std::vector<std::vector<std::string>> pools = {
      {"Oslo", "Rome", "Zurich", "\xc3\x89vora", "a\"b"}, {"18-24", "25-34", "35+", ""}, {"gold", "silver"}};
  const int users = 70;
  std::vector<std::string> user_ids;
  for (int u = 0; u < users; ++u) user_ids.push_back("u" + std::to_string(u));
  ensure_directory(dir);
  write_lines(dir + "/users.txt", user_ids);
  write_lines(dir + "/items.txt", {"i0", "i1"});
  std::map<std::pair<std::int32_t, std::int32_t>, double> cells{{{0, 0}, 1.0}};
  write_mtx(dir + "/view.mtx", counts_matrix(users, 2, cells), true);
  std::string csv = "user_id,city,\"age, band\",tier\n";
  for (int u = 0; u < users; ++u) {
    if (u % 11 == 5) continue;  // no attributes row
    std::vector<std::string> row;
    for (std::size_t a = 0; a < pools.size(); ++a) {
      // Skewed draws so segments differ: value index depends on the user's parity too.
      const auto& pool = pools[a];
      const std::size_t draw = rng() % pool.size(), shift = (u % 2) * (rng() % 2);
      row.push_back(pool[(draw + shift) % pool.size()]);
    }
    c.attributes[user_ids[static_cast<std::size_t>(u)]] = row;
    csv += user_ids[static_cast<std::size_t>(u)];
    for (const auto& v : row) csv += "," + csv_escape(v);
    csv += "\n";
  }
  csv += "stranger,Oslo,18-24,gold\n";  // not in users.txt: ignored
  testing::write_file(dir + "/attributes.csv", csv);
  // Label every user but u3 and u40; segment k - 1 stays empty; two ids outside the matrix.
  for (int u = 0; u < users; ++u) {
    if (u == 3 || u == 40) continue;
    c.ids.push_back(user_ids[static_cast<std::size_t>(u)]);
    c.labels.push_back(static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(k - 1)));
  }
  c.ids.push_back("ghost1");
  c.labels.push_back(0);
  c.ids.push_back("ghost2");
  c.labels.push_back(static_cast<std::int32_t>(k - 1));
  return c;
}

struct ExpectedRow {
  int segment;
  std::string attribute, value;
  std::size_t users;
  double share_in_segment, share_in_population, lift;
};

// Brute force: counts over labelled users found in attributes.csv (and users.txt).
std::vector<ExpectedRow> brute_attribute_rows(const AttributeCase& c, int k) {
  std::vector<std::size_t> members(k, 0);
  std::size_t population = 0;
  std::vector<std::map<std::string, std::vector<std::size_t>>> counts(c.columns.size());  // value -> per segment
  for (std::size_t i = 0; i < c.ids.size(); ++i) {
    const auto it = c.attributes.find(c.ids[i]);
    if (it == c.attributes.end()) continue;
    ++members[c.labels[i]];
    ++population;
    for (std::size_t a = 0; a < c.columns.size(); ++a) {
      auto& per_segment = counts[a][it->second[a]];
      per_segment.resize(k, 0);
      ++per_segment[c.labels[i]];
    }
  }
  std::vector<ExpectedRow> rows;
  for (int s = 0; s < k; ++s)
    for (std::size_t a = 0; a < c.columns.size(); ++a)
      for (const auto& [value, per_segment] : counts[a]) {  // std::map<std::string>: byte order
        if (per_segment[s] == 0) continue;
        std::size_t everyone = 0;
        for (auto n : per_segment) everyone += n;
        const double in_segment = double(per_segment[s]) / double(members[s]);
        const double in_population = double(everyone) / double(population);
        rows.push_back({s, c.columns[a], value, per_segment[s], in_segment, in_population, in_segment / in_population});
      }
  return rows;
}

TEST(SegmentAttributeProfiles, EveryRowMatchesBruteForce) {
  for (std::uint64_t seed : {7u, 8u, 9u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TempDir dir;
    const int k = 4;
    const AttributeCase c = make_attribute_case(dir.file("matrix"), k, seed);
    const SegmentProfiles p = profile_segments(c.ids, c.labels, k, dir.file("matrix"));
    ASSERT_EQ(p.attributes, c.columns);
    const auto expected = brute_attribute_rows(c, k);
    ASSERT_GT(expected.size(), 20u);

    // The structs: same rows in the same order.
    std::size_t at = 0;
    for (const auto& segment : p.segments) {
      ASSERT_EQ(segment.attribute_values.size(), c.columns.size());
      for (std::size_t a = 0; a < c.columns.size(); ++a)
        for (const auto& v : segment.attribute_values[a]) {
          ASSERT_LT(at, expected.size());
          const ExpectedRow& e = expected[at++];
          EXPECT_EQ(segment.segment, e.segment);
          EXPECT_EQ(c.columns[a], e.attribute);
          EXPECT_EQ(v.value, e.value);
          EXPECT_EQ(v.users, e.users);
          EXPECT_DOUBLE_EQ(v.share_in_segment, e.share_in_segment);
          EXPECT_DOUBLE_EQ(v.share_in_population, e.share_in_population);
          EXPECT_DOUBLE_EQ(v.lift, e.lift);
        }
    }
    EXPECT_EQ(at, expected.size());
    EXPECT_TRUE(p.segments[k - 1].attribute_values[0].empty());  // empty segment: no rows

    // The modes (profiles.csv) agree with the distributions: most users, ties to the smaller value.
    for (const auto& segment : p.segments)
      for (std::size_t a = 0; a < c.columns.size(); ++a) {
        std::string mode;
        std::size_t best = 0;
        for (const auto& e : expected)
          if (e.segment == segment.segment && e.attribute == c.columns[a] && e.users > best) best = e.users, mode = e.value;
        EXPECT_EQ(segment.attribute_modes[a].first, mode);
      }

    // The file: every row, parsed back (quoted values and attribute names included).
    write_attribute_profiles_csv(dir.file("attribute_profiles.csv"), p);
    std::vector<std::string> header;
    const auto rows = read_csv_rows(dir.file("attribute_profiles.csv"), &header);
    EXPECT_EQ(header, (std::vector<std::string>{"segment", "attribute", "value", "users", "share_in_segment",
                                                "share_in_population", "lift"}));
    ASSERT_EQ(rows.size(), expected.size());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      SCOPED_TRACE("row " + std::to_string(r + 2));
      const ExpectedRow& e = expected[r];
      EXPECT_EQ(std::stoi(rows[r][0]), e.segment);
      EXPECT_EQ(rows[r][1], e.attribute);
      EXPECT_EQ(rows[r][2], e.value);
      EXPECT_EQ(std::stoul(rows[r][3]), e.users);
      EXPECT_NEAR(std::stod(rows[r][4]), e.share_in_segment, 1e-8 * e.share_in_segment);
      EXPECT_NEAR(std::stod(rows[r][5]), e.share_in_population, 1e-8 * e.share_in_population);
      EXPECT_NEAR(std::stod(rows[r][6]), e.lift, 1e-8 * e.lift);
      if (r > 0 && rows[r - 1][0] == rows[r][0] && rows[r - 1][1] == rows[r][1]) {  // byte order: unsigned bytes
        const std::string& x = rows[r - 1][2];
        const std::string& y = rows[r][2];
        EXPECT_TRUE(std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end(), [](char a, char b) {
          return static_cast<unsigned char>(a) < static_cast<unsigned char>(b);
        })) << "'" << x << "' before '" << y << "'";
      }
    }
  }
}

TEST(SegmentAttributeProfiles, HandCountedExample) {
  TempDir dir;
  const std::string m = dir.file("matrix");
  ensure_directory(m);
  write_lines(m + "/users.txt", {"u1", "u2", "u3", "u4", "u5"});
  write_lines(m + "/items.txt", {"x"});
  write_mtx(m + "/view.mtx", counts_matrix(5, 1, {}), true);
  testing::write_file(m + "/attributes.csv", "user_id,city\nu1,Oslo\nu2,Oslo\nu3,Rome\nu4,Oslo\nu5,Bergen\n");
  // u5 is not labelled: the population is u1..u4 (Oslo 3/4, Rome 1/4).
  const SegmentProfiles p = profile_segments({"u1", "u2", "u3", "u4"}, {0, 0, 1, 1}, 2, m);
  write_attribute_profiles_csv(dir.file("a.csv"), p);
  EXPECT_EQ(testing::read_file(dir.file("a.csv")),
            "segment,attribute,value,users,share_in_segment,share_in_population,lift\n"
            "0,city,Oslo,2,1,0.75,1.33333333\n"
            "1,city,Oslo,1,0.5,0.75,0.666666667\n"
            "1,city,Rome,1,0.5,0.25,2\n");
  // A table of one's own (a customers table): its id column, the named columns only.
  testing::write_file(dir.file("customers.csv"), "income,cust,city,tier\n1,u3,Rome,b\n2,u1,Oslo,a\n3,u2,Oslo,a\n");
  ProfileOptions own;
  own.attributes_csv = dir.file("customers.csv");
  own.attributes_id_column = "cust";
  own.attribute_columns = {"tier"};
  const SegmentProfiles t = profile_segments({"u1", "u2", "u3", "u4"}, {0, 0, 1, 1}, 2, m, own);
  write_attribute_profiles_csv(dir.file("t.csv"), t);
  EXPECT_EQ(testing::read_file(dir.file("t.csv")),
            "segment,attribute,value,users,share_in_segment,share_in_population,lift\n"
            "0,tier,a,2,1,0.666666667,1.5\n"
            "1,tier,b,1,1,0.333333333,3\n");
  own.attribute_columns = {"tier", "colour"};
  try {
    profile_segments({"u1"}, {0}, 1, m, own);
    FAIL() << "a missing attribute column was accepted";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("colour"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("customers.csv"), std::string::npos) << e.what();
  }
  EXPECT_THROW(profile_segments({"u1"}, {0}, 1, "", own), InvalidInput);  // a table needs the matrix's users
  // Without a matrix: the header only.
  const SegmentProfiles bare = profile_segments({"u1"}, {0}, 1, "");
  write_attribute_profiles_csv(dir.file("b.csv"), bare);
  EXPECT_EQ(testing::read_file(dir.file("b.csv")),
            "segment,attribute,value,users,share_in_segment,share_in_population,lift\n");
}

// ---- conversion from named events ----

// Localytics-like: events.txt "View Project", "Fund Project"; files View_Project.mtx, Fund_Project.mtx.
struct EventCase {
  std::vector<std::string> ids;
  std::vector<std::int32_t> labels;
  std::vector<double> views, funds;  // per segment
};

EventCase make_event_case(const std::string& dir, const std::string& num_stem, const std::string& den_stem,
                          const std::vector<std::string>& raw_names, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int users = 40, items = 5, k = 3;
  EventCase c;
  c.views.assign(k, 0.0);
  c.funds.assign(k, 0.0);
  std::vector<std::string> user_ids;
  for (int u = 0; u < users; ++u) user_ids.push_back("s" + std::to_string(u));
  ensure_directory(dir);
  write_lines(dir + "/users.txt", user_ids);
  write_lines(dir + "/items.txt", {"Art", "Games", "Music", "Sports", "Technology"});
  if (!raw_names.empty()) write_lines(dir + "/events.txt", raw_names);
  std::vector<std::int32_t> label_of(users);
  for (int u = 0; u < users; ++u) label_of[u] = static_cast<std::int32_t>(rng() % k);
  std::map<std::pair<std::int32_t, std::int32_t>, double> views, funds;
  for (int u = 0; u < users; ++u)
    for (int j = 0; j < items; ++j) {
      const double v = double(rng() % 4), f = double(rng() % 3) * (u % 3 == 0 ? 0 : 1);
      if (v > 0) views[{u, j}] = v;
      if (f > 0) funds[{u, j}] = f;
      if (u != 7) {  // s7 is unlabelled
        c.views[label_of[u]] += v;
        c.funds[label_of[u]] += f;
      }
    }
  write_mtx(dir + "/" + den_stem + ".mtx", counts_matrix(users, items, views), true);
  write_mtx(dir + "/" + num_stem + ".mtx", counts_matrix(users, items, funds), true);
  for (int u = 0; u < users; ++u)
    if (u != 7) {
      c.ids.push_back(user_ids[u]);
      c.labels.push_back(label_of[u]);
    }
  return c;
}

TEST(SegmentProfileConversion, NamedStemsOrRawNames) {
  const std::uint64_t seed = 21;
  SCOPED_TRACE("seed " + std::to_string(seed));
  TempDir dir;
  const std::string m = dir.file("matrix");
  const EventCase c = make_event_case(m, "Fund_Project", "View_Project", {"View Project", "Fund Project"}, seed);
  // The name guess finds nothing here ("View" is not "view").
  EXPECT_FALSE(profile_segments(c.ids, c.labels, 3, m).has_conversion);
  for (const auto& [num, den] : {std::pair<std::string, std::string>{"Fund_Project", "View_Project"},
                                 std::pair<std::string, std::string>{"Fund Project", "View Project"}}) {
    SCOPED_TRACE(num + "/" + den);
    ProfileOptions o;
    o.conversion_numerator = num;
    o.conversion_denominator = den;
    const SegmentProfiles p = profile_segments(c.ids, c.labels, 3, m, o);
    ASSERT_TRUE(p.has_conversion);
    EXPECT_EQ(p.conversion_label, "Fund_Project/View_Project");
    for (int s = 0; s < 3; ++s) {
      ASSERT_GT(c.views[s], 0.0);
      EXPECT_DOUBLE_EQ(p.segments[s].conversion, c.funds[s] / c.views[s]) << "segment " << s;
    }
  }
}

TEST(SegmentProfileConversion, UnknownEventListsTheStems) {
  TempDir dir;
  const std::string m = dir.file("matrix");
  const EventCase c = make_event_case(m, "Fund_Project", "View_Project", {"View Project", "Fund Project"}, 22);
  for (const auto& [num, den] : {std::pair<std::string, std::string>{"purchase", "View_Project"},
                                 std::pair<std::string, std::string>{"Fund_Project", "view"},
                                 std::pair<std::string, std::string>{"Fund_Project", ""}}) {
    ProfileOptions o;
    o.conversion_numerator = num;
    o.conversion_denominator = den;
    try {
      profile_segments(c.ids, c.labels, 3, m, o);
      FAIL() << num << "/" << den << " accepted";
    } catch (const InvalidInput& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("'" + (num == "Fund_Project" ? den : num) + "'"), std::string::npos) << what;
      EXPECT_NE(what.find("'Fund_Project', 'View_Project'"), std::string::npos) << what;
    }
  }
  ProfileOptions o;
  o.conversion_numerator = "Fund_Project";
  o.conversion_denominator = "View_Project";
  EXPECT_THROW(profile_segments(c.ids, c.labels, 3, "", o), InvalidInput);  // no matrix to name events in
}

TEST(SegmentProfileConversion, GuessStillAppliesWithoutNames) {
  TempDir dir;
  const std::string m = dir.file("matrix");
  const EventCase c = make_event_case(m, "purchase", "page_view", {}, 23);
  const SegmentProfiles guessed = profile_segments(c.ids, c.labels, 3, m);
  ASSERT_TRUE(guessed.has_conversion);
  EXPECT_EQ(guessed.conversion_label, "purchase/page_view");
  for (int s = 0; s < 3; ++s) EXPECT_DOUBLE_EQ(guessed.segments[s].conversion, c.funds[s] / c.views[s]);
  // Names override the guess (here the inverse ratio).
  ProfileOptions o;
  o.conversion_numerator = "page_view";
  o.conversion_denominator = "purchase";
  const SegmentProfiles named = profile_segments(c.ids, c.labels, 3, m, o);
  EXPECT_EQ(named.conversion_label, "page_view/purchase");
  for (int s = 0; s < 3; ++s)
    if (c.funds[s] > 0) {
      EXPECT_DOUBLE_EQ(named.segments[s].conversion, c.views[s] / c.funds[s]);
    }
}

// ---- CLI ----

// Embeddings for the users of a matrix directory: two far-apart blobs by user parity.
void write_embeddings(const TempDir& dir, const std::vector<std::string>& ids) {
  std::vector<float> x;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    x.push_back(i % 2 ? 10.0f : -10.0f);
    x.push_back(static_cast<float>(i % 5) * 0.1f);
  }
  write_npy(dir.file("x.npy"), x.data(), {ids.size(), 2});
  write_lines(dir.file("ids.txt"), ids);
}

std::vector<std::int32_t> read_labels(const std::string& path, const std::vector<std::string>& ids) {
  std::map<std::string, std::int32_t> by_id;
  for (const auto& row : read_csv_rows(path, nullptr)) by_id[row[0]] = std::stoi(row[1]);
  std::vector<std::int32_t> labels;
  for (const auto& id : ids) labels.push_back(by_id.at(id));
  return labels;
}

TEST(SegmentProfileCli, ConversionFlagAndAttributeFile) {
  TempDir dir;
  const std::string m = dir.file("matrix");
  const EventCase c = make_event_case(m, "Fund_Project", "View_Project", {"View Project", "Fund Project"}, 31);
  testing::write_file(m + "/attributes.csv", [] {
    std::string csv = "user_id,gender\n";
    for (int u = 0; u < 40; ++u) csv += "s" + std::to_string(u) + "," + (u % 3 ? "F" : "M") + "\n";
    return csv;
  }());
  write_embeddings(dir, c.ids);
  const std::string base = "segment --embeddings " + dir.file("x.npy") + " --ids " + dir.file("ids.txt") +
                           " --k 2 --device cpu --matrix " + m;
  for (const std::string flag : {"--conversion Fund_Project/View_Project", "--conversion 'Fund Project/View Project'"}) {
    SCOPED_TRACE(flag);
    const std::string out = dir.file("out");
    const auto run = testing::run_cli(base + " " + flag + " --out " + out);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("conversion"), std::string::npos) << run.output;
    const auto labels = read_labels(out + "/labels.csv", c.ids);
    // Brute force per segment from the written labels.
    std::vector<double> views(2, 0.0), funds(2, 0.0);
    {
      const Csr v = read_mtx(m + "/View_Project.mtx"), f = read_mtx(m + "/Fund_Project.mtx");
      const auto users = read_lines(m + "/users.txt");
      std::map<std::string, std::int32_t> label_of;
      for (std::size_t i = 0; i < c.ids.size(); ++i) label_of[c.ids[i]] = labels[i];
      for (std::int64_t r = 0; r < v.rows; ++r) {
        const auto it = label_of.find(users[static_cast<std::size_t>(r)]);
        if (it == label_of.end()) continue;
        for (auto at = v.indptr[r]; at < v.indptr[r + 1]; ++at) views[it->second] += v.values[at];
        for (auto at = f.indptr[r]; at < f.indptr[r + 1]; ++at) funds[it->second] += f.values[at];
      }
    }
    std::vector<std::string> header;
    const auto profiles = read_csv_rows(out + "/profiles.csv", &header);
    std::size_t column = 0;
    while (column < header.size() && header[column] != "conversion") ++column;
    ASSERT_LT(column, header.size()) << "no conversion column";
    ASSERT_EQ(profiles.size(), 2u);
    for (int s = 0; s < 2; ++s) EXPECT_NEAR(std::stod(profiles[s][column]), funds[s] / views[s], 1e-6) << "segment " << s;
    // attribute_profiles.csv: gender counts per segment from the labels.
    std::map<std::pair<int, std::string>, std::size_t> expected;
    for (std::size_t i = 0; i < c.ids.size(); ++i) {
      const int u = std::stoi(c.ids[i].substr(1));
      ++expected[{labels[i], u % 3 ? "F" : "M"}];
    }
    const auto rows = read_csv_rows(out + "/attribute_profiles.csv", nullptr);
    ASSERT_EQ(rows.size(), expected.size());
    auto e = expected.begin();
    for (const auto& row : rows) {
      EXPECT_EQ(std::stoi(row[0]), e->first.first);
      EXPECT_EQ(row[1], "gender");
      EXPECT_EQ(row[2], e->first.second);
      EXPECT_EQ(std::stoul(row[3]), e->second);
      ++e;
    }
  }
  // Without the flag: no guess matches these names, so no conversion column.
  const auto plain = testing::run_cli(base + " --out " + dir.file("plain"));
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_EQ(testing::read_file(dir.file("plain/profiles.csv")).find("conversion"), std::string::npos);
  // Unknown stem: an error that lists the stems; no '/': the syntax error of `cohort matrix`.
  const auto unknown = testing::run_cli(base + " --conversion purchase/View_Project --out " + dir.file("bad"));
  EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
  EXPECT_NE(unknown.output.find("'purchase'"), std::string::npos) << unknown.output;
  EXPECT_NE(unknown.output.find("'Fund_Project', 'View_Project'"), std::string::npos) << unknown.output;
  const auto no_slash = testing::run_cli(base + " --conversion Fund_Project --out " + dir.file("bad"));
  EXPECT_EQ(no_slash.exit_code, 1) << no_slash.output;
  EXPECT_NE(no_slash.output.find("NUM/DEN"), std::string::npos) << no_slash.output;
  // A matrix that fails to read: an error naming its line, and no output directory at all
  // (the profiles are read before any file is written).
  const std::string broken = dir.file("broken_matrix");
  std::filesystem::copy(m, broken, std::filesystem::copy_options::recursive);
  for (const auto& entry : std::filesystem::directory_iterator(broken))
    if (entry.path().extension() == ".mtx") {
      std::ofstream(entry.path(), std::ios::app) << "garbage line\n";
      break;
    }
  const std::string broken_base = "segment --embeddings " + dir.file("x.npy") + " --ids " + dir.file("ids.txt") +
                                  " --k 2 --device cpu --matrix " + broken;
  const auto failed = testing::run_cli(broken_base + " --out " + dir.file("never"));
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_NE(failed.output.find(".mtx:"), std::string::npos) << failed.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("never")));
}

TEST(SegmentProfileCli, GuessWithoutTheFlag) {
  TempDir dir;
  const std::string m = dir.file("matrix");
  const EventCase c = make_event_case(m, "purchase", "view", {}, 32);
  write_embeddings(dir, c.ids);
  const auto run = testing::run_cli("segment --embeddings " + dir.file("x.npy") + " --ids " + dir.file("ids.txt") +
                                    " --k 2 --device cpu --matrix " + m + " --out " + dir.file("out"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto labels = read_labels(dir.file("out/labels.csv"), c.ids);
  std::vector<std::string> header;
  const auto profiles = read_csv_rows(dir.file("out/profiles.csv"), &header);
  std::size_t column = 0;
  while (column < header.size() && header[column] != "conversion") ++column;
  ASSERT_LT(column, header.size()) << "the purchase/view guess gave no conversion column";
  // Expected from the per-user totals the case drew (s7 unlabelled, so absent from ids).
  const Csr v = read_mtx(m + "/view.mtx"), f = read_mtx(m + "/purchase.mtx");
  std::vector<double> views(2, 0.0), funds(2, 0.0);
  for (std::size_t i = 0; i < c.ids.size(); ++i) {
    const auto r = static_cast<std::int64_t>(std::stoi(c.ids[i].substr(1)));
    for (auto at = v.indptr[r]; at < v.indptr[r + 1]; ++at) views[labels[i]] += v.values[at];
    for (auto at = f.indptr[r]; at < f.indptr[r + 1]; ++at) funds[labels[i]] += f.values[at];
  }
  for (int s = 0; s < 2; ++s) EXPECT_NEAR(std::stod(profiles[s][column]), funds[s] / views[s], 1e-6) << "segment " << s;
}

}  // namespace
}  // namespace cohort
