/*
 * core.hpp: the emulated GPU that tests/emulation compiles CUDA kernels against.
 *
 * A launch runs its blocks one after another; each thread of a block is a Fiber. Warp
 * intrinsics (include/cuda_runtime.h, include/mma.h) are meeting points: a lane stops
 * there, and the warp goes on only when all 32 lanes stopped at the same call site
 * with the same mask and operation; anything else (a lane that skipped it, took another
 * branch or exited) is divergence, reported as a Fault naming both sites. __syncthreads
 * is a block barrier checked the same way. Atomics need nothing: only one thread runs
 * at a time and none is interrupted between meeting points.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};

// The built-in variables of the thread that runs now (set by the scheduler).
inline uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

struct CUstream_st;
using cudaStream_t = CUstream_st*;

namespace cohort::emulation {

/// A kernel broke the execution model (divergence, a barrier reached by part of a
/// block, a bad launch or WMMA operand). Thrown by the launch.
class Fault : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Collective { Ballot, Any, Shuffle, ShuffleXor, SyncWarp, Wmma };

struct Arrival;
/// Resolves a WMMA meeting point: lanes[l] is lane l's Arrival (all 32 arrived).
using WarpOperation = void (*)(Arrival* const* lanes);

/// What one lane brings to a warp meeting point and, in result, takes away.
struct Arrival {
  Collective kind = Collective::SyncWarp;
  const char* file = "";  // the call site: lanes elsewhere have diverged
  int line = 0;
  unsigned mask = 0;
  std::uint64_t value = 0;  // predicate, or the bits to shuffle
  int lane = 0;             // shuffle source lane or xor mask
  WarpOperation operation = nullptr;
  const void* operands[4] = {};
  unsigned ldm = 0;
  int layout = 0;
  std::uint64_t result = 0;
};

/// Stops the calling thread until its warp has met; returns the lane's result.
std::uint64_t meet(const Arrival& arrival);
/// __syncthreads: stops the calling thread until the whole block got to this site.
void block_barrier(const char* file, int line);
/// For resolvers (they run on the scheduler's stack, so they may throw).
[[noreturn]] void fail(const std::string& what);

struct Options {
  bool reverse_order = false;  // run blocks, warps and lanes last to first
};
Options& options();

/// Counters the tests read to see what a kernel did (reset them before a launch).
struct Stats {
  long launches = 0;  // launchers must not launch for empty work
  long block_barriers = 0;
  long warp_meetings = 0;
  long make_uint4_calls = 0;       // tile::stage calls make_uint4 only on its 16-byte path
  long unrounded_tf32_inputs = 0;  // TF32 mma inputs with bits the hardware ignores
};
Stats& stats();

/// While a CapturedGraph (host/cuda/runtime.hpp) captures: the work that launches and
/// the stand-in calls queue is appended here, arguments frozen, instead of running, as
/// a CUDA graph records it; null otherwise.
inline std::vector<std::function<void()>>*& capture_list() {
  static std::vector<std::function<void()>>* list = nullptr;
  return list;
}
/// Queues work: recorded while capturing, else run now. Returns whether it was recorded.
template <typename Work>
bool record_or_run(Work&& work) {
  if (auto* list = capture_list()) {
    list->emplace_back(std::forward<Work>(work));
    return true;
  }
  work();
  return false;
}
/// Faults when called during a capture (reads back, waits or allocates).
inline void forbid_in_capture(const char* what) {
  if (capture_list()) fail(std::string(what) + " during a CUDA graph capture");
}

/// Runs body(context) as every thread of every block of the grid (1-D blocks, the last
/// warp possibly partial, no dynamic shared memory).
void run_grid(dim3 grid, dim3 block, std::size_t shared_bytes, void (*body)(const void*), const void* context);

/// COHORT_LAUNCH's emulated form (kernels/launch.cuh): launch(kernel, ...)(args...).
template <typename... Params>
class Launch {
 public:
  Launch(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes)
      : kernel_(kernel), grid_(grid), block_(block), shared_bytes_(shared_bytes) {}

  template <typename... Args>
  void operator()(Args&&... args) const {
    // Converted to the parameter types once, as a launch does; each thread takes copies
    // (and a captured launch keeps them: a graph's arguments are frozen at capture).
    record_or_run([kernel = kernel_, grid = grid_, block = block_, shared_bytes = shared_bytes_,
                   params = std::tuple<Params...>(std::forward<Args>(args)...)] {
      const auto body = [kernel, &params] { std::apply(kernel, params); };
      using Body = decltype(body);
      run_grid(
          grid, block, shared_bytes, [](const void* context) { (*static_cast<const Body*>(context))(); }, &body);
    });
  }

 private:
  void (*kernel_)(Params...);
  dim3 grid_, block_;
  std::size_t shared_bytes_;
};

template <typename... Params>
Launch<Params...> launch(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t) {
  return Launch<Params...>(kernel, grid, block, shared_bytes);
}

}  // namespace cohort::emulation
