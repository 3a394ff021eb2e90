/* rng.cpp: Vose's alias method (deterministic: fixed scan order, no std:: distributions). */
#include "host/gen/rng.hpp"

namespace cohort::gen {

AliasTable::AliasTable(const std::vector<double>& weights) {
  const std::size_t n = weights.size();
  double total = 0;
  for (double w : weights) total += w;
  if (n == 0 || !(total > 0)) return;
  prob_.assign(n, 0.0);
  alias_.assign(n, 0);
  std::vector<double> scaled(n);
  std::vector<std::uint32_t> small, large;
  for (std::size_t i = 0; i < n; ++i) {
    scaled[i] = weights[i] * static_cast<double>(n) / total;
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
  }
  while (!small.empty() && !large.empty()) {
    const std::uint32_t s = small.back(), l = large.back();
    small.pop_back();
    prob_[s] = scaled[s];
    alias_[s] = l;
    scaled[l] = (scaled[l] + scaled[s]) - 1.0;
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Leftovers are 1 up to rounding.
  for (std::uint32_t i : large) prob_[i] = 1.0, alias_[i] = i;
  for (std::uint32_t i : small) prob_[i] = 1.0, alias_[i] = i;
}

}  // namespace cohort::gen
