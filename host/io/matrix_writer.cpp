/*
 * matrix_writer.cpp: the matrix engine's output directory and long CSV (see
 * include/cohort/matrix.hpp for the file names). Every file goes through AtomicFile.
 */
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <set>

#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/matrix.hpp"
#include "kernels/matrix_element.hpp"

namespace cohort {

namespace {

std::size_t find_event(const MatrixResult& r, const std::vector<std::string>& stems, const std::string& name) {
  for (std::size_t e = 0; e < r.events.size(); ++e)
    if (r.events[e] == name || stems[e] == name) return e;
  std::string known;
  for (const auto& e : r.events) known += (known.empty() ? "'" : ", '") + e + "'";
  throw InvalidInput("--conversion: no event type '" + name + "' (event types: " + known + ")");
}

// Names (within the directory) of the files a write_matrix call wrote.
using Written = std::vector<std::string>;

void write_one(const std::string& dir, const std::string& stem, const Csr& m, bool integer, const std::string& format,
               const std::string& comment, Written& written) {
  if (format == "mtx" || format == "both") {
    write_mtx(dir + "/" + stem + ".mtx", m, integer, comment);
    written.push_back(stem + ".mtx");
  }
  if (format == "npy" || format == "both") {
    write_csr_npy(dir + "/" + stem, m);
    for (const char* part : {".indptr.npy", ".indices.npy", ".data.npy"}) written.push_back(stem + part);
  }
}

// DIR/files.txt lists what this call wrote; the files an earlier call listed there and
// this one did not write again (an event type or value gone) are removed, so no reader
// of the directory mixes two runs. Only names listed by cohort are touched.
void replace_file_list(const std::string& dir, Written written) {
  const std::string list = dir + "/files.txt";
  written.push_back("files.txt");
  if (std::filesystem::exists(list)) {
    const std::set<std::string> now(written.begin(), written.end());
    for (const auto& name : read_lines(list))
      if (!name.empty() && name.find('/') == std::string::npos && name != ".." && !now.count(name))
        std::filesystem::remove(dir + "/" + name);
  }
  write_lines(list, written);
}

std::string number(double v) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

}  // namespace

std::pair<std::string, std::string> split_conversion(const std::string& spec) {
  const auto slash = spec.find('/');
  if (slash == std::string::npos) throw InvalidInput("--conversion must be NUM/DEN, e.g. purchase/view");
  return {spec.substr(0, slash), spec.substr(slash + 1)};
}

void write_matrix(const MatrixResult& r, const std::string& dir, const MatrixWriteOptions& options) {
  if (options.format != "mtx" && options.format != "npy" && options.format != "both")
    throw InvalidInput("--format must be mtx, npy or both, not '" + options.format + "'");
  const auto stems = event_file_stems(r);
  std::size_t num = 0, den = 0;
  if (!options.conversion.empty()) {
    const auto [num_name, den_name] = split_conversion(options.conversion);
    num = find_event(r, stems, num_name);
    den = find_event(r, stems, den_name);
  }
  ensure_directory(dir);
  Written written{"users.txt", "items.txt"};
  write_lines(dir + "/users.txt", r.users);
  write_lines(dir + "/items.txt", r.items);
  if (r.has_event) {
    write_lines(dir + "/events.txt", r.events);
    written.push_back("events.txt");
  }
  for (std::size_t e = 0; e < r.events.size(); ++e) {
    const std::string what = r.has_event ? "event type '" + r.events[e] + "'" : "all events";
    const Csr counts = cell_matrix(r, e, CellValue::Count);
    write_one(dir, stems[e], counts, true, options.format, "cohort matrix: event counts, " + what, written);
    if (r.has_weight)
      write_one(dir, stems[e] + ".sum", cell_matrix(r, e, CellValue::Sum), false, options.format,
                "cohort matrix: sum of weights, " + what, written);
    if (r.has_time) {
      write_one(dir, stems[e] + ".first", cell_matrix(r, e, CellValue::First), false, options.format,
                "cohort matrix: first time (epoch seconds), " + what, written);
      write_one(dir, stems[e] + ".last", cell_matrix(r, e, CellValue::Last), false, options.format,
                "cohort matrix: last time (epoch seconds), " + what, written);
      write_one(dir, stems[e] + ".interval", cell_matrix(r, e, CellValue::MeanInterval), false, options.format,
                "cohort matrix: mean interval in seconds = (last - first) / (count - 1), cells with count >= 2, " +
                    what, written);
    }
    if (options.shares)
      write_one(dir, stems[e] + ".shares", row_shares(counts), false, options.format,
                "cohort matrix: row-normalized counts, " + what, written);
    if (options.tfidf)
      write_one(dir, stems[e] + ".tfidf", tfidf(counts), false, options.format,
                "cohort matrix: tf-idf, tf = count / row sum, idf = ln(users / users with the item), " + what,
                written);
  }
  if (!options.conversion.empty())
    write_one(dir, "conversion",
              conversion_ratio(cell_matrix(r, num, CellValue::Count), cell_matrix(r, den, CellValue::Count)), false,
              options.format, "cohort matrix: conversion ratio count('" + r.events[num] + "') / count('" +
                                  r.events[den] + "') on cells where the latter is nonzero", written);
  if (!r.attributes.columns.empty()) {
    AtomicFile out(dir + "/attributes.csv");
    std::string line = "user_id";
    for (const auto& c : r.attributes.columns) line += "," + csv_escape(c);
    out.write(line + "\n");
    for (std::size_t u = 0; u < r.users.size(); ++u) {
      line = csv_escape(r.users[u]);
      for (const auto& v : r.attributes.values[u]) line += "," + csv_escape(v);
      out.write(line + "\n");
    }
    out.commit();
    written.push_back("attributes.csv");
    // How many users had more than one distinct value, per column and in any column.
    std::string conflicts = "column,users_conflicted\n";
    for (std::size_t c = 0; c < r.attributes.columns.size(); ++c)
      conflicts += csv_escape(r.attributes.columns[c]) + "," + std::to_string(r.attributes.conflicts[c]) + "\n";
    write_text_file(dir + "/attribute_conflicts.csv",
                    conflicts + "(any)," + std::to_string(r.attributes.users_conflicted) + "\n");
    written.push_back("attribute_conflicts.csv");
  }
  replace_file_list(dir, written);
  if (!options.long_csv.empty()) write_long_csv(r, options.long_csv);
}

void write_long_csv(const MatrixResult& r, const std::string& path) {
  AtomicFile out(path);
  out.write("user,item,event,count,sum,first,last,mean_interval\n");
  const CellTable& c = r.cells;
  std::string line;
  for (std::size_t i = 0; i < c.size(); ++i) {
    line = csv_escape(r.users[c.row[i]]) + "," + csv_escape(r.items[c.col[i]]) + "," + csv_escape(r.events[c.event[i]]) +
           "," + std::to_string(c.count[i]) + "," + number(c.sum_at(i)) + ",";
    if (r.has_time) {
      line += number(c.first_at(i)) + "," + number(c.last_at(i)) + ",";
      if (c.count[i] > 1) line += number(cell_mean_interval(CellAccumulator{c.count[i], c.sum_at(i), c.first_at(i), c.last_at(i)}));
    } else {
      line += ",,";
    }
    line += "\n";
    out.write(line);
  }
  out.commit();
}

}  // namespace cohort
