// train.cpp: kernels/train.cu compiled as host C++ on the emulator.
#include "kernels/train.cu"
