// join.cpp: kernels/join.cu compiled as host C++ on the emulator.
#include "kernels/join.cu"
