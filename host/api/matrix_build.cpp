/*
 * matrix_build.cpp: build_matrix, the streaming driver of the matrix engine.
 *
 * Per chunk from the EventReader: user/item/event strings -> provisional ids (first-seen
 * order, StringDictionary; with the CUDA backend equal strings are grouped on the
 * device first, so the dictionary sees each distinct string of a chunk once), the chunk
 * aggregated on the backend (aggregate_events), then merged with the earlier chunks'
 * cells by linear merges of (row, event, col)-sorted tables (PartialMerger); provisional
 * ids never change, so that order stays valid. Memory: one chunk, the dictionaries and
 * about 1.5 x the distinct cells. At the end ids are renumbered in byte order of their
 * names and the cells re-sorted; attributes are resolved per user.
 */
#include <algorithm>
#include <numeric>
#include <tuple>

#include "cohort/error.hpp"
#include "cohort/matrix.hpp"
#include "cohort/progress.hpp"
#include "host/io/string_dictionary.hpp"
#include "kernels/matrix_element.hpp"
#ifdef COHORT_WITH_CUDA
#include "kernels/dictionary.hpp"
#endif

namespace cohort {
namespace {

bool unknown_value(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.size() > 7) return false;
  std::string lower(v);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.empty() || lower == "u" || lower == "unknown" || lower == "null" || lower == "na" || lower == "n/a";
}

bool cell_less(const CellTable& a, std::size_t i, const CellTable& b, std::size_t j) {
  return std::tie(a.row[i], a.event[i], a.col[i]) < std::tie(b.row[j], b.event[j], b.col[j]);
}

void copy_cell(CellTable& out, std::size_t k, const CellTable& in, std::size_t i) {
  out.row[k] = in.row[i];
  out.col[k] = in.col[i];
  out.event[k] = in.event[i];
  out.count[k] = in.count[i];
  if (out.counts_only) return;
  out.sum[k] = in.sum_at(i);
  out.first[k] = in.first_at(i);
  out.last[k] = in.last_at(i);
}

// Linear merge of two sorted unique tables; equal cells are combined with cell_merge.
CellTable merge_tables(const CellTable& a, const CellTable& b) {
  CellTable out;
  out.counts_only = a.counts_only && b.counts_only;
  out.resize(a.size() + b.size());
  std::size_t i = 0, j = 0, k = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && cell_less(a, i, b, j))) {
      copy_cell(out, k++, a, i++);
    } else if (i == a.size() || cell_less(b, j, a, i)) {
      copy_cell(out, k++, b, j++);
    } else {
      copy_cell(out, k, a, i);
      const CellAccumulator m = cell_merge(CellAccumulator{a.count[i], a.sum_at(i), a.first_at(i), a.last_at(i)},
                                           CellAccumulator{b.count[j], b.sum_at(j), b.first_at(j), b.last_at(j)});
      out.count[k] = m.count;
      if (!out.counts_only) {
        out.sum[k] = m.sum;
        out.first[k] = m.first;
        out.last[k] = m.last;
      }
      ++i, ++j, ++k;
    }
  }
  out.resize(k);
  return out;
}

// Chunk tables are merged like a binary counter (a table is merged with the previous one
// while that one is at most twice its size), and the pending tables are folded into the
// running table once they hold half as many cells as it: memory stays within about
// 1.5 x the distinct cells plus a chunk, and every cell is merged O(log chunks) times
// (merging each chunk into the running table directly costs O(cells) per chunk).
class PartialMerger {
 public:
  void add(CellTable part) {
    pending_cells_ += part.size();
    pending_.push_back(std::move(part));
    while (pending_.size() >= 2 && pending_[pending_.size() - 2].size() <= 2 * pending_.back().size()) {
      CellTable merged = merge_tables(pending_[pending_.size() - 2], pending_.back());
      pending_.pop_back();
      pending_.back() = std::move(merged);
    }
    if (2 * pending_cells_ >= total_.size()) fold();
  }
  CellTable finish() {
    fold();
    return std::move(total_);
  }

 private:
  void fold() {
    if (pending_.empty()) return;
    while (pending_.size() >= 2) {
      CellTable merged = merge_tables(pending_[pending_.size() - 2], pending_.back());
      pending_.pop_back();
      pending_.back() = std::move(merged);
    }
    total_ = total_.size() == 0 ? std::move(pending_.back()) : merge_tables(total_, pending_.back());
    pending_.clear();
    pending_cells_ = 0;
  }
  CellTable total_;
  std::vector<CellTable> pending_;
  std::size_t pending_cells_ = 0;
};

// Ids of a chunk's strings: parallel hashing and read-only lookups (each slot
// prefetched a few lookups ahead), then the misses inserted sequentially in record
// order, so ids are exactly first-seen order.
void encode_column(StringDictionary& dict, const StringColumn& column, std::uint32_t* ids,
                   std::vector<std::uint64_t>& hashes) {
  const std::size_t n = column.size();
  hashes.resize(n);
  constexpr std::size_t ahead = 16;
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) hashes[i] = StringDictionary::hash(column[i]);
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    if (i + ahead < n) dict.prefetch(hashes[i + ahead]);
    ids[i] = dict.find(column[i], hashes[i]);
  }
  for (std::size_t i = 0; i < n; ++i)
    if (ids[i] == StringDictionary::kMissing) ids[i] = dict.encode(column[i], hashes[i]);
}

#ifdef COHORT_WITH_CUDA
// encode_column with the grouping of equal strings on the device: the host dictionary
// sees each distinct string once, at its first row, in first-row order, so the ids are
// the ones encode_column gives. False (nothing encoded) when two different strings
// shared a hash; the caller then encodes on the host.
bool encode_column_on_device(StringDictionary& dict, const StringColumn& column, std::uint32_t* ids) {
  if (column.size() >= (std::size_t(1) << 31)) return false;  // the device grouping counts rows in int
  const cuda::StringGroups g = cuda::group_strings_cuda(column.bytes().data(), column.offsets().data(), column.size());
  if (g.collision) return false;
  std::vector<std::uint32_t> order(g.first.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return g.first[a] < g.first[b]; });
  std::vector<std::uint32_t> id_of_group(g.first.size());
  for (const std::uint32_t group : order) id_of_group[group] = dict.encode(column[g.first[group]], g.hash[group]);
  for (std::size_t i = 0; i < column.size(); ++i) ids[i] = id_of_group[g.group[i]];
  return true;
}
#endif

// Names in byte order and old id -> new id.
std::vector<std::string> sorted_names(const StringDictionary& dict, std::vector<std::uint32_t>& new_id) {
  std::vector<std::uint32_t> order(dict.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) { return dict.name(x) < dict.name(y); });
  new_id.assign(dict.size(), 0);
  std::vector<std::string> names(dict.size());
  for (std::size_t r = 0; r < order.size(); ++r) {
    new_id[order[r]] = static_cast<std::uint32_t>(r);
    names[r] = std::string(dict.name(order[r]));
  }
  return names;
}

// Per attribute column and user: (value id, count) in first-seen order.
struct AttributeCounts {
  std::vector<StringDictionary> values;
  std::vector<std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>>> per_user;

  void add(std::size_t column, std::uint32_t user, std::string_view value) {
    auto& users = per_user[column];
    if (users.size() <= user) users.resize(std::max<std::size_t>(user + 1, users.size() * 2));
    const std::uint32_t v = values[column].encode(value);
    auto& list = users[user];
    for (auto& entry : list)
      if (entry.first == v) {
        ++entry.second;
        return;
      }
    list.emplace_back(v, 1u);
  }

  AttributeTable resolve(const std::vector<std::string>& columns, const std::vector<std::uint32_t>& new_user) const {
    AttributeTable table;
    table.columns = columns;
    table.conflicts.assign(columns.size(), 0);
    table.values.assign(new_user.size(), std::vector<std::string>(columns.size()));
    for (std::size_t old = 0; old < new_user.size(); ++old) {
      bool conflicted = false;
      for (std::size_t c = 0; c < columns.size(); ++c) {
        if (old >= per_user[c].size()) continue;
        const auto& list = per_user[c][old];
        if (list.size() > 1) {
          conflicted = true;
          ++table.conflicts[c];
        }
        const bool any_known = std::any_of(list.begin(), list.end(),
                                           [&](const auto& e) { return !unknown_value(values[c].name(e.first)); });
        const std::pair<std::uint32_t, std::uint32_t>* best = nullptr;
        for (const auto& e : list) {
          if (any_known && unknown_value(values[c].name(e.first))) continue;
          if (!best || e.second > best->second) best = &e;
        }
        if (best) table.values[new_user[old]][c] = std::string(values[c].name(best->first));
      }
      table.users_conflicted += conflicted ? 1 : 0;
    }
    return table;
  }
};

}  // namespace

MatrixResult build_matrix(const std::string& path, const MatrixOptions& options) {
  const Device device = resolve_device(options.device);
  EventReader reader(path, options.reader);
  MatrixResult result;
  result.format = reader.format();
  if (result.format.rfind("json ", 0) == 0)
    log_verbose(path + ": " + result.format + ", streamed in blocks of " + std::to_string(options.reader.chunk_bytes) +
                " bytes");
  result.has_event = !options.reader.event_col.empty();
  result.has_time = !options.reader.time_col.empty();
  result.has_weight = !options.reader.weight_col.empty();
  const std::size_t n_attrs = options.reader.attr_cols.size();

  StringDictionary users, items, events;
  AttributeCounts attrs;
  attrs.values.resize(n_attrs);
  attrs.per_user.resize(n_attrs);
  PartialMerger merger;
  EventChunk chunk;
  std::vector<std::uint32_t> row, col;
  std::vector<std::uint16_t> event;
  std::vector<std::uint32_t> event32;
  std::vector<std::uint64_t> hashes;
  auto encode = [&](StringDictionary& dict, const StringColumn& column, std::uint32_t* ids) {
#ifdef COHORT_WITH_CUDA
    if (device == Device::Cuda && encode_column_on_device(dict, column, ids)) return;
#endif
    encode_column(dict, column, ids, hashes);
  };
  Progress progress("matrix " + path, reader.bytes_total(), "bytes");
  std::uint64_t reported = 0;
  while (reader.next(chunk)) {
    const std::size_t n = chunk.size();
    row.resize(n);
    col.resize(n);
    event.resize(n);
    event32.resize(n);
    encode(users, chunk.user, row.data());
    encode(items, chunk.item, col.data());
    encode(events, chunk.event, event32.data());
    for (std::size_t i = 0; i < n; ++i) {
      if (event32[i] > 0xffff) throw InvalidInput(path, 0, "more than 65536 event types");
      event[i] = static_cast<std::uint16_t>(event32[i]);
    }
    for (std::size_t c = 0; c < n_attrs; ++c)
      for (std::size_t i = 0; i < n; ++i) attrs.add(c, row[i], chunk.attrs[c][i]);
    EventArrays arrays;
    arrays.row = row.data();
    arrays.col = col.data();
    arrays.event = event.data();
    arrays.time = result.has_time ? chunk.time.data() : nullptr;
    arrays.weight = result.has_weight ? chunk.weight.data() : nullptr;
    arrays.size = n;
    arrays.rows = static_cast<std::uint32_t>(users.size());
    arrays.cols = static_cast<std::uint32_t>(items.size());
    arrays.events = static_cast<std::uint32_t>(events.size());
    if (!fits(make_key_layout(arrays.rows, arrays.cols, arrays.events)))
      throw InvalidInput(path, 0, "too many users x items x event types for a 64-bit cell key");
    merger.add(aggregate_events(arrays, device));
    progress.add(reader.bytes_consumed() - reported);
    reported = reader.bytes_consumed();
  }
  progress.finish();
  const CellTable cells = merger.finish();
  result.events_read = reader.records_read();
  result.events_skipped = reader.records_skipped();
  if (result.events_read == 0)
    throw InvalidInput(path, 0, "no valid events (" + std::to_string(result.events_skipped) + " skipped)");

  std::vector<std::uint32_t> new_user, new_item, new_event;
  result.users = sorted_names(users, new_user);
  result.items = sorted_names(items, new_item);
  result.events = sorted_names(events, new_event);
  // Renumber and re-sort the cells by (row, event, col) in final ids: a counting sort
  // by the new row, then each row's few cells sorted by their packed key.
  const KeyLayout layout = make_key_layout(users.size(), items.size(), events.size());
  std::vector<std::size_t> row_start(users.size() + 1, 0);
  for (std::size_t i = 0; i < cells.size(); ++i) ++row_start[new_user[cells.row[i]] + 1];
  std::partial_sum(row_start.begin(), row_start.end(), row_start.begin());
  std::vector<std::pair<std::uint64_t, std::uint32_t>> keys(cells.size());
  {
    std::vector<std::size_t> next(row_start.begin(), row_start.end() - 1);
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::uint32_t user = new_user[cells.row[i]];
      keys[next[user]++] = {pack_cell_key(user, new_event[cells.event[i]], new_item[cells.col[i]], layout),
                           static_cast<std::uint32_t>(i)};
    }
  }
#pragma omp parallel for schedule(dynamic, 4096)
  for (std::size_t r = 0; r < users.size(); ++r)
    std::sort(keys.begin() + static_cast<std::ptrdiff_t>(row_start[r]),
              keys.begin() + static_cast<std::ptrdiff_t>(row_start[r + 1]));
  result.cells.counts_only = cells.counts_only;
  result.cells.resize(cells.size());
  for (std::size_t k = 0; k < keys.size(); ++k) {
    copy_cell(result.cells, k, cells, keys[k].second);
    result.cells.row[k] = key_row(keys[k].first, layout);
    result.cells.event[k] = static_cast<std::uint16_t>(key_event(keys[k].first, layout));
    result.cells.col[k] = key_col(keys[k].first, layout);
  }
  if (n_attrs > 0) result.attributes = attrs.resolve(options.reader.attr_cols, new_user);
  return result;
}

}  // namespace cohort
