// test_matrix.cpp: kernels/matrix.cu's aggregate_events_cuda on the emulator (with the
// sequential CUB stand-ins) against the CPU backend, aggregate_events_cpu: the same cells
// in the same (row, event, col) order with bitwise equal counts, sums, firsts and lasts
// (both fold a cell's events in event order), with and without event types, times and
// weights; one event, one cell for every event, and ids filling their key bits.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cohort/matrix.hpp"
#include "host/cpu/matrix_cpu.hpp"
#include "kernels/matrix.hpp"

namespace {

struct Events {
  std::vector<std::uint32_t> row, col;
  std::vector<std::uint16_t> event;
  std::vector<double> time, weight;
  std::uint32_t rows = 0, cols = 0, events = 1;

  cohort::EventArrays view(bool with_event, bool with_time, bool with_weight) const {
    cohort::EventArrays out;
    out.row = row.data();
    out.col = col.data();
    out.event = with_event ? event.data() : nullptr;
    out.time = with_time ? time.data() : nullptr;
    out.weight = with_weight ? weight.data() : nullptr;
    out.size = row.size();
    out.rows = rows;
    out.cols = cols;
    out.events = with_event ? events : 1;
    return out;
  }
};

// n events over few enough (row, event, col) cells that most cells get several.
Events make_events(std::size_t n, std::uint32_t rows, std::uint32_t cols, std::uint32_t events, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> time(0.0, 1e6), weight(-3.0, 3.0);
  Events out;
  out.rows = rows;
  out.cols = cols;
  out.events = events;
  for (std::size_t i = 0; i < n; ++i) {
    // The largest ids too, so the key's bit range is filled.
    out.row.push_back(i % 17 == 0 ? rows - 1 : static_cast<std::uint32_t>(generator() % rows));
    out.col.push_back(i % 13 == 0 ? cols - 1 : static_cast<std::uint32_t>(generator() % cols));
    out.event.push_back(static_cast<std::uint16_t>(generator() % events));
    out.time.push_back(time(generator));
    out.weight.push_back(weight(generator));
  }
  return out;
}

void expect_same_bits(const std::vector<double>& got, const std::vector<double>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(std::memcmp(&got[i], &want[i], sizeof(double)), 0) << what << " of cell " << i;
}

void expect_same_cells(const cohort::EventArrays& events) {
  const cohort::CellTable got = cohort::cuda::aggregate_events_cuda(events);
  const cohort::CellTable want = cohort::cpu::aggregate_events_cpu(events);
  ASSERT_EQ(got.counts_only, want.counts_only);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(got.row, want.row);
  EXPECT_EQ(got.event, want.event);
  EXPECT_EQ(got.col, want.col);
  EXPECT_EQ(got.count, want.count);
  expect_same_bits(got.sum, want.sum, "sum");
  expect_same_bits(got.first, want.first, "first");
  expect_same_bits(got.last, want.last, "last");
}

TEST(MatrixKernels, AggregatesLikeTheCpu) {
  struct Shape {
    std::size_t n;
    std::uint32_t rows, cols, events;
  };
  for (const Shape shape : {Shape{1, 1, 1, 1}, Shape{3000, 40, 25, 3}, Shape{2000, 1u << 20, 70000, 300},
                            Shape{500, 2, 1, 1}}) {
    const Events events = make_events(shape.n, shape.rows, shape.cols, shape.events, 31);
    for (int mask = 0; mask < 8; ++mask) {
      SCOPED_TRACE("seed 31, " + std::to_string(shape.n) + " events, " + std::to_string(shape.rows) + " rows, " +
                   std::to_string(shape.cols) + " cols, mask " + std::to_string(mask));
      expect_same_cells(events.view(mask & 1, mask & 2, mask & 4));
    }
  }
}

TEST(MatrixKernels, EveryEventItsOwnCell) {
  Events events;
  events.rows = 300;
  events.cols = 1;
  for (std::uint32_t i = 0; i < 300; ++i) {  // rows in reverse, so the sort has work
    events.row.push_back(299 - i);
    events.col.push_back(0);
    events.event.push_back(0);
    events.time.push_back(i);
    events.weight.push_back(0.5 * i);
  }
  expect_same_cells(events.view(false, true, true));
  expect_same_cells(events.view(false, false, false));  // counts only: the keys sorted alone
  const cohort::CellTable got = cohort::cuda::aggregate_events_cuda(events.view(false, true, true));
  ASSERT_EQ(got.size(), 300u);
  EXPECT_EQ(got.row[0], 0u);
  EXPECT_EQ(got.first[0], 299.0);
}

TEST(MatrixKernels, NoEventsNoCells) {
  cohort::EventArrays none;
  none.rows = 5;
  none.cols = 5;
  EXPECT_EQ(cohort::cuda::aggregate_events_cuda(none).size(), 0u);
}

}  // namespace
