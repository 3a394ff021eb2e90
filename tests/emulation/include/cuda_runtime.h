/*
 * cuda_runtime.h (emulation): what the kernels use of CUDA's device built-ins, as host
 * C++ on the emulator (emulation/core.hpp). Warp intrinsics take their call site as
 * defaulted arguments, so lanes meeting at different sites are caught as divergence.
 * Only full-warp masks and the default width are emulated.
 */
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "emulation/core.hpp"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// One block runs at a time, so a function-local static is the block's shared memory.
#define __shared__ static

// The launchers' checked calls (COHORT_CUDA_TRY) need an error type; emulated calls
// fail by throwing, so only success is ever returned.
enum cudaError_t { cudaSuccess = 0 };

struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};

inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
  ++cohort::emulation::stats().make_uint4_calls;
  return {x, y, z, w};
}

inline float __int_as_float(int bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}
inline unsigned __float_as_uint(float value) {
  unsigned bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}
inline float __uint_as_float(unsigned bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}
// CUDA's min overloads; one type only, as a mixed call there is usually a mistake.
template <typename T>
constexpr T min(T a, T b) {
  return b < a ? b : a;
}
inline int __popc(unsigned bits) { return __builtin_popcount(bits); }
inline int __ffs(unsigned bits) { return __builtin_ffs(static_cast<int>(bits)); }

// Threads run one at a time and are never interrupted between meeting points.
inline unsigned atomicAdd(unsigned* address, unsigned value) {
  const unsigned old = *address;
  *address = old + value;
  return old;
}
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
  const unsigned long long old = *address;
  *address = old + value;
  return old;
}
inline float atomicAdd(float* address, float value) {
  const float old = *address;
  *address = old + value;
  return old;
}
inline unsigned atomicOr(unsigned* address, unsigned value) {
  const unsigned old = *address;
  *address = old | value;
  return old;
}
inline int atomicExch(int* address, int value) {
  const int old = *address;
  *address = value;
  return old;
}

inline cudaError_t cudaMemsetAsync(void* device, int value, std::size_t bytes, cudaStream_t = nullptr) {
  cohort::emulation::record_or_run([=] { std::memset(device, value, bytes); });
  return cudaSuccess;
}

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  cohort::emulation::block_barrier(file, line);
}

namespace cohort::emulation {

inline std::uint64_t meet_warp(Collective kind, unsigned mask, std::uint64_t value, int lane, const char* file,
                               int line) {
  Arrival arrival;
  arrival.kind = kind;
  arrival.file = file;
  arrival.line = line;
  arrival.mask = mask;
  arrival.value = value;
  arrival.lane = lane;
  return meet(arrival);
}

template <typename T>
T shuffle(Collective kind, unsigned mask, T value, int lane, const char* file, int line) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(std::uint64_t), "shuffles move 8 bytes at most");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof value);
  bits = meet_warp(kind, mask, bits, lane, file, line);
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace cohort::emulation

inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  cohort::emulation::meet_warp(cohort::emulation::Collective::SyncWarp, mask, 0, 0, file, line);
}
inline unsigned __ballot_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  return static_cast<unsigned>(
      cohort::emulation::meet_warp(cohort::emulation::Collective::Ballot, mask, predicate != 0, 0, file, line));
}
inline bool __any_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return cohort::emulation::meet_warp(cohort::emulation::Collective::Any, mask, predicate != 0, 0, file, line) != 0;
}
template <typename T>
T __shfl_sync(unsigned mask, T value, int source_lane, const char* file = __builtin_FILE(),
              int line = __builtin_LINE()) {
  return cohort::emulation::shuffle(cohort::emulation::Collective::Shuffle, mask, value, source_lane, file, line);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE()) {
  return cohort::emulation::shuffle(cohort::emulation::Collective::ShuffleXor, mask, value, lane_mask, file, line);
}
// A butterfly of xor shuffles: every lane of the full warp ends with the (wrapping,
// exact) sum; the mask must be the full warp, which the xor pattern needs.
inline unsigned __reduce_add_sync(unsigned mask, unsigned value, const char* file = __builtin_FILE(),
                                  int line = __builtin_LINE()) {
  if (mask != 0xffffffffu) cohort::emulation::fail("__reduce_add_sync: the stand-in takes the full warp only");
  for (int lane_mask = 16; lane_mask > 0; lane_mask /= 2)
    value += __shfl_xor_sync(mask, value, lane_mask, file, line);
  return value;
}
