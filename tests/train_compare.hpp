/*
 * train_compare.hpp: how close two training runs of the same data and seed must end
 * (CUDA against CPU in tests/test_train.cpp and the emulated engine in
 * tests/emulation/test_train_cuda.cpp): one epoch's losses within 1e-3 relative, every
 * parameter within 1e-3.
 */
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>

#include "cohort/train.hpp"

namespace cohort::testing {

inline void expect_training_close(const TrainResult& got, const TrainResult& want) {
  ASSERT_FALSE(got.history.empty());
  ASSERT_FALSE(want.history.empty());
  EXPECT_NEAR(got.history[0].train_loss, want.history[0].train_loss, 1e-3 * std::fabs(want.history[0].train_loss));
  EXPECT_NEAR(got.history[0].valid_loss, want.history[0].valid_loss, 1e-3 * std::fabs(want.history[0].valid_loss));
  ASSERT_EQ(got.model.params.size(), want.model.params.size());
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < want.model.params.size(); ++i) {
    const double diff = std::fabs(got.model.params[i] - want.model.params[i]);
    if (diff > worst) worst = diff, at = i;
  }
  EXPECT_LT(worst, 1e-3) << "parameter " << at;
}

}  // namespace cohort::testing
