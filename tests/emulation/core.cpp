// core.cpp: the block scheduler and the warp meeting points (include/emulation/core.hpp).
#include "emulation/core.hpp"

#include <cstring>
#include <memory>
#include <vector>

#include "emulation/fiber.hpp"

namespace cohort::emulation {
namespace {

constexpr unsigned kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;

enum class State { Running, AtWarp, AtBarrier, Finished };

struct Thread {
  Fiber fiber;
  State state = State::Finished;
  Arrival arrival;
  const char* barrier_file = "";
  int barrier_line = 0;
};

std::vector<std::unique_ptr<Thread>> g_threads;  // kept across launches: stacks are costly
Thread* g_current = nullptr;
void (*g_body)(const void*) = nullptr;
const void* g_context = nullptr;

void thread_entry() { g_body(g_context); }

bool same_site(const char* file_a, int line_a, const char* file_b, int line_b) {
  return line_a == line_b && std::strcmp(file_a, file_b) == 0;
}

std::string site(const char* file, int line) { return std::string(file) + ":" + std::to_string(line); }

std::string where(const Thread& thread) {
  switch (thread.state) {
    case State::AtWarp:
      return "at a warp intrinsic at " + site(thread.arrival.file, thread.arrival.line);
    case State::AtBarrier:
      return "at __syncthreads at " + site(thread.barrier_file, thread.barrier_line);
    default:
      return "exited";
  }
}

std::string block_name() { return "block (" + std::to_string(blockIdx.x) + ", " + std::to_string(blockIdx.y) + ")"; }

// Every lane of the warp is at a warp intrinsic: checks they are at the same one, then
// computes each lane's result.
void resolve(Thread* const* lanes, unsigned warp) {
  Arrival* arrivals[kWarp];
  for (unsigned l = 0; l < kWarp; ++l) arrivals[l] = &lanes[l]->arrival;
  const Arrival& first = *arrivals[0];
  for (unsigned l = 1; l < kWarp; ++l) {
    const Arrival& other = *arrivals[l];
    if (other.kind != first.kind || !same_site(other.file, other.line, first.file, first.line) ||
        other.mask != first.mask || other.operation != first.operation)
      fail("divergence in " + block_name() + " warp " + std::to_string(warp) + ": lane 0 at " +
           site(first.file, first.line) + ", lane " + std::to_string(l) + " at " + site(other.file, other.line));
  }
  if (first.mask != kFullMask) fail("partial warp masks are not emulated, at " + site(first.file, first.line));
  ++stats().warp_meetings;
  switch (first.kind) {
    case Collective::Ballot:
    case Collective::Any: {
      std::uint64_t ballot = 0;
      for (unsigned l = 0; l < kWarp; ++l) ballot |= std::uint64_t{arrivals[l]->value != 0} << l;
      for (unsigned l = 0; l < kWarp; ++l)
        arrivals[l]->result = first.kind == Collective::Ballot ? ballot : std::uint64_t{ballot != 0};
      break;
    }
    case Collective::Shuffle:
    case Collective::ShuffleXor: {
      std::uint64_t values[kWarp];
      for (unsigned l = 0; l < kWarp; ++l) values[l] = arrivals[l]->value;
      for (unsigned l = 0; l < kWarp; ++l) {
        const int lane = arrivals[l]->lane;
        // The hardware wraps these; a kernel that relies on it is more likely wrong.
        if (lane < 0 || lane >= static_cast<int>(kWarp))
          fail("shuffle lane " + std::to_string(lane) + " outside the warp at " + site(first.file, first.line));
        const unsigned source =
            first.kind == Collective::Shuffle ? static_cast<unsigned>(lane) : l ^ static_cast<unsigned>(lane);
        arrivals[l]->result = values[source];
      }
      break;
    }
    case Collective::SyncWarp:
      break;
    case Collective::Wmma:
      first.operation(arrivals);
      break;
  }
}

void run_block(unsigned threads) {
  // A last, partial warp's missing lanes count as exited: a full-mask intrinsic there
  // is undefined on the hardware, so it faults here as divergence.
  const unsigned warps = (threads + kWarp - 1) / kWarp;
  for (unsigned t = 0; t < warps * kWarp; ++t) {
    g_threads[t]->state = t < threads ? State::Running : State::Finished;
    if (t < threads) g_threads[t]->fiber.start(&thread_entry);
  }
  for (;;) {
    for (unsigned w = 0; w < warps; ++w) {
      const unsigned warp = options().reverse_order ? warps - 1 - w : w;
      Thread* lanes[kWarp];
      for (unsigned l = 0; l < kWarp; ++l) lanes[l] = g_threads[warp * kWarp + l].get();
      for (;;) {
        for (unsigned position = 0; position < kWarp; ++position) {
          const unsigned lane = options().reverse_order ? kWarp - 1 - position : position;
          Thread& thread = *lanes[lane];
          if (thread.state != State::Running) continue;
          g_current = &thread;
          threadIdx.x = warp * kWarp + lane;
          thread.fiber.resume();
          if (thread.fiber.finished()) thread.state = State::Finished;
        }
        unsigned waiting = 0;
        for (const Thread* lane : lanes) waiting += lane->state == State::AtWarp;
        if (waiting == 0) break;
        if (waiting != kWarp) {
          unsigned at = 0, away = 0;
          while (lanes[at]->state != State::AtWarp) ++at;
          while (lanes[away]->state == State::AtWarp) ++away;
          fail("divergence in " + block_name() + " warp " + std::to_string(warp) + ": lane " + std::to_string(at) +
               " is " + where(*lanes[at]) + ", lane " + std::to_string(away) + " is " + where(*lanes[away]));
        }
        resolve(lanes, warp);
        for (Thread* lane : lanes) lane->state = State::Running;
      }
    }
    unsigned finished = 0;
    for (unsigned t = 0; t < threads; ++t) finished += g_threads[t]->state == State::Finished;
    if (finished == threads) return;
    const Thread& first = *g_threads[0];
    for (unsigned t = 0; t < threads; ++t) {
      const Thread& other = *g_threads[t];
      if (other.state != State::AtBarrier || first.state != State::AtBarrier ||
          !same_site(other.barrier_file, other.barrier_line, first.barrier_file, first.barrier_line))
        fail("__syncthreads in " + block_name() + ": thread 0 is " + where(first) + ", thread " + std::to_string(t) +
             " is " + where(other));
    }
    ++stats().block_barriers;
    for (unsigned t = 0; t < threads; ++t) g_threads[t]->state = State::Running;
  }
}

}  // namespace

std::uint64_t meet(const Arrival& arrival) {
  Thread* self = g_current;
  self->arrival = arrival;
  self->state = State::AtWarp;
  Fiber::suspend();
  return self->arrival.result;
}

void block_barrier(const char* file, int line) {
  Thread* self = g_current;
  self->barrier_file = file;
  self->barrier_line = line;
  self->state = State::AtBarrier;
  Fiber::suspend();
}

void fail(const std::string& what) { throw Fault(what); }

Options& options() {
  static Options instance;
  return instance;
}

Stats& stats() {
  static Stats instance;
  return instance;
}

void run_grid(dim3 grid, dim3 block, std::size_t shared_bytes, void (*body)(const void*), const void* context) {
  if (block.x == 0 || block.x > 1024 || block.y != 1 || block.z != 1)
    fail("launch: blocks must be 1-D of at most 1,024 threads, got " + std::to_string(block.x) + " x " +
         std::to_string(block.y) + " x " + std::to_string(block.z));
  if (grid.z != 1) fail("launch: 3-D grids are not emulated");
  if (shared_bytes != 0) fail("launch: dynamic shared memory is not emulated");
  while (g_threads.size() < (block.x + kWarp - 1) / kWarp * kWarp) g_threads.push_back(std::make_unique<Thread>());
  ++stats().launches;
  g_body = body;
  g_context = context;
  gridDim = grid;
  blockDim = block;
  const unsigned blocks = grid.x * grid.y;
  for (unsigned b = 0; b < blocks; ++b) {
    const unsigned index = options().reverse_order ? blocks - 1 - b : b;
    blockIdx.x = index % grid.x;
    blockIdx.y = index / grid.x;
    run_block(block.x);
  }
}

}  // namespace cohort::emulation
