// similar_fused.cpp: kernels/similar_fused.cu compiled as host C++ on the emulator.
#include "kernels/similar_fused.cu"
