/* matrix_expect.hpp: one GoogleTest check that two matrix builds agree in full. */
#pragma once

#include <gtest/gtest.h>

#include "cohort/matrix.hpp"

namespace cohort::testing {

/// Same ids, attributes and cells (every stored value, bit for bit).
inline void expect_same_matrix(const MatrixResult& got, const MatrixResult& want) {
  EXPECT_EQ(got.users, want.users);
  EXPECT_EQ(got.items, want.items);
  EXPECT_EQ(got.events, want.events);
  EXPECT_EQ(got.attributes.values, want.attributes.values);
  EXPECT_EQ(got.cells.counts_only, want.cells.counts_only);
  EXPECT_EQ(got.cells.row, want.cells.row);
  EXPECT_EQ(got.cells.col, want.cells.col);
  EXPECT_EQ(got.cells.event, want.cells.event);
  EXPECT_EQ(got.cells.count, want.cells.count);
  EXPECT_EQ(got.cells.sum, want.cells.sum);
  EXPECT_EQ(got.cells.first, want.cells.first);
  EXPECT_EQ(got.cells.last, want.cells.last);
}

}  // namespace cohort::testing
