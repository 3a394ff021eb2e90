// cuda_runtime_api.h (emulation): the launchers' headers include it for cudaStream_t.
#pragma once

#include "cuda_runtime.h"
