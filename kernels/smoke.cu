/* smoke.cu: y = a*x + y on the device, through the host runtime's RAII buffers. */
#include "kernels/smoke.hpp"

#include "host/cuda/runtime.hpp"
#include "kernels/smoke_element.hpp"

namespace cohort::cuda {
namespace {

__global__ void axpy_kernel(float a, const float* x, float* y, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    y[i] = axpy_element(a, x[i], y[i]);
}

}  // namespace

std::vector<float> axpy_on_device(float a, const std::vector<float>& x, const std::vector<float>& y) {
  std::vector<float> result(y.size());
  const std::size_t n = x.size();
  if (n == 0) return result;
  Stream stream;
  DeviceBuffer<float> d_x(n, stream.get()), d_y(n, stream.get());
  d_x.copy_from_host(x.data(), n, stream.get());
  d_y.copy_from_host(y.data(), n, stream.get());
  const unsigned blocks = static_cast<unsigned>(std::min<std::size_t>(ceil_div<std::size_t>(n, 256), 4096));
  axpy_kernel<<<blocks, 256, 0, stream.get()>>>(a, d_x.data(), d_y.data(), n);
  COHORT_CHECK_LAUNCH(stream.get());
  d_y.copy_to_host(result.data(), n, stream.get());
  stream.synchronize();
  return result;
}

}  // namespace cohort::cuda
