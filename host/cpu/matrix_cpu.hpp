/* matrix_cpu.hpp: the CPU backend of aggregate_events (OpenMP). */
#pragma once

#include "cohort/matrix.hpp"

namespace cohort::cpu {

CellTable aggregate_events_cpu(const EventArrays& events);

}  // namespace cohort::cpu
