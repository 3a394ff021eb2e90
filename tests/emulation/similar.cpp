// similar.cpp: kernels/similar.cu compiled as host C++ on the emulator.
#include "kernels/similar.cu"
