// segment.cpp: kernels/segment.cu (the CUDA k-means steps) compiled as host C++ on the
// emulator.
// nvcc does not warn that segment_sum_kernel compares threadIdx.x (unsigned) with an int
// tree width (both small and non-negative); g++ does, so that warning is off here.
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kernels/segment.cu"
