/*
 * rng.hpp: the generator's random numbers, written here so every library and thread
 * count gives the same stream (std:: distributions differ between standard libraries).
 *
 * GenRng is splitmix64: a 64-bit counter advanced by a constant and hashed. Each work
 * unit (a block of customers, an hour of pings, ...) gets its own stream seeded from
 * (seed, stream tag, unit index), so units can run in any order on any thread.
 * AliasTable draws from a discrete distribution in O(1) (Vose's method).
 */
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cohort::gen {

enum class Stream : std::uint64_t { Lots = 1, Stores = 2, Customers = 3, Pings = 4, Events = 5 };

inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class GenRng {
 public:
  GenRng(std::uint64_t seed, Stream stream, std::uint64_t index) {
    state_ = mix64(mix64(seed + 0x9E3779B97F4A7C15ULL * (static_cast<std::uint64_t>(stream) + 1)) ^
                   (index * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL));
  }
  std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    return mix64(state_);
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n) for n < 2^53 (exact scaling of 53 random bits).
  std::uint64_t below(std::uint64_t n) {
    const auto i = static_cast<std::uint64_t>(uniform() * static_cast<double>(n));
    return i < n ? i : n - 1;
  }
  /// Standard normal (Box-Muller; the second value is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u = uniform();
    while (u <= 0.0) u = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u));
    const double angle = 6.283185307179586 * uniform();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }
  /// Index drawn with probability weights[i] / sum (linear scan; for short vectors).
  template <typename Weights>
  std::size_t categorical(const Weights& weights, std::size_t n) {
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) total += weights[i];
    double target = uniform() * total;
    std::size_t last = 0;  // rounding can leave target > 0 at the end: use the last positive weight
    for (std::size_t i = 0; i < n; ++i) {
      if (!(weights[i] > 0)) continue;
      if (target < weights[i]) return i;
      target -= weights[i];
      last = i;
    }
    return last;
  }

 private:
  std::uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

/// Draws index i with probability weights[i] / sum(weights) in O(1).
class AliasTable {
 public:
  AliasTable() = default;
  explicit AliasTable(const std::vector<double>& weights);
  bool empty() const { return prob_.empty(); }
  std::size_t size() const { return prob_.size(); }
  std::uint32_t sample(GenRng& rng) const {
    const std::uint64_t i = rng.below(prob_.size());
    return rng.uniform() < prob_[i] ? static_cast<std::uint32_t>(i) : alias_[i];
  }

 private:
  std::vector<double> prob_;
  std::vector<std::uint32_t> alias_;
};

}  // namespace cohort::gen
