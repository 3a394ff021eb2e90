/*
 * matrix.cu: aggregate_events on the device.
 *   1. pack_keys_kernel: key[i] = pack_cell_key(row, event, col), value[i] = i
 *   2. cub::DeviceRadixSort::SortPairs over the key bits in use only (stable, so equal
 *      keys keep their event order)
 *   3. cub::DeviceRunLengthEncode::Encode: the distinct keys (cells) and their event
 *      counts; cub::DeviceScan::ExclusiveSum: where each cell's events start
 *      (counts only, without times and weights: SortKeys, no values, and the run
 *      lengths are the result: no scan, no step 4)
 *   4. fold_cells_kernel, one thread per cell: cell_from_event of its first event, then
 *      cell_merge with each next one in event order, as the CPU folds (a tree-shaped
 *      reduction such as ReduceByKey would add the weights in another order, and the
 *      sums would differ in the last bits)
 *   5. the keys and accumulators come back; keys are unpacked on the host.
 * The per-element code (key packing, cell_from_event, cell_merge) is
 * kernels/matrix_element.hpp, which the CPU backend calls too. Memory on the device:
 * about 90 bytes per event (inputs 26, keys 2 x 8, indices 2 x 4, run lengths and
 * starts 2 x 4, accumulators 32 per cell, sort scratch).
 */
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_run_length_encode.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>

#include "host/cuda/runtime.hpp"
#include "kernels/launch.cuh"
#include "kernels/matrix.hpp"
#include "kernels/matrix_element.hpp"

namespace cohort::cuda {
namespace {

__global__ void pack_keys_kernel(const std::uint32_t* row, const std::uint32_t* col, const std::uint16_t* event,
                                 KeyLayout layout, std::uint64_t* keys, std::uint32_t* index, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    keys[i] = pack_cell_key(row[i], event ? event[i] : 0u, col[i], layout);
    if (index) index[i] = static_cast<std::uint32_t>(i);
  }
}

// Cell c's events are sorted positions [start[c], start[c] + length[c]); index maps a
// sorted position to its event. Folded left to right, as the CPU backend does.
__global__ void fold_cells_kernel(const std::uint32_t* index, const std::uint32_t* start, const std::uint32_t* length,
                                  std::size_t cells, const double* time, const double* weight, CellAccumulator* out) {
  for (std::size_t c = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; c < cells;
       c += std::size_t(gridDim.x) * blockDim.x) {
    const std::uint32_t first = start[c], end = first + length[c];
    std::uint32_t k = index[first];
    CellAccumulator acc = cell_from_event(time ? time[k] : 0.0, weight ? weight[k] : 1.0);
    for (std::uint32_t p = first + 1; p < end; ++p) {
      k = index[p];
      acc = cell_merge(acc, cell_from_event(time ? time[k] : 0.0, weight ? weight[k] : 1.0));
    }
    out[c] = acc;
  }
}

unsigned grid_for(std::size_t n) {
  return static_cast<unsigned>(std::min<std::size_t>(ceil_div<std::size_t>(n, 256), 65535));
}

template <typename T>
DeviceBuffer<T> upload(const T* host, std::size_t n, cudaStream_t stream) {
  if (!host) return DeviceBuffer<T>();
  DeviceBuffer<T> d(n, stream);
  d.copy_from_host(host, n, stream);
  return d;
}

}  // namespace

CellTable aggregate_events_cuda(const EventArrays& ev, float* device_ms) {
  CellTable out;
  out.counts_only = !ev.time && !ev.weight;
  const std::size_t n = ev.size;
  if (n == 0) return out;
  // CUB's run-length encoding counts items in int (the engine's chunks are far smaller).
  COHORT_EXPECTS(n < std::size_t(INT32_MAX), "aggregate_events_cuda: at most 2^31 - 1 events per call");
  const KeyLayout layout = make_key_layout(ev.rows, ev.cols, ev.events);
  const int end_bit = std::max(1, static_cast<int>(layout.row_bits + layout.event_bits + layout.col_bits));
  Stream stream;
  const cudaStream_t s = stream.get();
  DeviceBuffer<std::uint32_t> d_row = upload(ev.row, n, s), d_col = upload(ev.col, n, s);
  DeviceBuffer<std::uint16_t> d_event = upload(ev.event, n, s);
  DeviceBuffer<double> d_time = upload(ev.time, n, s), d_weight = upload(ev.weight, n, s);

  // Counts alone need no event order: the keys are sorted without an index, and each
  // cell's run length is its count (no scan, no fold).
  const bool fold = !out.counts_only;
  DeviceBuffer<std::uint64_t> d_keys(n, s), d_sorted_keys(n, s);
  DeviceBuffer<std::uint32_t> d_length(n, s), d_index, d_sorted_index, d_start;
  if (fold) {
    d_index = DeviceBuffer<std::uint32_t>(n, s);
    d_sorted_index = DeviceBuffer<std::uint32_t>(n, s);
    d_start = DeviceBuffer<std::uint32_t>(n, s);
  }
  DeviceBuffer<std::uint64_t>& d_unique = d_keys;  // the unsorted keys are dead after the sort
  DeviceBuffer<std::uint64_t> d_runs(1, s);
  // Scratch for the largest of the calls: the scan's need grows with its length, so
  // querying it for n items covers the real call over the (fewer) cells.
  std::size_t sort_bytes = 0, encode_bytes = 0, scan_bytes = 0;
  if (fold) {
    COHORT_CUDA_TRY(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, d_keys.data(), d_sorted_keys.data(),
                                                    d_index.data(), d_sorted_index.data(), n, 0, end_bit, s));
    COHORT_CUDA_TRY(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, d_length.data(), d_start.data(), n, s));
  } else {
    COHORT_CUDA_TRY(cub::DeviceRadixSort::SortKeys(nullptr, sort_bytes, d_keys.data(), d_sorted_keys.data(), n, 0,
                                                   end_bit, s));
  }
  COHORT_CUDA_TRY(cub::DeviceRunLengthEncode::Encode(nullptr, encode_bytes, d_sorted_keys.data(), d_unique.data(),
                                                     d_length.data(), d_runs.data(), n, s));
  DeviceBuffer<char> d_temp(std::max({sort_bytes, encode_bytes, scan_bytes}), s);
  Event start, stop;  // the device work alone, from events in device memory to cells there
  start.record(s);
  COHORT_LAUNCH(pack_keys_kernel, grid_for(n), 256, 0, s)(d_row.data(), d_col.data(),
      ev.event ? d_event.data() : nullptr, layout, d_keys.data(), fold ? d_index.data() : nullptr, n);
  COHORT_CHECK_LAUNCH(s);
  if (fold)
    COHORT_CUDA_TRY(cub::DeviceRadixSort::SortPairs(d_temp.data(), sort_bytes, d_keys.data(), d_sorted_keys.data(),
                                                    d_index.data(), d_sorted_index.data(), n, 0, end_bit, s));
  else
    COHORT_CUDA_TRY(cub::DeviceRadixSort::SortKeys(d_temp.data(), sort_bytes, d_keys.data(), d_sorted_keys.data(), n,
                                                   0, end_bit, s));
  COHORT_CUDA_TRY(cub::DeviceRunLengthEncode::Encode(d_temp.data(), encode_bytes, d_sorted_keys.data(), d_unique.data(),
                                                     d_length.data(), d_runs.data(), n, s));
  std::uint64_t runs = 0;
  DeviceBuffer<CellAccumulator> d_merged;
  if (fold) {
    d_runs.copy_to_host(&runs, 1, s);
    stream.synchronize();
    COHORT_CUDA_TRY(cub::DeviceScan::ExclusiveSum(d_temp.data(), scan_bytes, d_length.data(), d_start.data(), runs, s));
    d_merged = DeviceBuffer<CellAccumulator>(runs, s);
    COHORT_LAUNCH(fold_cells_kernel, grid_for(runs), 256, 0, s)(d_sorted_index.data(), d_start.data(),
        d_length.data(), runs, ev.time ? d_time.data() : nullptr, ev.weight ? d_weight.data() : nullptr,
        d_merged.data());
    COHORT_CHECK_LAUNCH(s);
  }
  stop.record(s);
  stream.synchronize();
  if (device_ms) *device_ms = stop.elapsed_ms_since(start);
  if (!fold) {
    d_runs.copy_to_host(&runs, 1, s);
    stream.synchronize();
  }

  std::vector<std::uint64_t> keys(runs);
  std::vector<CellAccumulator> cells(fold ? runs : 0);
  std::vector<std::uint32_t> counts(fold ? 0 : runs);
  d_unique.copy_to_host(keys.data(), runs, s);
  if (fold) d_merged.copy_to_host(cells.data(), runs, s);
  else d_length.copy_to_host(counts.data(), runs, s);
  stream.synchronize();
  out.resize(runs);
  for (std::size_t i = 0; i < runs; ++i) {
    out.row[i] = key_row(keys[i], layout);
    out.event[i] = static_cast<std::uint16_t>(key_event(keys[i], layout));
    out.col[i] = key_col(keys[i], layout);
    if (!fold) {
      out.count[i] = counts[i];
      continue;
    }
    out.count[i] = cells[i].count;
    out.sum[i] = cells[i].sum;
    out.first[i] = cells[i].first;
    out.last[i] = cells[i].last;
  }
  return out;
}

}  // namespace cohort::cuda
