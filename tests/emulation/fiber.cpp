// fiber.cpp: the stack switch behind Fiber (see include/emulation/fiber.hpp).
#include "emulation/fiber.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>

#if !defined(__x86_64__)
#error "the CUDA emulator's fibers switch stacks in x86-64 assembly"
#endif

// Saves the callee-saved registers on the current stack, stores its pointer in *save and
// continues on the stack at next (pushed in the same layout). The System V ABI makes
// everything else caller-saved, so nothing more needs keeping.
extern "C" void cohort_emulation_switch(void** save, void* next);
asm(R"(
  .text
  .globl cohort_emulation_switch
  .type cohort_emulation_switch, @function
cohort_emulation_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cohort_emulation_switch, .-cohort_emulation_switch
  .section .note.GNU-stack,"",@progbits
  .text
)");

namespace cohort::emulation {
namespace {

constexpr std::size_t kGuardBytes = 4096;        // overflowing a stack faults instead of corrupting
constexpr std::size_t kStackBytes = 256 * 1024;  // kernels' frames are a few KiB
void* g_scheduler = nullptr;                     // the scheduler's stack pointer while a fiber runs
Fiber* g_running = nullptr;

}  // namespace

Fiber::Fiber() {
  stack_ = mmap(nullptr, kGuardBytes + kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack_ == MAP_FAILED) throw std::bad_alloc();
  mprotect(stack_, kGuardBytes, PROT_NONE);
}

Fiber::~Fiber() { munmap(stack_, kGuardBytes + kStackBytes); }

void Fiber::start(void (*entry)()) {
  entry_ = entry;
  finished_ = false;
  auto top = (reinterpret_cast<std::uintptr_t>(stack_) + kGuardBytes + kStackBytes) & ~std::uintptr_t{15};
  auto* slot = reinterpret_cast<void**>(top);
  *--slot = nullptr;                                     // run_entry's return address: it never returns
  *--slot = reinterpret_cast<void*>(&Fiber::run_entry);  // where the switch's ret goes
  for (int i = 0; i < 6; ++i) *--slot = nullptr;         // rbp rbx r12-r15
  stack_pointer_ = slot;
}

void Fiber::resume() {
  g_running = this;
  cohort_emulation_switch(&g_scheduler, stack_pointer_);
  g_running = nullptr;
}

void Fiber::suspend() {
  Fiber* self = g_running;
  cohort_emulation_switch(&self->stack_pointer_, g_scheduler);
}

void Fiber::run_entry() {
  g_running->entry_();
  g_running->finished_ = true;
  suspend();
  std::abort();  // a finished fiber is never resumed
}

}  // namespace cohort::emulation
