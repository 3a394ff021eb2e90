// similar_cuda.cpp: host/cuda/similar_cuda.cpp (the GPU top-k's host orchestration)
// compiled as host C++ on the emulator, with cublas_v2.h's host GEMMs.
#include "host/cuda/similar_cuda.cpp"
