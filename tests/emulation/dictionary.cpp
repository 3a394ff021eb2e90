// dictionary.cpp: kernels/dictionary.cu compiled as host C++ on the emulator.
#include "kernels/dictionary.cu"
