// matrix.cpp: kernels/matrix.cu compiled as host C++ on the emulator.
#include "kernels/matrix.cu"
