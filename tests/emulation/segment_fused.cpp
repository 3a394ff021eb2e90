// segment_fused.cpp: kernels/segment_fused.cu compiled as host C++ on the emulator.
#include "kernels/segment_fused.cu"
