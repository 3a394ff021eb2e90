/*
 * cmd_matrix.cpp: `cohort matrix`: the user x item matrices of an event log (CSV, JSON
 * array, {"data": [...]}, NDJSON) or of a join's output, written to a directory.
 * A join's output (point_id,polygon_id) has no user column: --user-from PINGS.csv
 * --user-from-key point_id --user-from-col user_id replaces each --user-col value by
 * the matching user id of the pings file (user x store visits).
 */
#include <cstdio>

#include "apps/command.hpp"
#include "cohort/error.hpp"
#include "cohort/matrix.hpp"
#include "cohort/progress.hpp"

namespace cohort::app {
namespace {

CommonOptions common;
std::string events_path, out_dir, attr_cols, user_from, user_from_key, user_from_col;
EventReaderOptions reader;
MatrixWriteOptions write_options;
std::size_t chunk_events = std::size_t(1) << 21;

void run_matrix() {
  MatrixOptions options;
  options.device = apply_common(common);
  options.reader = reader;
  options.reader.attr_cols = split_list(attr_cols);
  options.reader.chunk_events = chunk_events;
  std::unordered_map<std::string, std::string> user_map;
  if (!user_from.empty()) {
    if (user_from_key.empty()) user_from_key = reader.user_col;
    if (user_from_col.empty()) throw InvalidInput("--user-from needs --user-from-col (the user id column)");
    user_map = read_id_map(user_from, user_from_key, user_from_col);
    options.reader.user_map = &user_map;
    log_info("user ids: '" + reader.user_col + "' looked up in " + user_from + " (" + user_from_key + " -> " +
             user_from_col + ", " + std::to_string(user_map.size()) + " keys)");
  }
  const MatrixResult result = build_matrix(events_path, options);
  write_matrix(result, out_dir, write_options);
  if (common.quiet) return;  // --quiet: warnings and errors only
  std::printf("%s (%s): %llu events", events_path.c_str(), result.format.c_str(),
              static_cast<unsigned long long>(result.events_read));
  if (result.events_skipped > 0)
    std::printf(", %llu invalid records skipped", static_cast<unsigned long long>(result.events_skipped));
  std::printf("\n%zu users x %zu items, %zu event type(s), %zu cells on %s\n", result.users.size(), result.items.size(),
              result.has_event ? result.events.size() : std::size_t(0), result.cells.size(),
              device_name(options.device));
  if (result.has_event) {
    const auto stems = event_file_stems(result);
    for (std::size_t e = 0; e < result.events.size(); ++e) {
      long long events = 0;
      for (std::size_t i = 0; i < result.cells.size(); ++i)
        if (result.cells.event[i] == e) events += result.cells.count[i];
      std::printf("  %s: %lld events -> %s.mtx\n", result.events[e].c_str(), events, stems[e].c_str());
    }
  }
  if (!result.attributes.columns.empty()) {
    std::printf("attributes: %llu users with conflicting values (",
                static_cast<unsigned long long>(result.attributes.users_conflicted));
    for (std::size_t c = 0; c < result.attributes.columns.size(); ++c)
      std::printf("%s%s %llu", c ? ", " : "", result.attributes.columns[c].c_str(),
                  static_cast<unsigned long long>(result.attributes.conflicts[c]));
    std::printf(")\n");
  }
  std::printf("wrote %s\n", out_dir.c_str());
}

void setup(CLI::App& app) {
  auto* c = app.add_subcommand("matrix", "Build user x item matrices (counts, sums, times) from an event log");
  c->add_option("--events", events_path, "Event log: .csv, .json (array or {\"KEY\": [...]}), .ndjson/.jsonl")
      ->required();
  c->add_option("--user-col", reader.user_col, "User id column (JSON: dotted path, e.g. user.id)")->required();
  c->add_option("--item-col", reader.item_col, "Item/category column")->required();
  c->add_option("--event-col", reader.event_col, "Event type column: one matrix per event type");
  c->add_option("--time-col", reader.time_col, "Time column: epoch seconds or ISO 8601");
  c->add_option("--weight-col", reader.weight_col, "Weight column (empty = 1): writes <event>.sum.mtx");
  c->add_option("--attr-cols", attr_cols, "User attribute columns, comma-separated: writes attributes.csv");
  c->add_option("--out", out_dir, "Output directory")->required();
  c->add_option("--input-format", reader.format, "csv, json or ndjson (default: by extension and content)");
  c->add_option("--records-key", reader.records_key, "JSON: the top-level member holding the records array");
  c->add_flag("--skip-invalid", reader.skip_invalid, "Skip and count bad records instead of stopping");
  c->add_option("--format", write_options.format, "Matrix files: mtx, npy (CSR .npy triples) or both")
      ->check(CLI::IsMember({"mtx", "npy", "both"}))
      ->capture_default_str();
  c->add_flag("--shares", write_options.shares, "Also write row-normalized counts <event>.shares.mtx");
  c->add_flag("--tfidf", write_options.tfidf, "Also write TF-IDF weighted counts <event>.tfidf.mtx");
  c->add_option("--conversion", write_options.conversion, "NUM/DEN event types: writes conversion.mtx");
  c->add_option("--long", write_options.long_csv, "Also write a long CSV user,item,event,count,sum,first,last,mean_interval");
  c->add_option("--chunk-events", chunk_events, "Records per chunk (memory bound)")->capture_default_str();
  c->add_option("--user-from", user_from, "CSV mapping --user-col values to user ids (e.g. a join's points file)");
  c->add_option("--user-from-key", user_from_key, "Key column of --user-from (default: the --user-col name)");
  c->add_option("--user-from-col", user_from_col, "User id column of --user-from (e.g. user_id)");
  add_common_flags(c, common);
  c->callback(run_matrix);
}

}  // namespace
COHORT_REGISTER_COMMAND(30, setup);
}  // namespace cohort::app
