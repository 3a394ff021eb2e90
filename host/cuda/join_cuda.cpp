/*
 * join_cuda.cpp: CudaJoiner. The grid is copied to the device once. join() cuts the
 * points into batches sized by the memory budget and runs them through two slots
 * (stream, pinned staging, device buffers), so batch b's upload, count and scan overlap
 * batch b-1's fill and download:
 *
 *   for b: queue the fill of b-1 (other slot): wait for its total, grow the pair
 *            buffers if needed, fill, pairs -> host
 *          stage A(b) on slot b%2: host -> pinned (all threads) -> device, count, scan,
 *            total -> host; the host copy overlaps b-1's fill
 *          append b-1's pairs (all threads)
 *
 * Batches complete in order, so the pairs stay sorted by point, then feature. Half the
 * memory budget holds the slots' points, half their pairs: a batch with more pairs than
 * a slot holds (heavily overlapping polygons) is filled and copied back in point
 * ranges, cut where its offsets say.
 */
#include "host/cuda/join_cuda.hpp"

#include <algorithm>
#include <cstring>

#include "host/cuda/runtime.hpp"
#include "kernels/join.hpp"

namespace cohort::cuda {

namespace {

struct Slot {
  Stream stream;
  PinnedBuffer<double> h_x, h_y;
  PinnedBuffer<std::uint64_t> h_total;
  DeviceBuffer<double> d_x, d_y;
  DeviceBuffer<std::uint64_t> d_counts, d_offsets;
  DeviceBuffer<unsigned char> d_temp;
  DeviceBuffer<std::uint64_t> d_point;
  DeviceBuffer<std::uint32_t> d_feature;
  PinnedBuffer<std::uint64_t> h_point;
  PinnedBuffer<std::uint32_t> h_feature;
  std::size_t temp_bytes = 0;
  std::size_t begin = 0, count = 0, total = 0;  // the batch in flight and its pairs

  Slot() = default;
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  // In-flight copies may still read the pinned buffers: wait before they go.
  ~Slot() { wait_quietly(); }
  void wait_quietly() noexcept { COHORT_CUDA_LOG(cudaStreamSynchronize(stream.get())); }
};

// dst[0, count) = src[0, count) on all CPU threads: one thread's memcpy would bound the
// rate at which batches reach the device and pairs come back.
template <typename T>
void parallel_copy(T* dst, const T* src, std::size_t count) {
  constexpr std::size_t kPiece = std::size_t(1) << 16;
  const auto pieces = static_cast<std::int64_t>((count + kPiece - 1) / kPiece);
#pragma omp parallel for schedule(static) if (pieces > 4)
  for (std::int64_t p = 0; p < pieces; ++p) {
    const std::size_t first = static_cast<std::size_t>(p) * kPiece;
    std::memcpy(dst + first, src + first, std::min(kPiece, count - first) * sizeof(T));
  }
}

// Every buffer is allocated before any is replaced: a failed allocation leaves the slot
// as it was (sizes consistent) for the next join.
// Capacity grows by half at least, up to `limit` (but always to `pairs`).
void grow(Slot& s, std::size_t pairs, std::size_t limit) {
  if (s.d_point.size() >= pairs) return;
  const std::size_t capacity = std::max(pairs, std::min(limit, s.d_point.size() + s.d_point.size() / 2));
  DeviceBuffer<std::uint64_t> d_point(capacity, s.stream.get());
  DeviceBuffer<std::uint32_t> d_feature(capacity, s.stream.get());
  PinnedBuffer<std::uint64_t> h_point(capacity);
  PinnedBuffer<std::uint32_t> h_feature(capacity);
  s.d_point = std::move(d_point);
  s.d_feature = std::move(d_feature);
  s.h_point = std::move(h_point);
  s.h_feature = std::move(h_feature);
}

// Point buffers for batches of `batch` points, replaced all at once as in grow.
void reserve_points(Slot& s, std::size_t batch) {
  if (s.d_x.size() >= batch) return;
  const cudaStream_t st = s.stream.get();
  PinnedBuffer<double> h_x(batch), h_y(batch);
  PinnedBuffer<std::uint64_t> h_total(1);
  DeviceBuffer<double> d_x(batch, st), d_y(batch, st);
  DeviceBuffer<std::uint64_t> d_counts(batch + 1, st), d_offsets(batch + 1, st);
  const std::size_t temp_bytes = join_scan_temp_bytes(batch);
  DeviceBuffer<unsigned char> d_temp(temp_bytes, st);
  s.h_x = std::move(h_x), s.h_y = std::move(h_y), s.h_total = std::move(h_total);
  s.d_counts = std::move(d_counts), s.d_offsets = std::move(d_offsets);
  s.d_temp = std::move(d_temp);
  s.temp_bytes = temp_bytes;
  s.d_y = std::move(d_y);
  s.d_x = std::move(d_x);  // last: its size is the test above
}

}  // namespace

struct CudaJoiner::Impl {
  Stream setup;
  DeviceBuffer<JoinCellWord> occupied;
  DeviceBuffer<std::uint32_t> cell_offsets;
  DeviceBuffer<double> records;
  JoinGridView view{};
  std::size_t batch = 0;      // points per batch
  std::size_t pair_cap = 0;   // pairs a slot holds at once; a batch with more is split
  Slot slots[2];
};

CudaJoiner::CudaJoiner(const JoinGrid& grid, std::size_t gpu_memory) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  const cudaStream_t s = m.setup.get();
  m.occupied = DeviceBuffer<JoinCellWord>(grid.occupied.size(), s);
  m.cell_offsets = DeviceBuffer<std::uint32_t>(grid.cell_offsets.size(), s);
  m.records = DeviceBuffer<double>(grid.records.size(), s);
  m.occupied.copy_from_host(grid.occupied.data(), grid.occupied.size(), s);
  m.cell_offsets.copy_from_host(grid.cell_offsets.data(), grid.cell_offsets.size(), s);
  m.records.copy_from_host(grid.records.data(), grid.records.size(), s);
  m.setup.synchronize();
  m.view = JoinGridView{grid.x0,   grid.y0,           grid.inv_w,          grid.inv_h,
                        grid.cols, grid.rows,         m.occupied.data(),   m.cell_offsets.data(),
                        m.records.data()};
  // Half the budget for the two slots' points (x, y, count, offset: 32 bytes each), half
  // for their pairs (point, feature: 12 bytes each).
  const std::size_t budget = gpu_memory ? gpu_memory : free_device_memory() / 2;
  m.batch = std::clamp<std::size_t>(budget / 2 / (2 * 32), std::size_t(1) << 12, std::size_t(1) << 26);
  m.pair_cap = std::max<std::size_t>(budget / 2 / (2 * 12), std::size_t(1) << 12);
}

CudaJoiner::~CudaJoiner() = default;

JoinPairs CudaJoiner::join(const double* x, const double* y, std::size_t n, bool first) {
  auto& m = *impl_;
  JoinPairs out;
  if (n == 0) return out;
  const std::size_t batch = std::min(m.batch, n);
  for (auto& s : m.slots) reserve_points(s, batch);
  auto stage_a = [&](Slot& s, std::size_t begin) {
    const cudaStream_t st = s.stream.get();
    s.begin = begin;
    s.count = std::min(batch, n - begin);
    parallel_copy(s.h_x.data(), x + begin, s.count);
    parallel_copy(s.h_y.data(), y + begin, s.count);
    s.d_x.copy_from_host(s.h_x.data(), s.count, st);
    s.d_y.copy_from_host(s.h_y.data(), s.count, st);
    join_count(m.view, s.d_x.data(), s.d_y.data(), s.count, first, s.d_counts.data(), st);
    join_scan(s.d_counts.data(), s.d_offsets.data(), s.count, s.d_temp.data(), s.temp_bytes, st);
    s.d_offsets.copy_to_host(s.h_total.data(), 1, st, s.count);
  };
  // Points [i0, i1) of the slot's batch, whose pairs start at pair pair_base: fill, and
  // queue the pairs' copy to the host.
  auto fill_range = [&](Slot& s, std::size_t i0, std::size_t i1, std::uint64_t pair_base, std::size_t pairs) {
    const cudaStream_t st = s.stream.get();
    join_fill(m.view, s.d_x.data() + i0, s.d_y.data() + i0, i1 - i0, first, s.d_offsets.data() + i0, s.begin + i0,
              pair_base, s.d_point.data(), s.d_feature.data(), st);
    s.d_point.copy_to_host(s.h_point.data(), pairs, st);
    s.d_feature.copy_to_host(s.h_feature.data(), pairs, st);
  };
  auto append_pairs = [&](Slot& s, std::size_t pairs) {
    s.stream.synchronize();
    const std::size_t at = out.point.size();
    out.point.resize(at + pairs);
    out.feature.resize(at + pairs);
    parallel_copy(out.point.data() + at, s.h_point.data(), pairs);
    parallel_copy(out.feature.data() + at, s.h_feature.data(), pairs);
  };
  // Stage B, split so the host stages the next batch while the device fills this one.
  auto queue_fill = [&](Slot& s) {
    s.stream.synchronize();
    s.total = s.h_total[0];
    if (s.total == 0 || s.total > m.pair_cap) return;  // more pairs than a slot holds: see append
    grow(s, s.total, m.pair_cap);
    fill_range(s, 0, s.count, 0, s.total);
  };
  auto append = [&](Slot& s) {
    if (s.total == 0) return;
    if (s.total <= m.pair_cap) return append_pairs(s, s.total);
    // Point ranges of at most pair_cap pairs (at least one point each), one at a time;
    // the batch's offsets say where to cut.
    std::vector<std::uint64_t> offsets(s.count + 1);
    s.d_offsets.copy_to_host(offsets.data(), s.count + 1, s.stream.get());
    s.stream.synchronize();
    for (std::size_t i0 = 0; i0 < s.count;) {
      const auto end = std::upper_bound(offsets.begin() + static_cast<std::ptrdiff_t>(i0) + 1, offsets.end(),
                                        offsets[i0] + m.pair_cap);
      const std::size_t i1 = std::max(i0 + 1, static_cast<std::size_t>(end - offsets.begin()) - 1);
      const std::size_t pairs = offsets[i1] - offsets[i0];
      if (pairs > 0) {
        grow(s, pairs, m.pair_cap);
        fill_range(s, i0, i1, offsets[i0], pairs);
        append_pairs(s, pairs);
      }
      i0 = i1;
    }
  };
  Slot* previous = nullptr;
  std::size_t b = 0;
  try {
    for (std::size_t begin = 0; begin < n; begin += batch, ++b) {
      Slot& slot = m.slots[b % 2];
      if (previous) queue_fill(*previous);
      stage_a(slot, begin);
      if (previous) append(*previous);
      previous = &slot;
    }
    queue_fill(*previous);
    append(*previous);
  } catch (...) {
    // The other slot's batch may still be in flight; the next join reuses its buffers.
    for (auto& s : m.slots) s.wait_quietly();
    throw;
  }
  return out;
}

double CudaJoiner::time_resident(const double* x, const double* y, std::size_t n, bool first, int repeats,
                                 std::size_t* pairs) {
  auto& m = *impl_;
  Slot& s = m.slots[0];
  const cudaStream_t st = s.stream.get();
  DeviceBuffer<double> d_x(n, st), d_y(n, st);
  DeviceBuffer<std::uint64_t> d_counts(n + 1, st), d_offsets(n + 1, st);
  const std::size_t temp_bytes = join_scan_temp_bytes(n);
  DeviceBuffer<unsigned char> d_temp(temp_bytes, st);
  d_x.copy_from_host(x, n, st);
  d_y.copy_from_host(y, n, st);
  std::uint64_t total = 0;
  join_count(m.view, d_x.data(), d_y.data(), n, first, d_counts.data(), st);
  join_scan(d_counts.data(), d_offsets.data(), n, d_temp.data(), temp_bytes, st);
  d_offsets.copy_to_host(&total, 1, st, n);
  s.stream.synchronize();
  DeviceBuffer<std::uint64_t> d_point(std::max<std::uint64_t>(total, 1), st);
  DeviceBuffer<std::uint32_t> d_feature(std::max<std::uint64_t>(total, 1), st);
  Event start, stop;
  float best_ms = 0.0f;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    start.record(st);
    join_count(m.view, d_x.data(), d_y.data(), n, first, d_counts.data(), st);
    join_scan(d_counts.data(), d_offsets.data(), n, d_temp.data(), temp_bytes, st);
    join_fill(m.view, d_x.data(), d_y.data(), n, first, d_offsets.data(), 0, 0, d_point.data(), d_feature.data(), st);
    stop.record(st);
    stop.synchronize();
    const float ms = stop.elapsed_ms_since(start);
    if (r == 0 || ms < best_ms) best_ms = ms;
  }
  if (pairs) *pairs = static_cast<std::size_t>(total);
  return static_cast<double>(best_ms) * 1e-3;
}

}  // namespace cohort::cuda
