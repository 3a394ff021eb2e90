/*
 * matrix.hpp: the CUDA backend of aggregate_events (launcher declaration only, so host
 * code stays plain C++).
 */
#pragma once

#include "cohort/matrix.hpp"

namespace cohort::cuda {

/// Copies the events to the device, packs (row, event, col) keys, radix-sorts them with
/// the event index, folds each run of equal keys with cell_merge in event order and
/// copies the cells back, sorted by key = (row, event, col) like the CPU backend.
/// device_ms (optional, for the benchmark): the device work alone, in milliseconds,
/// from events resident in device memory to cells in device memory.
CellTable aggregate_events_cuda(const EventArrays& events, float* device_ms = nullptr);

}  // namespace cohort::cuda
