// test_emulator.cpp: the emulator itself: warp intrinsics give CUDA's results, WMMA's
// scrambled fragments still multiply right, and broken kernels are caught.
#include <gtest/gtest.h>
#include <mma.h>

#include <cstdint>
#include <string>
#include <vector>

#include "emulation/core.hpp"
#include "kernels/launch.cuh"

namespace {

using cohort::emulation::Fault;

constexpr unsigned kFull = 0xffffffffu;

__global__ void exchange_kernel(unsigned* out) {
  const unsigned t = threadIdx.x, lane = t & 31u, global = blockIdx.x * blockDim.x + t;
  unsigned* mine = out + global * 4;
  mine[0] = __ballot_sync(kFull, lane % 3 == 0 || blockIdx.x == 1);
  mine[1] = __any_sync(kFull, lane == 17 && t < 32) ? 1u : 0u;
  mine[2] = __shfl_sync(kFull, global * 10, static_cast<int>((lane * 7) & 31u));
  __syncthreads();
  mine[3] = __shfl_xor_sync(kFull, global, 5);
}

TEST(Emulator, WarpIntrinsicsGiveCudasResults) {
  const unsigned blocks = 2, threads = 64;
  std::vector<unsigned> out(blocks * threads * 4, 0);
  for (const bool reverse : {false, true}) {
    cohort::emulation::options().reverse_order = reverse;
    COHORT_LAUNCH(exchange_kernel, blocks, threads, 0, nullptr)(out.data());
    cohort::emulation::options().reverse_order = false;
    for (unsigned g = 0; g < blocks * threads; ++g) {
      const unsigned block = g / threads, t = g % threads, lane = t & 31u, warp_base = g - lane;
      SCOPED_TRACE("thread " + std::to_string(g) + (reverse ? " (reverse order)" : ""));
      EXPECT_EQ(out[g * 4 + 0], block == 1 ? kFull : 0x49249249u);
      EXPECT_EQ(out[g * 4 + 1], t < 32 ? 1u : 0u);
      EXPECT_EQ(out[g * 4 + 2], (warp_base + ((lane * 7) & 31u)) * 10);
      EXPECT_EQ(out[g * 4 + 3], warp_base + (lane ^ 5u));
    }
  }
}

// Lane l of warp w brings w * 1000 + l; every lane gets its warp's sum.
__global__ void reduce_add_kernel(unsigned* out) {
  const unsigned global = blockIdx.x * blockDim.x + threadIdx.x;
  out[global] = __reduce_add_sync(kFull, (global / 32) * 1000 + (global & 31u));
}

TEST(Emulator, ReduceAddSyncSumsTheWarp) {
  std::vector<unsigned> out(3 * 64, 0);
  COHORT_LAUNCH(reduce_add_kernel, 3, 64, 0, nullptr)(out.data());
  for (unsigned g = 0; g < out.size(); ++g) EXPECT_EQ(out[g], (g / 32) * 32000 + 496) << "thread " << g;
}

__global__ void skipping_kernel(int* out, int skipping_lane) {
  int value = static_cast<int>(threadIdx.x);
  if (static_cast<int>(threadIdx.x & 31u) != skipping_lane) value = __shfl_xor_sync(kFull, value, 1);
  out[threadIdx.x] = value;
}

__global__ void split_kernel(int* out) {
  int value = static_cast<int>(threadIdx.x);
  if (threadIdx.x % 32 < 16)
    value = __shfl_xor_sync(kFull, value, 1);
  else
    value = __shfl_xor_sync(kFull, value, 2);
  out[threadIdx.x] = value;
}

__global__ void partial_barrier_kernel(int* out) {
  if (threadIdx.x < 64) __syncthreads();
  out[threadIdx.x] = 1;
}

// The message of the Fault that launch() throws; empty when it throws none.
template <typename Launch>
std::string fault_of(Launch&& launch) {
  try {
    launch();
  } catch (const Fault& fault) {
    return fault.what();
  }
  return "";
}

TEST(Emulator, CatchesALaneThatSkipsAWarpIntrinsic) {
  std::vector<int> out(128);
  for (const int lane : {0, 13, 31}) {
    const std::string what = fault_of([&] { COHORT_LAUNCH(skipping_kernel, 1, 128, 0, nullptr)(out.data(), lane); });
    EXPECT_NE(what.find("divergence"), std::string::npos) << "lane " << lane << ": " << what;
    EXPECT_NE(what.find("exited"), std::string::npos) << what;
  }
  const std::string what = fault_of([&] { COHORT_LAUNCH(split_kernel, 1, 32, 0, nullptr)(out.data()); });
  EXPECT_NE(what.find("divergence"), std::string::npos) << what;
  EXPECT_NE(what.find("lane 16"), std::string::npos) << what;
  // The emulator starts afresh after a fault: a correct kernel runs.
  COHORT_LAUNCH(skipping_kernel, 1, 128, 0, nullptr)(out.data(), -1);
  for (int t = 0; t < 128; ++t) EXPECT_EQ(out[static_cast<std::size_t>(t)], t ^ 1);
}

TEST(Emulator, CatchesABarrierReachedByPartOfTheBlock) {
  std::vector<int> out(128);
  const std::string what = fault_of([&] { COHORT_LAUNCH(partial_barrier_kernel, 1, 128, 0, nullptr)(out.data()); });
  EXPECT_NE(what.find("__syncthreads"), std::string::npos) << what;
}

TEST(Emulator, RunsAPartialLastWarp) {
  std::vector<int> out(48, 0);
  COHORT_LAUNCH(partial_barrier_kernel, 2, 24, 0, nullptr)(out.data());  // 24 threads each: all reach the barrier
  for (int t = 0; t < 24; ++t) EXPECT_EQ(out[static_cast<std::size_t>(t)], 1);
  // A full-mask intrinsic with lanes missing is undefined on the hardware: divergence.
  const std::string what = fault_of([&] { COHORT_LAUNCH(skipping_kernel, 1, 48, 0, nullptr)(out.data(), -1); });
  EXPECT_NE(what.find("divergence"), std::string::npos) << what;
  EXPECT_NE(what.find("exited"), std::string::npos) << what;
}

namespace wmma = nvcuda::wmma;

// One warp: out (16 x 16, row-major) = a (16 x 16, row-major) x b (16 x 16, column-major).
__global__ void wmma_kernel(const __nv_bfloat16* a, const __nv_bfloat16* b, float* out) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 1.0f);
  wmma::load_matrix_sync(fa, a, 16);
  wmma::load_matrix_sync(fb, b, 16);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(out, acc, 16, wmma::mem_row_major);
}

TEST(Emulator, WmmaMultipliesWhateverTheFragmentLayout) {
  alignas(32) __nv_bfloat16 a[256], b[256];
  alignas(32) float out[256];
  for (int i = 0; i < 256; ++i) {
    a[i] = __nv_bfloat16(static_cast<float>((i * 37) % 19) - 9.0f);
    b[i] = __nv_bfloat16(static_cast<float>((i * 11) % 23) * 0.5f - 5.0f);
  }
  for (const unsigned multiplier : {1u, 37u, 255u}) {
    cohort::emulation::wmma_options().layout_multiplier = multiplier;
    COHORT_LAUNCH(wmma_kernel, 1, 32, 0, nullptr)(a, b, out);
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) {
        double want = 1.0;  // small integers and halves: exact
        for (int k = 0; k < 16; ++k) want += static_cast<double>(a[i * 16 + k]) * static_cast<double>(b[j * 16 + k]);
        EXPECT_EQ(out[i * 16 + j], want) << "multiplier " << multiplier << " at (" << i << ", " << j << ")";
      }
  }
  cohort::emulation::wmma_options().layout_multiplier = 37;
  // A pointer that is not 256-bit aligned is an error, as on the GPU.
  const std::string what = fault_of([&] { COHORT_LAUNCH(wmma_kernel, 1, 32, 0, nullptr)(a + 8, b, out); });
  EXPECT_NE(what.find("aligned"), std::string::npos) << what;
}

}  // namespace
