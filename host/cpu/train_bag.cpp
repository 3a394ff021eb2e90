/*
 * train_bag.cpp: the behavioural bag input of `cohort train` (see train.hpp): each table
 * row's user looked up in a `cohort matrix` output, its items and shares as a CSR row.
 */
#include <unordered_map>

#include "cohort/atomic_file.hpp"
#include "cohort/error.hpp"
#include "cohort/matrix.hpp"
#include "host/cpu/train_engine.hpp"

namespace cohort::train_detail {

std::vector<std::string> bag_vocabulary(const std::string& matrix_dir) {
  std::vector<std::string> vocab{"#na#"};
  const auto items = read_lines(matrix_dir + "/items.txt");
  vocab.insert(vocab.end(), items.begin(), items.end());
  return vocab;
}

void gather_bags(const BagRows& all, const std::uint32_t* rows, std::size_t n, BagRows& out) {
  out.indptr.assign(1, 0), out.items.clear(), out.weights.clear();
  for (std::size_t i = 0; i < n; ++i) {
    const auto begin = static_cast<std::ptrdiff_t>(all.indptr[rows[i]]);
    const auto end = static_cast<std::ptrdiff_t>(all.indptr[rows[i] + 1]);
    out.items.insert(out.items.end(), all.items.begin() + begin, all.items.begin() + end);
    out.weights.insert(out.weights.end(), all.weights.begin() + begin, all.weights.begin() + end);
    out.indptr.push_back(out.items.size());
  }
}

BagRows encode_bags(const TrainModelConfig& config, const std::string& matrix_dir, const std::vector<std::string>& ids,
                    std::size_t* missing) {
  const MatrixCounts m = read_matrix_counts(matrix_dir, config.bag_event);
  std::unordered_map<std::string, std::size_t> user_row;
  for (std::size_t u = 0; u < m.users.size(); ++u) user_row.emplace(m.users[u], u);
  // Matrix column -> bag vocabulary row (0: an item the model has not seen).
  std::unordered_map<std::string, std::int32_t> vocab_row;
  for (std::size_t i = 1; i < config.bag_items.size(); ++i) vocab_row.emplace(config.bag_items[i], static_cast<std::int32_t>(i));
  std::vector<std::int32_t> item_row(m.items.size(), 0);
  for (std::size_t i = 0; i < m.items.size(); ++i) {
    const auto it = vocab_row.find(m.items[i]);
    if (it != vocab_row.end()) item_row[i] = it->second;
  }
  BagRows bags;
  bags.indptr.reserve(ids.size() + 1);
  std::size_t absent = 0;
  for (const auto& id : ids) {
    const auto user = user_row.find(id);
    if (user == user_row.end()) {
      ++absent;
    } else {
      const auto begin = static_cast<std::size_t>(m.counts.indptr[user->second]);
      const auto end = static_cast<std::size_t>(m.counts.indptr[user->second + 1]);
      double total = 0;
      for (std::size_t k = begin; k < end; ++k) total += m.counts.values[k];
      for (std::size_t k = begin; k < end && total > 0; ++k) {
        bags.items.push_back(item_row[static_cast<std::size_t>(m.counts.indices[k])]);
        bags.weights.push_back(static_cast<float>(m.counts.values[k] / total));
      }
    }
    bags.indptr.push_back(bags.items.size());
  }
  if (missing) *missing = absent;
  return bags;
}

}  // namespace cohort::train_detail
