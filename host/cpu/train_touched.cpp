/*
 * train_touched.cpp: the embedding-table rows a batch uses, for lazy Adam on both
 * backends (the CUDA engine uploads the same list).
 */
#include <algorithm>

#include "host/cpu/train_engine.hpp"

namespace cohort::train_detail {

void touched_table_rows(const TrainLayout& L, const std::int32_t* cats, const std::uint32_t* rows, std::size_t batch,
                        const std::vector<std::int32_t>& bag_items, std::vector<train_element::TableRow>& out) {
  out.clear();
  std::vector<std::int32_t> used;
  auto add_table = [&](std::size_t offset, std::size_t width) {
    std::sort(used.begin(), used.end());
    used.erase(std::unique(used.begin(), used.end()), used.end());
    for (const std::int32_t r : used) out.push_back({offset + static_cast<std::size_t>(r) * width, width});
  };
  for (std::size_t c = 0; c < L.n_cat; ++c) {
    used.clear();
    for (std::size_t r = 0; r < batch; ++r) used.push_back(cats[(rows ? rows[r] : r) * L.n_cat + c]);
    add_table(L.emb[c], L.width[c]);
  }
  if (L.bag_width > 0) {
    used = bag_items;
    add_table(L.bag, L.bag_width);
  }
}

}  // namespace cohort::train_detail
