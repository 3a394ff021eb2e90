/* backend.cpp: device parsing, discovery and the Auto/Cpu/Cuda resolution rule. */
#include "cohort/backend.hpp"

#include <omp.h>

#include "cohort/error.hpp"
#ifdef COHORT_WITH_CUDA
#include "host/cuda/devices.hpp"
#endif

namespace cohort {

Device parse_device(const std::string& name) {
  if (name == "auto") return Device::Auto;
  if (name == "cpu") return Device::Cpu;
  if (name == "cuda" || name == "gpu") return Device::Cuda;
  throw InvalidInput("unknown device '" + name + "' (expected auto, cpu or cuda)");
}

const char* device_name(Device device) {
  switch (device) {
    case Device::Auto: return "auto";
    case Device::Cpu: return "cpu";
    case Device::Cuda: return "cuda";
  }
  return "?";
}

GemmPrecision parse_gemm_precision(const std::string& name) {
  if (name == "fp32") return GemmPrecision::Fp32;
  if (name == "tf32") return GemmPrecision::Tf32;
  if (name == "bf16") return GemmPrecision::Bf16;
  throw InvalidInput("unknown precision '" + name + "' (expected fp32, tf32 or bf16)");
}

const char* gemm_precision_name(GemmPrecision precision) {
  switch (precision) {
    case GemmPrecision::Fp32: return "fp32";
    case GemmPrecision::Tf32: return "tf32";
    case GemmPrecision::Bf16: return "bf16";
  }
  return "?";
}

bool built_with_cuda() {
#ifdef COHORT_WITH_CUDA
  return true;
#else
  return false;
#endif
}

std::string cuda_architectures() { return COHORT_CUDA_ARCHS; }

std::vector<GpuInfo> cuda_devices() {
#ifdef COHORT_WITH_CUDA
  return cuda::list_devices();
#else
  return {};
#endif
}

std::string cuda_unavailable_reason() {
#ifdef COHORT_WITH_CUDA
  return cuda::unavailable_reason();
#else
  return "this cohort binary was built without CUDA (no CUDA compiler at build time, or COHORT_CUDA=OFF)";
#endif
}

namespace {
// Whether a GPU is there: the device count, asked once (resolve_device runs per chunk of
// some engines; listing the devices each time would create a context on every GPU).
bool gpu_present() {
#ifdef COHORT_WITH_CUDA
  return cuda::device_count() > 0;
#else
  return false;
#endif
}
}  // namespace

std::size_t cuda_pool_peak_bytes(bool reset) {
#ifdef COHORT_WITH_CUDA
  if (gpu_present()) return cuda::pool_peak_bytes(reset);
#endif
  (void)reset;
  return 0;
}

Device resolve_device(Device requested) {
  if (requested == Device::Cpu) return Device::Cpu;
  const bool have_gpu = gpu_present();
  if (requested == Device::Auto) return have_gpu ? Device::Cuda : Device::Cpu;
  if (!have_gpu) throw Error("--device cuda was asked for, but no GPU is usable: " + cuda_unavailable_reason());
  return Device::Cuda;
}

void set_cpu_threads(int threads) {
  if (threads < 0) throw InvalidInput("--threads must be >= 0 (0 means all hardware threads)");
  omp_set_num_threads(threads == 0 ? omp_get_num_procs() : threads);
}

int cpu_threads() { return omp_get_max_threads(); }

}  // namespace cohort
