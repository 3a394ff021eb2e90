/* train_cuda.hpp: the CUDA training engine (cuBLAS GEMMs + kernels/train.cu). */
#pragma once

#include <memory>

#include "host/cpu/train_engine.hpp"

namespace cohort::cuda {

/// Uploads the encoded data and the initial parameters; steps run on one stream.
std::unique_ptr<train_detail::TrainEngine> make_train_engine(const train_detail::EngineArgs& args);

}  // namespace cohort::cuda
