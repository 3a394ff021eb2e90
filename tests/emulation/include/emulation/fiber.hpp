/*
 * fiber.hpp: a cooperatively scheduled thread of execution with its own stack. The
 * emulator runs every CUDA thread of a block as one, so a warp's 32 lanes can each stop
 * at a warp intrinsic and go on only once all of them got there (lockstep, checked).
 * x86-64 only (a six-register stack switch: fast enough to switch at every intrinsic).
 */
#pragma once

#include <cstddef>

namespace cohort::emulation {

class Fiber {
 public:
  Fiber();
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  /// Makes the next resume() run entry() from its start (abandoning any earlier run).
  void start(void (*entry)());
  /// From the scheduler: runs the fiber until it suspends or entry() returns.
  void resume();
  bool finished() const { return finished_; }

  /// From inside a running fiber: back to the scheduler that resumed it.
  static void suspend();

 private:
  static void run_entry();
  void* stack_ = nullptr;  // mmap'ed, with a guard page below it
  void* stack_pointer_ = nullptr;
  void (*entry_)() = nullptr;
  bool finished_ = true;
};

}  // namespace cohort::emulation
