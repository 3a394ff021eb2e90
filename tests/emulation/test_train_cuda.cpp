// test_train_cuda.cpp: host/cuda/train_cuda.cpp's CudaEngine on the emulator against the
// CPU engine through the same training loop (run_training), as tests/test_train.cpp's
// TrainCuda.MatchesCpuAfterSteps does on a GPU: one epoch of 20 steps on a small table,
// each task, batch norm and dropout on and off, lazy Adam, a behavioural bag, atomic and
// deterministic scatters (deterministic: a second CUDA run is bitwise the same). The
// host GEMMs sum in another order than OpenBLAS, so losses agree to 1e-3 relative and
// parameters to 1e-3 absolute (float32, lr 1e-2). That is the eager run; the default
// run replays each step's captured graph (runtime.hpp's stand-in: arguments frozen at
// capture) and must give the eager run's losses and parameters bit for bit (the emulator
// runs atomics in a fixed order). TF32 and BF16 GEMMs (the stand-in rounds the inputs as
// the tensor cores do) must change the parameters and still learn like FP32.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "cohort/train.hpp"
#include "host/cpu/train_engine.hpp"
#include "host/cuda/runtime.hpp"
#include "host/cuda/train_cuda.hpp"
#include "tests/train_compare.hpp"
#include "tests/train_tables.hpp"

namespace cohort {
namespace {

using namespace train_detail;
using testing::make_bag_matrix;
using testing::make_table;

struct Case {
  const char* name;
  TrainTask task;
  bool bn;
  double dropout;
  bool deterministic;
  bool lazy = false;
  bool bag = false;
};

// A regression on the table's columns and ids: 20 steps of 64 rows per epoch.
TrainOptions small_options(const std::string& table) {
  TrainOptions o;
  o.table = table;
  o.target = "target";
  o.id_col = "uid";
  o.cat_cols = {"a", "b"};
  o.cont_cols = {"x", "y"};
  o.layers = {64, 32};
  o.epochs = 1;
  o.batch = 64;
  o.progress = false;
  o.seed = 7;
  o.valid_frac = 100.0 / 1380.0;
  return o;
}

std::string temp_table(const char* name) {
  return (std::filesystem::temp_directory_path() /
          ("cohort_emulated_train_" + std::to_string(::getpid()) + "_" + name + ".csv"))
      .string();
}

class EmulatedTrainCuda : public ::testing::TestWithParam<Case> {};

TEST_P(EmulatedTrainCuda, MatchesCpuAfterSteps) {
  const Case c = GetParam();
  const std::string table = temp_table(c.name);
  make_table(table, 1280 + 100, 61, 300, /*labels=*/true);
  TrainOptions o = small_options(table);
  o.batch_norm = c.bn;
  o.dropout = c.dropout;
  o.deterministic = c.deterministic;
  o.lazy_adam = c.lazy;
  if (c.bag) o.matrix = make_bag_matrix(table + "_bag", 300, 62);
  o.cuda_graph = false;
  if (c.task == TrainTask::Regression) {
    o.has_y_range = true, o.y_lo = -4, o.y_hi = 4;
  } else {
    o.target = c.task == TrainTask::Binary ? "binary" : "label";
    o.task = c.task;
  }
  const auto cpu = run_training(o, prepare_table(o), make_cpu_engine);
  const auto gpu = run_training(o, prepare_table(o), cuda::make_train_engine);
  ASSERT_EQ(gpu.history.size(), 1u);
  ASSERT_EQ(cpu.history.size(), 1u);
  cohort::testing::expect_training_close(gpu, cpu);
  o.cuda_graph = true;
  const long replays = cuda::CapturedGraph::launches();
  const auto graph = run_training(o, prepare_table(o), cuda::make_train_engine);
  EXPECT_GE(cuda::CapturedGraph::launches() - replays, 18);  // steps 2..20 (the last batch may differ)
  EXPECT_EQ(graph.model.params, gpu.model.params);
  EXPECT_EQ(graph.history[0].train_loss, gpu.history[0].train_loss);
  EXPECT_EQ(graph.history[0].valid_loss, gpu.history[0].valid_loss);
  o.cuda_graph = false;
  if (c.deterministic) {  // no floating-point atomics: a second run is bitwise the same
    const auto again = run_training(o, prepare_table(o), cuda::make_train_engine);
    EXPECT_EQ(again.model.params, gpu.model.params);
    EXPECT_EQ(again.history[0].train_loss, gpu.history[0].train_loss);
  }
  std::filesystem::remove(table);
  std::filesystem::remove_all(table + "_bag");
}

// Tensor-core GEMMs round their inputs (TF32: 10 mantissa bits, BF16: 7): the
// parameters must move off the FP32 run's (the precision reaches cuBLAS) and the model
// must still learn as well (tests/test_train.cpp's TrainCudaPrecision on a GPU).
TEST(EmulatedTrainCudaPrecision, Tf32AndBf16RoundTheProductsAndLearnLikeFp32) {
  const std::string table = temp_table("precision");
  make_table(table, 1380, 61, 300);
  TrainOptions o = small_options(table);
  o.epochs = 3;
  const auto fp32 = run_training(o, prepare_table(o), cuda::make_train_engine);
  for (GemmPrecision precision : {GemmPrecision::Tf32, GemmPrecision::Bf16}) {
    SCOPED_TRACE(gemm_precision_name(precision));
    o.precision = precision;
    const auto fast = run_training(o, prepare_table(o), cuda::make_train_engine);
    EXPECT_NE(fast.model.params, fp32.model.params);
    EXPECT_NEAR(fast.history.back().valid_loss, fp32.history.back().valid_loss, 0.05 * fp32.history.back().valid_loss);
  }
  std::filesystem::remove(table);
}

INSTANTIATE_TEST_SUITE_P(Cases, EmulatedTrainCuda,
                         ::testing::Values(Case{"regression_bn", TrainTask::Regression, true, 0.0, false},
                                           Case{"regression_deterministic", TrainTask::Regression, true, 0.0, true},
                                           Case{"multiclass_dropout", TrainTask::Multiclass, false, 0.2, false},
                                           Case{"binary_lazy_adam", TrainTask::Binary, true, 0.0, false, true},
                                           Case{"regression_bag", TrainTask::Regression, true, 0.0, false, false, true},
                                           Case{"lazy_adam_with_bag", TrainTask::Regression, true, 0.0, false, true,
                                                true},
                                           Case{"bag_deterministic", TrainTask::Regression, true, 0.0, true, false,
                                                true}),
                         [](const ::testing::TestParamInfo<Case>& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace cohort
