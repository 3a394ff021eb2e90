/*
 * join.cpp: the public join API. Joiner validates points and dispatches to the CPU or
 * CUDA backend; join_files reads polygons, builds the grid, streams points in chunks
 * (progress bar), writes pairs and counts atomically and returns the summary.
 */
#include "cohort/join.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <unordered_map>

#include "cohort/atomic_file.hpp"
#include "cohort/csv.hpp"
#include "cohort/error.hpp"
#include "cohort/npy.hpp"
#include "cohort/progress.hpp"
#include "host/cpu/join_cpu.hpp"
#ifdef COHORT_WITH_CUDA
#include "host/cuda/join_cuda.hpp"
#endif

namespace cohort {

struct Joiner::Impl {
  const JoinGrid* grid = nullptr;
  bool first = false;
#ifdef COHORT_WITH_CUDA
  std::unique_ptr<cuda::CudaJoiner> gpu;
#endif
};

Joiner::Joiner(const JoinGrid& grid, const JoinOptions& options)
    : impl_(std::make_unique<Impl>()), device_(resolve_device(options.device)) {
  COHORT_EXPECTS(grid.cols > 0 && grid.rows > 0 &&
                     grid.occupied.size() == (static_cast<std::size_t>(grid.cols) * grid.rows + 31) / 32 &&
                     !grid.cell_offsets.empty() && grid.records.size() == grid.cell_offsets.back(),
                 "join: the grid is not built (use build_join_grid)");
  impl_->grid = &grid;
  impl_->first = options.first;
#ifdef COHORT_WITH_CUDA
  if (device_ == Device::Cuda) impl_->gpu = std::make_unique<cuda::CudaJoiner>(grid, options.gpu_memory);
#endif
}

Joiner::~Joiner() = default;

JoinPairs Joiner::join(const double* x, const double* y, std::size_t n) {
  if (n == 0) return {};
  COHORT_EXPECTS(x != nullptr && y != nullptr, "join: null point arrays");
#ifdef COHORT_WITH_CUDA
  if (impl_->gpu) {
    std::size_t bad = n;
#pragma omp parallel for reduction(min : bad)
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(x[i]) || !std::isfinite(y[i])) bad = std::min(bad, i);
    if (bad < n) cpu::fail_nonfinite_point(bad);
    return impl_->gpu->join(x, y, n, impl_->first);
  }
#endif
  return cpu::join_cpu(*impl_->grid, x, y, n, impl_->first);  // checks the coordinates as it reads them
}

JoinPairs join_points(const JoinGrid& grid, const double* x, const double* y, std::size_t n,
                      const JoinOptions& options) {
  Joiner joiner(grid, options);
  return joiner.join(x, y, n);
}

namespace {

std::string lower_extension(const std::string& path) {
  const auto dot = path.find_last_of('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot);
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// Ids in --first's order: integers (optional '-', digits) by value before other ids,
// which go by their bytes. A strict weak order, so equal ids keep their file order in a
// stable sort.
bool id_less(const std::string& a, const std::string& b) {
  auto integer = [](const std::string& s) {
    const std::size_t digits = s.size() - (!s.empty() && s[0] == '-');
    return digits > 0 && s.find_first_not_of("0123456789", s.size() - digits) == std::string::npos;
  };
  const bool ia = integer(a), ib = integer(b);
  if (ia != ib) return ia;
  if (!ia) return a < b;
  const bool na = a[0] == '-', nb = b[0] == '-';
  if (na != nb) return na;
  // same sign: compare magnitudes without leading zeros, by length then digits
  auto magnitude = [](const std::string& s) {
    const std::size_t start = s.find_first_not_of("-0");
    return start == std::string::npos ? std::string() : s.substr(start);
  };
  const std::string ma = magnitude(a), mb = magnitude(b);
  const bool smaller = ma.size() != mb.size() ? ma.size() < mb.size() : ma < mb;
  const bool larger = ma.size() != mb.size() ? ma.size() > mb.size() : ma > mb;
  return na ? larger : smaller;
}

// The features of s in the given order, each with its polygons, rings, vertices and id
// copied as they are.
PolygonSet reorder_features(const PolygonSet& s, const std::vector<std::size_t>& order) {
  PolygonSet out;
  for (const std::size_t f : order) {
    for (auto p = s.feature_polygon_offsets[f]; p < s.feature_polygon_offsets[f + 1]; ++p) {
      for (auto r = s.polygon_ring_offsets[p]; r < s.polygon_ring_offsets[p + 1]; ++r) {
        const auto v0 = static_cast<std::ptrdiff_t>(s.ring_offsets[r]), v1 = static_cast<std::ptrdiff_t>(s.ring_offsets[r + 1]);
        out.x.insert(out.x.end(), s.x.begin() + v0, s.x.begin() + v1);
        out.y.insert(out.y.end(), s.y.begin() + v0, s.y.begin() + v1);
        out.ring_offsets.push_back(out.x.size());
      }
      out.polygon_ring_offsets.push_back(out.rings());
    }
    out.feature_polygon_offsets.push_back(out.polygons());
    out.ids.push_back(s.ids[f]);
  }
  return out;
}

}  // namespace

JoinSummary join_files(const JoinFileOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  COHORT_EXPECTS(!o.polygons.empty(), "join: --polygons is required");
  COHORT_EXPECTS(!o.points.empty(), "join: --points is required");
  COHORT_EXPECTS(!o.out.empty(), "join: --out is required");
  const std::string out_ext = lower_extension(o.out);
  COHORT_EXPECTS(out_ext == ".csv" || out_ext == ".npy", "join: --out must end in .csv or .npy: " + o.out);
  COHORT_EXPECTS(o.counts.empty() || lower_extension(o.counts) == ".csv",
                 "join: --counts must end in .csv: " + o.counts);
  COHORT_EXPECTS(o.grid_cells >= 0, "join: --grid-cells must be >= 0");

  JoinSummary summary;
  PolygonReadOptions polygon_options;
  polygon_options.id_column = o.polygon_id_column;
  polygon_options.wkt_column = o.wkt_column;
  polygon_options.skip_invalid = o.skip_invalid;
  PolygonReadResult polygons = read_polygons(o.polygons, polygon_options);
  summary.features = polygons.polygons.features();
  summary.invalid_polygons = polygons.skipped;
  if (polygons.skipped > 0)
    log_warning("skipped " + std::to_string(polygons.skipped) + " invalid polygon records; first: " +
                polygons.first_problem);

  PointReadOptions point_options;
  point_options.id_column = o.point_id_column;
  point_options.x_column = o.x_column;
  point_options.y_column = o.y_column;
  point_options.skip_invalid = o.skip_invalid;
  point_options.chunk_points = o.chunk_points;
  PointReader reader(o.points, point_options);  // opened before the grid: fail fast on bad columns

  // With --first the features are joined in id order, so the kept one (the first in
  // join order) has the smallest id; file_index maps them back for the output.
  std::vector<std::size_t> file_index(summary.features);
  std::iota(file_index.begin(), file_index.end(), std::size_t(0));
  if (o.first) {
    std::stable_sort(file_index.begin(), file_index.end(), [&](std::size_t a, std::size_t b) {
      return id_less(polygons.polygons.ids[a], polygons.polygons.ids[b]);
    });
    polygons.polygons = reorder_features(polygons.polygons, file_index);
  }
  const JoinGrid grid = build_join_grid(polygons.polygons, o.grid_cells);
  log_verbose("join grid: " + std::to_string(grid.cols) + " x " + std::to_string(grid.rows) + " cells, " +
              std::to_string(grid.entry_count) + " cell entries, " + std::to_string(grid.edge_count) +
              " edge references");
  JoinOptions join_options;
  join_options.device = o.device;
  join_options.first = o.first;
  join_options.gpu_memory = o.gpu_memory;
  Joiner joiner(grid, join_options);
  summary.device = joiner.device();

  std::vector<std::string> feature_ids(summary.features);
  for (std::size_t f = 0; f < summary.features; ++f) feature_ids[f] = csv_escape(polygons.polygons.ids[f]);
  std::vector<std::uint64_t> feature_counts(summary.features, 0);

  // Pairs stream out chunk by chunk, so memory is set by the chunk, not the output.
  std::optional<AtomicFile> out_csv_file;
  std::optional<NpyRowWriter<std::int64_t>> out_npy_file;
  std::vector<std::int64_t> npy_pairs;
  if (out_ext == ".csv") {
    out_csv_file.emplace(o.out);
    out_csv_file->write("point_id,polygon_id\n");
  } else {
    out_npy_file.emplace(o.out, 2);
  }

  std::optional<Progress> progress;
  if (o.progress)
    progress.emplace("join", reader.total_units(), lower_extension(o.points) == ".npy" ? "points" : "bytes");
  PointChunk chunk;
  std::string text;
  std::uint64_t reported = 0;
  while (reader.next(chunk)) {
    const JoinPairs pairs = joiner.join(chunk.x.data(), chunk.y.data(), chunk.size());
    summary.points += chunk.size();
    summary.pairs += pairs.size();
    std::uint64_t matched = 0;
    for (std::size_t k = 0; k < pairs.size(); ++k) {
      if (k == 0 || pairs.point[k] != pairs.point[k - 1]) ++matched;
      ++feature_counts[pairs.feature[k]];
    }
    summary.matched += matched;
    if (out_ext == ".csv") {
      text.clear();
      for (std::size_t k = 0; k < pairs.size(); ++k) {
        const std::size_t i = pairs.point[k];
        if (chunk.has_ids)
          text += csv_escape(std::string_view(chunk.id_bytes).substr(chunk.id_offsets[i],
                                                                     chunk.id_offsets[i + 1] - chunk.id_offsets[i]));
        else
          text += std::to_string(chunk.row[i]);
        text += ',';
        text += feature_ids[pairs.feature[k]];
        text += '\n';
      }
      out_csv_file->write(text);
    } else {
      npy_pairs.clear();
      for (std::size_t k = 0; k < pairs.size(); ++k) {
        npy_pairs.push_back(static_cast<std::int64_t>(chunk.row[pairs.point[k]]));
        npy_pairs.push_back(static_cast<std::int64_t>(polygons.record[file_index[pairs.feature[k]]]));
      }
      out_npy_file->append(npy_pairs.data(), pairs.size());
    }
    const std::uint64_t done = reader.done_units();
    if (progress) progress->add(done - reported);
    reported = done;
  }
  if (progress) progress->finish();
  summary.invalid_points = reader.invalid();
  summary.unmatched = summary.points - summary.matched;
  if (reader.invalid() > 0)
    log_warning("skipped " + std::to_string(reader.invalid()) + " invalid points; first: " + reader.first_problem());

  if (!o.counts.empty()) {
    // Aggregate by id (several features may share one), in order of first appearance.
    std::unordered_map<std::string, std::size_t> index;
    std::vector<std::string> ids;
    std::vector<std::uint64_t> counts;
    std::vector<std::size_t> joined_index(summary.features);  // file position -> join order
    for (std::size_t f = 0; f < summary.features; ++f) joined_index[file_index[f]] = f;
    for (const std::size_t f : joined_index) {
      auto [it, inserted] = index.emplace(polygons.polygons.ids[f], ids.size());
      if (inserted) {
        ids.push_back(feature_ids[f]);
        counts.push_back(0);
      }
      counts[it->second] += feature_counts[f];
    }
    std::string counts_text = "polygon_id,count\n";
    for (std::size_t i = 0; i < ids.size(); ++i) counts_text += ids[i] + "," + std::to_string(counts[i]) + "\n";
    AtomicFile counts_file(o.counts);
    counts_file.write(counts_text);
    if (out_csv_file) out_csv_file->commit();
    if (out_npy_file) out_npy_file->commit();
    counts_file.commit();
  } else {
    if (out_csv_file) out_csv_file->commit();
    if (out_npy_file) out_npy_file->commit();
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace cohort
