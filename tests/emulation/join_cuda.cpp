// join_cuda.cpp: host/cuda/join_cuda.cpp (CudaJoiner: two slots, pinned staging, split
// fills) compiled as host C++ on the emulator.
// Included, not compiled as the main file: g++ then warns that CudaJoiner::Impl (a named
// class) holds the file's anonymous-namespace Slot, which in one TU is harmless.
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#include "host/cuda/join_cuda.cpp"
