/*
 * launch.cuh: COHORT_LAUNCH(kernel, grid, block, shared_bytes, stream)(args...) is
 * kernel<<<grid, block, shared_bytes, stream>>>(args...) under nvcc. The kernels that
 * launch through it also compile as host C++ against tests/emulation's CUDA stand-ins
 * (COHORT_EMULATION), where it runs the grid on the warp-lockstep emulator: CI has no
 * GPU, and this is how it still runs their warp-level logic.
 */
#pragma once

#include <cuda_runtime.h>

#ifdef COHORT_EMULATION
#define COHORT_LAUNCH(kernel, grid, block, shared_bytes, stream) \
  ::cohort::emulation::launch(kernel, grid, block, shared_bytes, stream)
#else
#define COHORT_LAUNCH(kernel, grid, block, shared_bytes, stream) kernel<<<grid, block, shared_bytes, stream>>>
#endif
