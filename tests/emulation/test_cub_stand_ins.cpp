// test_cub_stand_ins.cpp: the sequential CUB stand-ins (include/cub) keep CUB's contract
// where the launchers rely on it: SortPairs orders by the selected bits only and is
// stable, Encode counts runs, the scans; and every call faults without the size query
// or with less temporary storage than it asked for. Signed keys sort as CUB twiddles
// them; Flagged keeps the flagged items in order. Inside a graph capture each is
// recorded and runs at the replay.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_run_length_encode.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_select.cuh>

#include "host/cuda/runtime.hpp"

namespace {

// The message of the Fault that call() throws; empty when it throws none.
template <typename Call>
std::string fault_of(Call&& call) {
  try {
    call();
  } catch (const cohort::emulation::Fault& fault) {
    return fault.what();
  }
  return "";
}

TEST(CubStandIns, SortPairsIsStableOnTheSelectedBits) {
  // Bits [4, 8) decide; the low and high bits only tell equal keys apart.
  const std::vector<std::uint32_t> keys{0x135, 0x021, 0x93f, 0x010, 0x02a, 0x7f4};
  const std::vector<int> values{0, 1, 2, 3, 4, 5};
  std::vector<std::uint32_t> sorted_keys(keys.size());
  std::vector<int> sorted_values(keys.size());
  std::size_t bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, bytes, keys.data(), sorted_keys.data(), values.data(),
                                  sorted_values.data(), keys.size(), 4, 8);
  std::vector<char> temp(bytes);
  cub::DeviceRadixSort::SortPairs(temp.data(), bytes, keys.data(), sorted_keys.data(), values.data(),
                                  sorted_values.data(), keys.size(), 4, 8);
  EXPECT_EQ(sorted_values, (std::vector<int>{3, 1, 4, 0, 2, 5}));  // digits 1, 2, 2, 3, 3, f
  EXPECT_EQ(sorted_keys, (std::vector<std::uint32_t>{0x010, 0x021, 0x02a, 0x135, 0x93f, 0x7f4}));
  EXPECT_NE(fault_of([&] {
              cub::DeviceRadixSort::SortPairs(temp.data(), bytes, keys.data(), sorted_keys.data(), values.data(),
                                              sorted_values.data(), keys.size(), 8, 40);
            }).find("bit range"),
            std::string::npos);
}

TEST(CubStandIns, EncodeAndScans) {
  const std::vector<std::uint64_t> items{7, 7, 2, 2, 2, 9, 7};
  std::vector<std::uint64_t> unique(items.size());
  std::vector<std::uint32_t> lengths(items.size()), exclusive(items.size()), inclusive(items.size());
  std::uint64_t runs = 0;
  std::size_t bytes = 0;
  cub::DeviceRunLengthEncode::Encode(nullptr, bytes, items.data(), unique.data(), lengths.data(), &runs, items.size());
  std::vector<char> temp(bytes);
  cub::DeviceRunLengthEncode::Encode(temp.data(), bytes, items.data(), unique.data(), lengths.data(), &runs,
                                     items.size());
  ASSERT_EQ(runs, 4u);
  EXPECT_EQ(std::vector<std::uint64_t>(unique.begin(), unique.begin() + 4), (std::vector<std::uint64_t>{7, 2, 9, 7}));
  EXPECT_EQ(std::vector<std::uint32_t>(lengths.begin(), lengths.begin() + 4), (std::vector<std::uint32_t>{2, 3, 1, 1}));
  std::size_t scan_bytes = 0;
  cub::DeviceScan::InclusiveSum(nullptr, scan_bytes, lengths.data(), inclusive.data(), 4);
  temp.resize(std::max(bytes, scan_bytes));
  cub::DeviceScan::ExclusiveSum(temp.data(), scan_bytes, lengths.data(), exclusive.data(), 4);
  cub::DeviceScan::InclusiveSum(temp.data(), scan_bytes, lengths.data(), inclusive.data(), 4);
  EXPECT_EQ(std::vector<std::uint32_t>(exclusive.begin(), exclusive.begin() + 4),
            (std::vector<std::uint32_t>{0, 2, 5, 6}));
  EXPECT_EQ(std::vector<std::uint32_t>(inclusive.begin(), inclusive.begin() + 4),
            (std::vector<std::uint32_t>{2, 5, 6, 7}));
}

TEST(CubStandIns, FaultWithoutEnoughTemporaryStorage) {
  std::vector<std::uint32_t> keys(100), values(100), out_keys(100), out_values(100);
  std::size_t asked = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, asked, keys.data(), out_keys.data(), values.data(), out_values.data(), 100);
  std::vector<char> temp(asked);
  std::size_t less = asked - 1;
  EXPECT_NE(fault_of([&] {
              cub::DeviceRadixSort::SortPairs(temp.data(), less, keys.data(), out_keys.data(), values.data(),
                                              out_values.data(), 100);
            }).find("temporary storage"),
            std::string::npos);
  // A size queried for fewer items does not cover the call.
  std::size_t for_ten = 0;
  cub::DeviceRunLengthEncode::Encode(nullptr, for_ten, keys.data(), out_keys.data(), out_values.data(),
                                     values.data(), 10);
  EXPECT_NE(fault_of([&] {
              cub::DeviceRunLengthEncode::Encode(temp.data(), for_ten, keys.data(), out_keys.data(),
                                                 out_values.data(), values.data(), 100);
            }).find("temporary storage"),
            std::string::npos);
  std::size_t none = 0;  // a call that skipped the query
  EXPECT_NE(fault_of([&] { cub::DeviceScan::InclusiveSum(temp.data(), none, keys.data(), out_keys.data(), 100); })
                .find("temporary storage"),
            std::string::npos);
  EXPECT_NE(fault_of([&] { cub::DeviceScan::ExclusiveSum(temp.data(), asked, keys.data(), out_keys.data(), -1); })
                .find("negative item count"),
            std::string::npos);
}

TEST(CubStandIns, SignedKeysSortAsCubTwiddlesThem) {
  // Whole keys: negatives first (the sign bit flipped); a low bit range sorts the bits as
  // they are, which for non-negative labels is their order.
  const std::vector<std::int32_t> keys{3, -2, 0, 7, -9, 3, 1};
  const std::vector<int> values{0, 1, 2, 3, 4, 5, 6};
  std::vector<std::int32_t> sorted_keys(keys.size());
  std::vector<int> sorted_values(keys.size());
  std::size_t bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, bytes, keys.data(), sorted_keys.data(), values.data(),
                                  sorted_values.data(), keys.size());
  std::vector<char> temp(bytes);
  cub::DeviceRadixSort::SortPairs(temp.data(), bytes, keys.data(), sorted_keys.data(), values.data(),
                                  sorted_values.data(), keys.size());
  EXPECT_EQ(sorted_keys, (std::vector<std::int32_t>{-9, -2, 0, 1, 3, 3, 7}));
  EXPECT_EQ(sorted_values, (std::vector<int>{4, 1, 2, 6, 0, 5, 3}));
  const std::vector<std::int32_t> labels{2, 0, 3, 1, 0, 2};
  cub::DeviceRadixSort::SortPairs(temp.data(), bytes, labels.data(), sorted_keys.data(), values.data(),
                                  sorted_values.data(), labels.size(), 0, 2);
  EXPECT_EQ(std::vector<int>(sorted_values.begin(), sorted_values.begin() + 6), (std::vector<int>{1, 4, 3, 0, 5, 2}));
}

TEST(CubStandIns, FlaggedKeepsFlaggedItemsInOrder) {
  const std::vector<std::int32_t> items{10, 11, 12, 13, 14, 15};
  const std::vector<unsigned char> flags{0, 1, 1, 0, 0, 1};
  std::vector<std::int32_t> out(items.size(), -1);
  long long selected = -1;
  std::size_t bytes = 0;
  cub::DeviceSelect::Flagged(nullptr, bytes, items.data(), flags.data(), out.data(), &selected, items.size());
  std::vector<char> temp(bytes);
  cub::DeviceSelect::Flagged(temp.data(), bytes, items.data(), flags.data(), out.data(), &selected, items.size());
  EXPECT_EQ(selected, 3);
  EXPECT_EQ(out, (std::vector<std::int32_t>{11, 12, 15, -1, -1, -1}));
  std::size_t less = bytes - 1;
  EXPECT_NE(fault_of([&] {
              cub::DeviceSelect::Flagged(temp.data(), less, items.data(), flags.data(), out.data(), &selected,
                                         items.size());
            }).find("temporary storage"),
            std::string::npos);
}

// Inside a CUDA graph capture every call is recorded, not run (as a CUB call on a
// capturing stream adds nodes), and a replay runs it on what the buffers hold then.
TEST(CubStandIns, CaptureRecordsAndReplaysRun) {
  cohort::cuda::Stream stream;
  std::vector<std::uint32_t> keys{3, 1, 3, 2}, keys_out(4, 0), values{0, 1, 2, 3}, values_out(4, 0);
  std::vector<int> flags{1, 0, 1, 1}, selected(4, -1), scanned(4, -1), unique(4, -1), lengths(4, -1);
  int selected_count = -1, runs = -1;
  std::size_t sort_bytes = 0, select_bytes = 0, scan_bytes = 0, encode_bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, keys.data(), keys_out.data(), values.data(), values_out.data(),
                                  4);
  cub::DeviceSelect::Flagged(nullptr, select_bytes, flags.data(), flags.data(), selected.data(), &selected_count, 4);
  cub::DeviceScan::InclusiveSum(nullptr, scan_bytes, flags.data(), scanned.data(), 4);
  cub::DeviceRunLengthEncode::Encode(nullptr, encode_bytes, keys_out.data(), unique.data(), lengths.data(), &runs, 4);
  std::vector<unsigned char> temp(std::max({sort_bytes, select_bytes, scan_bytes, encode_bytes}));
  cohort::cuda::CapturedGraph graph;
  graph.capture(stream.get(), [&] {
    cub::DeviceRadixSort::SortPairs(temp.data(), sort_bytes, keys.data(), keys_out.data(), values.data(),
                                    values_out.data(), 4, 0, 32, stream.get());
    cub::DeviceSelect::Flagged(temp.data(), select_bytes, flags.data(), flags.data(), selected.data(),
                               &selected_count, 4, stream.get());
    cub::DeviceScan::InclusiveSum(temp.data(), scan_bytes, flags.data(), scanned.data(), 4, stream.get());
    cub::DeviceRunLengthEncode::Encode(temp.data(), encode_bytes, keys_out.data(), unique.data(), lengths.data(),
                                       &runs, 4, stream.get());
  });
  EXPECT_EQ(keys_out, (std::vector<std::uint32_t>(4, 0))) << "capture ran the sort";
  EXPECT_EQ(selected_count, -1) << "capture ran the selection";
  EXPECT_EQ(scanned, (std::vector<int>(4, -1))) << "capture ran the scan";
  EXPECT_EQ(runs, -1) << "capture ran the encoding";
  flags[1] = 1;  // the replay reads the buffers as they are now
  graph.launch(stream.get());
  EXPECT_EQ(keys_out, (std::vector<std::uint32_t>{1, 2, 3, 3}));
  EXPECT_EQ(values_out, (std::vector<std::uint32_t>{1, 3, 0, 2}));
  EXPECT_EQ(selected_count, 4);
  EXPECT_EQ(scanned, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(runs, 3);
  EXPECT_EQ(std::vector<int>(lengths.begin(), lengths.begin() + 3), (std::vector<int>{1, 1, 2}));
}

}  // namespace
