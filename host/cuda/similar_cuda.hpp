/* similar_cuda.hpp: the CUDA backend of `similar` (see host/cuda/similar_cuda.cpp). */
#pragma once

#include "cohort/similar.hpp"
#include "host/cpu/similar_cpu.hpp"

namespace cohort::cuda {

/// Same contract and the same bits as detail::similar_cpu.
TopK similar_cuda(const detail::SimilarProblem& problem);

}  // namespace cohort::cuda
