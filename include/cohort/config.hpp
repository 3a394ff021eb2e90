/*
 * config.hpp: COHORT_HD marks per-element functions that both backends call:
 * nvcc compiles them for host and device, g++ sees plain inline functions.
 * Public headers stay plain C++17 and never include CUDA headers.
 */
#pragma once

#if defined(__CUDACC__)
#define COHORT_HD __host__ __device__
#else
#define COHORT_HD
#endif
