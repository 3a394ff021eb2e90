/* cmd_info.cpp: `cohort info` prints the build, the GPUs and the CPU threads. */
#include <cstdio>

#include "apps/command.hpp"

namespace cohort::app {
namespace {

CommonOptions common;

void run_info() {
  common.device = "cpu";  // info must work (and report) without a GPU
  apply_common(common);
  std::printf("cohort %s\n", COHORT_VERSION);
  std::printf("build: CUDA %s", built_with_cuda() ? "on" : "off");
  if (built_with_cuda()) std::printf(" (architectures %s)", cuda_architectures().c_str());
  std::printf("\ncpu: %d threads (OpenMP); blas: %s\n", cpu_threads(), blas_description().c_str());
  const auto gpus = cuda_devices();
  if (gpus.empty()) {
    std::printf("gpu: none: %s\n", cuda_unavailable_reason().c_str());
    std::printf("--device auto runs on the CPU backend\n");
    return;
  }
  for (const auto& gpu : gpus)
    std::printf("gpu %d: %s, %.1f GiB (%.1f GiB free), compute capability %d.%d, %d SMs\n", gpu.index,
                gpu.name.c_str(), static_cast<double>(gpu.total_memory) / (1 << 30),
                static_cast<double>(gpu.free_memory) / (1 << 30), gpu.major, gpu.minor, gpu.multiprocessors);
  std::printf("--device auto runs on gpu 0\n");
}

void setup(CLI::App& app) {
  auto* command = app.add_subcommand("info", "Show the build, GPUs and CPU threads");
  add_common_flags(command, common);
  command->callback(run_info);
}

}  // namespace
COHORT_REGISTER_COMMAND(0, setup);
}  // namespace cohort::app
