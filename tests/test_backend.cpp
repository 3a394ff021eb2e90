/* test_backend.cpp: device parsing and the Auto/Cpu/Cuda resolution rule. */
#include <gtest/gtest.h>

#include "cohort/backend.hpp"
#include "cohort/error.hpp"

namespace cohort {
namespace {

TEST(Backend, ParsesDeviceNames) {
  EXPECT_EQ(parse_device("auto"), Device::Auto);
  EXPECT_EQ(parse_device("cpu"), Device::Cpu);
  EXPECT_EQ(parse_device("cuda"), Device::Cuda);
  EXPECT_THROW(parse_device("tpu"), InvalidInput);
  EXPECT_THROW(parse_device(""), InvalidInput);
}

TEST(Backend, CpuAlwaysResolvesToCpu) { EXPECT_EQ(resolve_device(Device::Cpu), Device::Cpu); }

TEST(Backend, AutoPicksCudaExactlyWhenAGpuIsPresent) {
  const bool have_gpu = !cuda_devices().empty();
  EXPECT_EQ(resolve_device(Device::Auto), have_gpu ? Device::Cuda : Device::Cpu);
  if (!built_with_cuda()) {
    EXPECT_FALSE(have_gpu);
  }
}

TEST(Backend, CudaWithoutAGpuIsAClearError) {
  if (!cuda_devices().empty()) {
    EXPECT_EQ(resolve_device(Device::Cuda), Device::Cuda);
    return;
  }
  try {
    resolve_device(Device::Cuda);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no GPU is usable"), std::string::npos) << e.what();
    EXPECT_FALSE(cuda_unavailable_reason().empty());
  }
}

TEST(Backend, ThreadsAreSetAndValidated) {
  set_cpu_threads(1);
  EXPECT_EQ(cpu_threads(), 1);
  set_cpu_threads(2);
  EXPECT_EQ(cpu_threads(), 2);
  EXPECT_THROW(set_cpu_threads(-1), InvalidInput);
  set_cpu_threads(0);
  EXPECT_GE(cpu_threads(), 1);
}

TEST(Backend, ArchitecturesAreReported) {
  if (built_with_cuda()) {
    EXPECT_NE(cuda_architectures().find("90"), std::string::npos) << cuda_architectures();
  } else {
    EXPECT_EQ(cuda_architectures(), "none");
  }
}

}  // namespace
}  // namespace cohort
