// train_cuda.cpp: host/cuda/train_cuda.cpp (CudaEngine: cuBLAS GEMMs + kernels/train.cu on
// one stream) compiled as host C++ on the emulator, eagerly (no graph capture).
#include "host/cuda/train_cuda.cpp"
