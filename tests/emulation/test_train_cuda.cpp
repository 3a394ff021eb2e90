// test_train_cuda.cpp: host/cuda/train_cuda.cpp's CudaEngine on the emulator against the
// CPU engine through the same training loop (run_training), as tests/test_train.cpp's
// TrainCuda.MatchesCpuAfterSteps does on a GPU: one epoch of 20 steps on a small table,
// each task, batch norm and dropout on and off, lazy Adam, atomic and deterministic
// scatters (deterministic: a second CUDA run is bitwise the same). The
// host GEMMs sum in another order than OpenBLAS, so losses agree to 1e-3 relative and
// parameters to 1e-3 absolute (float32, lr 1e-2). That is the eager run; the default
// run replays each step's captured graph (runtime.hpp's stand-in: arguments frozen at
// capture) and must give the eager run's losses and parameters bit for bit (the emulator
// runs atomics in a fixed order).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "cohort/train.hpp"
#include "host/cpu/train_engine.hpp"
#include "host/cuda/runtime.hpp"
#include "host/cuda/train_cuda.hpp"
#include "tests/train_compare.hpp"

namespace cohort {
namespace {

using namespace train_detail;

// tests/test_train.cpp's table: target = f(a) + g(b) + 0.8 x - 0.03 y + noise.
void make_table(const std::string& path, std::size_t rows, std::uint64_t seed, std::size_t users) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  const double fa[5] = {1.0, -1.0, 0.5, 2.0, 0.0}, fb[3] = {0.0, 1.0, -1.0};
  std::ostringstream out;
  out << "uid,a,b,x,y,target,label,binary\n";
  for (std::size_t r = 0; r < rows; ++r) {
    const int a = static_cast<int>(rng() % 5), b = static_cast<int>(rng() % 3);
    const double x = normal(rng), y = 10 * (static_cast<double>(rng() % 1000) / 1000.0);
    const double t = fa[a] + fb[b] + 0.8 * x - 0.03 * y + 0.1 * normal(rng);
    out << "u" << r % users << "," << "abcde"[a] << "," << "pqr"[b] << "," << x << "," << y << "," << t << ","
        << (t < -0.5 ? 0 : t < 0.8 ? 1 : 2) << "," << (t > 0 ? 1 : 0) << "\n";
  }
  std::ofstream(path, std::ios::binary) << out.str();
}

struct Case {
  const char* name;
  TrainTask task;
  bool bn;
  double dropout;
  bool deterministic;
  bool lazy = false;
};

class EmulatedTrainCuda : public ::testing::TestWithParam<Case> {};

TEST_P(EmulatedTrainCuda, MatchesCpuAfterSteps) {
  const Case c = GetParam();
  const std::string table = (std::filesystem::temp_directory_path() /
                             ("cohort_emulated_train_" + std::to_string(::getpid()) + "_" + c.name + ".csv"))
                                .string();
  make_table(table, 1280 + 100, 61, 300);
  TrainOptions o;
  o.table = table;
  o.id_col = "uid";
  o.cat_cols = {"a", "b"};
  o.cont_cols = {"x", "y"};
  o.layers = {64, 32};
  o.epochs = 1;  // 20 steps of 64
  o.batch = 64;
  o.progress = false;
  o.seed = 7;
  o.valid_frac = 100.0 / 1380.0;
  o.batch_norm = c.bn;
  o.dropout = c.dropout;
  o.deterministic = c.deterministic;
  o.lazy_adam = c.lazy;
  o.cuda_graph = false;
  if (c.task == TrainTask::Regression) {
    o.target = "target";
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
}

INSTANTIATE_TEST_SUITE_P(Cases, EmulatedTrainCuda,
                         ::testing::Values(Case{"regression_bn", TrainTask::Regression, true, 0.0, false},
                                           Case{"regression_deterministic", TrainTask::Regression, true, 0.0, true},
                                           Case{"multiclass_dropout", TrainTask::Multiclass, false, 0.2, false},
                                           Case{"binary_lazy_adam", TrainTask::Binary, true, 0.0, false, true}),
                         [](const ::testing::TestParamInfo<Case>& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace cohort
