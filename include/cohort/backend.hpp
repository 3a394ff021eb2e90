/*
 * backend.hpp: choosing where an engine runs.
 *
 * Every engine entry point takes a Device. Device::Auto resolves to Cuda when cohort
 * was built with CUDA and a device is present, else Cpu. Asking for Cuda from a
 * CPU-only build, or on a machine without a GPU, throws cohort::Error with a plain
 * explanation. Both backends compute the same results (see each engine's header for
 * the exact contract).
 */
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace cohort {

enum class Device { Auto, Cpu, Cuda };

/// "auto" | "cpu" | "cuda" -> Device; anything else throws InvalidInput.
Device parse_device(const std::string& name);
const char* device_name(Device device);

/// Input precision of the CUDA backends' matrix products (cuBLAS). Fp32: SGEMM without
/// tensor cores. Tf32 / Bf16: tensor cores with the inputs rounded to 10 / 7 mantissa
/// bits and FP32 sums. The CPU backends always multiply in FP32.
enum class GemmPrecision { Fp32, Tf32, Bf16 };

/// "fp32" | "tf32" | "bf16" -> GemmPrecision; anything else throws InvalidInput.
GemmPrecision parse_gemm_precision(const std::string& name);
const char* gemm_precision_name(GemmPrecision precision);

/// One CUDA device as seen by the runtime.
struct GpuInfo {
  int index = 0;
  std::string name;
  std::size_t total_memory = 0;  ///< bytes
  std::size_t free_memory = 0;   ///< bytes
  int major = 0, minor = 0;      ///< compute capability
  int multiprocessors = 0;
};

/// True when this binary contains the CUDA backend.
bool built_with_cuda();
/// Comma-separated CUDA architectures compiled in ("none" for CPU-only builds).
std::string cuda_architectures();
/// The CUDA devices present (empty without CUDA or without a GPU). Never throws.
std::vector<GpuInfo> cuda_devices();
/// Why there is no usable GPU ("" when there is one): for `cohort info` and errors.
std::string cuda_unavailable_reason();
/// Peak bytes of the current GPU's memory held by cohort's device buffers (the
/// stream-ordered pool; cuBLAS workspaces aside) since the last reset; reset = true
/// starts a new window. 0 without CUDA or a GPU. For the benchmarks' reports.
std::size_t cuda_pool_peak_bytes(bool reset = false);

/// Auto -> Cuda or Cpu; Cuda without a usable device throws Error. Cpu stays Cpu.
Device resolve_device(Device requested);

/// The BLAS library and the kernels it runs, e.g. "OpenBLAS 0.3.21 ..., kernels Haswell"
/// (OpenBLAS picks them for the CPU unless OPENBLAS_CORETYPE names them).
std::string blas_description();

/// Worker threads for the CPU backend: 0 means all hardware threads.
void set_cpu_threads(int threads);
int cpu_threads();

}  // namespace cohort
