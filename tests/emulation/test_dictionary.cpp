// test_dictionary.cpp: kernels/dictionary.cu's group_strings_cuda on the emulator (with
// the sequential CUB stand-ins) against a host reference of its contract
// (kernels/dictionary.hpp): one group per distinct (masked) hash, groups in hash order,
// each group's first row and hash, every row's group, and a collision reported exactly
// when some group holds unequal strings. Strings shorter and longer than the hash's
// 8-byte step, empty ones, one row; masks that force collisions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernels/dictionary.hpp"
#include "kernels/dictionary_element.hpp"

namespace {

struct Column {
  std::string bytes;
  std::vector<std::size_t> offsets{0};
  explicit Column(const std::vector<std::string>& rows) {
    for (const std::string& row : rows) {
      bytes += row;
      offsets.push_back(bytes.size());
    }
  }
};

void expect_contract(const std::vector<std::string>& rows, std::uint64_t mask) {
  SCOPED_TRACE("mask " + std::to_string(mask) + ", " + std::to_string(rows.size()) + " rows");
  const Column column(rows);
  const cohort::cuda::StringGroups got =
      cohort::cuda::group_strings_cuda(column.bytes.data(), column.offsets.data(), rows.size(), mask);
  std::map<std::uint64_t, std::vector<std::uint32_t>> by_hash;  // ordered by hash, rows in order
  for (std::uint32_t i = 0; i < rows.size(); ++i)
    by_hash[cohort::string_hash(rows[i].data(), rows[i].size()) & mask].push_back(i);
  ASSERT_EQ(got.first.size(), by_hash.size());
  ASSERT_EQ(got.hash.size(), by_hash.size());
  ASSERT_EQ(got.group.size(), rows.size());
  bool collision = false;
  std::uint32_t g = 0;
  for (const auto& [hash, members] : by_hash) {
    EXPECT_EQ(got.hash[g], hash) << "group " << g;
    EXPECT_EQ(got.first[g], members.front()) << "group " << g;
    for (const std::uint32_t row : members) {
      EXPECT_EQ(got.group[row], g) << "row " << row;
      collision |= rows[row] != rows[members.front()];
    }
    ++g;
  }
  EXPECT_EQ(got.collision, collision);
}

std::vector<std::string> random_ids(std::size_t n, std::size_t distinct, unsigned seed) {
  std::mt19937 generator(seed);
  std::vector<std::string> pool{"", "a", "user-0000001", "user-0000001x", "12345678", "1234567"};
  while (pool.size() < distinct) {
    std::string id(generator() % 20, 'x');
    for (char& c : id) c = static_cast<char>('a' + generator() % 26);
    pool.push_back(id);
  }
  std::vector<std::string> rows(n);
  for (auto& row : rows) row = pool[generator() % pool.size()];
  return rows;
}

TEST(DictionaryKernels, GroupsEqualStringsInHashOrder) {
  const auto rows = random_ids(1500, 200, 41);
  expect_contract(rows, ~std::uint64_t(0));
  const auto got = cohort::cuda::group_strings_cuda(Column(rows).bytes.data(), Column(rows).offsets.data(),
                                                    rows.size());
  EXPECT_FALSE(got.collision);
  for (std::size_t i = 0; i < rows.size(); ++i)  // equal group exactly when equal string
    ASSERT_EQ(rows[got.first[got.group[i]]], rows[i]) << "seed 41, row " << i;
}

TEST(DictionaryKernels, ReportsForcedCollisions) {
  const auto rows = random_ids(700, 60, 42);
  for (const std::uint64_t mask : {std::uint64_t{0}, std::uint64_t{3}, std::uint64_t{0xff00}})
    expect_contract(rows, mask);
  expect_contract({"same", "same", "same"}, 0);  // one group of equal strings: no collision
  expect_contract({"x", "y"}, 0);               // the row right after the group's first
}

TEST(DictionaryKernels, SmallColumns) {
  expect_contract({"only"}, ~std::uint64_t(0));
  expect_contract({""}, ~std::uint64_t(0));
  expect_contract({"", "", "b", ""}, ~std::uint64_t(0));
  EXPECT_TRUE(cohort::cuda::group_strings_cuda(nullptr, nullptr, 0).group.empty());
}

}  // namespace
