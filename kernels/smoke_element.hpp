/* smoke_element.hpp: y[i] = a * x[i] + y[i], the per-element body of the CUDA smoke test. */
#pragma once

#include "cohort/config.hpp"

namespace cohort {

COHORT_HD inline float axpy_element(float a, float x, float y) { return a * x + y; }

}  // namespace cohort
