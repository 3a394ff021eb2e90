// test_captured_graph.cpp: the CapturedGraph stand-in (include/host/cuda/runtime.hpp)
// keeps a CUDA graph's contract: capture runs nothing, a replay runs the recorded work in
// order with the arguments frozen at capture, and waiting, allocating or reading back
// inside a capture faults.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "emulation/core.hpp"
#include "host/cuda/runtime.hpp"
#include "kernels/launch.cuh"

namespace {

using cohort::cuda::CapturedGraph;
using cohort::cuda::DeviceBuffer;
using cohort::cuda::Stream;

__global__ void add_kernel(int* out, int value) { out[threadIdx.x] += value; }

TEST(EmulatedCapturedGraph, ReplaysRecordedWorkWithFrozenArguments) {
  Stream stream;
  DeviceBuffer<int> out(32, stream.get());
  cudaMemsetAsync(out.data(), 0, 32 * sizeof(int), stream.get());
  CapturedGraph graph;
  int value = 5;
  graph.capture(stream.get(), [&] {
    COHORT_LAUNCH(add_kernel, 1, 32, 0, stream.get())(out.data(), value);
    COHORT_LAUNCH(add_kernel, 1, 32, 0, stream.get())(out.data(), value * 10);
  });
  value = 1000;  // the graph keeps 5 and 50
  std::vector<int> host(32);
  out.copy_to_host(host.data(), 32, stream.get());
  EXPECT_EQ(host, std::vector<int>(32, 0)) << "capture ran the work";
  ASSERT_TRUE(graph.ready());
  graph.launch(stream.get());
  graph.launch(stream.get());
  out.copy_to_host(host.data(), 32, stream.get());
  EXPECT_EQ(host, std::vector<int>(32, 110));
  graph.reset();
  EXPECT_FALSE(graph.ready());
}

TEST(EmulatedCapturedGraph, WaitingAllocatingOrReadingBackInACaptureFaults) {
  Stream stream;
  DeviceBuffer<int> out(4, stream.get());
  std::vector<int> host(4);
  const auto fault_of = [&](auto&& work) -> std::string {
    CapturedGraph graph;
    try {
      graph.capture(stream.get(), work);
    } catch (const cohort::emulation::Fault& fault) {
      return fault.what();
    }
    return "";
  };
  EXPECT_NE(fault_of([&] { stream.synchronize(); }).find("capture"), std::string::npos);
  EXPECT_NE(fault_of([&] { DeviceBuffer<int> more(8, stream.get()); }).find("capture"), std::string::npos);
  EXPECT_NE(fault_of([&] { out.copy_to_host(host.data(), 4, stream.get()); }).find("capture"), std::string::npos);
  // and a failed capture leaves no capture behind: work runs again
  cudaMemsetAsync(out.data(), 0xff, 4 * sizeof(int), stream.get());
  out.copy_to_host(host.data(), 4, stream.get());
  EXPECT_EQ(host, std::vector<int>(4, -1));
}

}  // namespace
