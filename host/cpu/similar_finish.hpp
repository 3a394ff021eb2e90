/*
 * similar_finish.hpp: the last step of a top-k query, shared by both backends (the
 * CUDA backend re-scores on the device, then finishes here): final threshold, exact
 * scores, (score desc, index asc) order.
 */
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/similar_element.hpp"

namespace cohort::detail {

/// Keeps the rows with fast >= (k-th best fast) - window; returns that threshold
/// (-inf when there are at most k rows, which are all kept).
inline float keep_within_window(std::vector<Candidate>& items, std::size_t k, float window) {
  if (items.size() <= k) return -std::numeric_limits<float>::infinity();
  auto kth = items.begin() + static_cast<std::ptrdiff_t>(k - 1);
  std::nth_element(items.begin(), kth, items.end(),
                   [](const Candidate& a, const Candidate& b) { return a.fast > b.fast; });
  const float threshold = kth->fast - window;
  items.erase(std::remove_if(items.begin(), items.end(),
                             [threshold](const Candidate& c) { return c.fast < threshold; }),
              items.end());
  return threshold;
}

template <typename Rescore>
std::size_t finish_candidates(std::vector<Candidate>& items, std::size_t k, float window, Rescore&& rescore,
                              std::int64_t* out_indices, float* out_scores) {
  if (k == 0) return 0;
  keep_within_window(items, k, window);
  for (auto& c : items) rescore(c);
  const std::size_t count = std::min(k, items.size());
  auto before = [](const Candidate& a, const Candidate& b) { return ranks_before(a.exact, a.index, b.exact, b.index); };
  std::partial_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(count), items.end(), before);
  for (std::size_t r = 0; r < count; ++r) {
    out_indices[r] = items[r].index;
    out_scores[r] = items[r].exact;
  }
  return count;
}

}  // namespace cohort::detail
