/*
 * train_layout.hpp: where every tensor of the tabular network lives in the flat
 * parameter buffer (and the batch-norm running statistics in the state buffer), plus
 * the trainer's random numbers. Shared by the CPU and CUDA backends.
 *
 * Parameters, in order (decayed first, so weight decay applies to [0, n_decay)):
 *   emb_c (vocab_c x width_c) per categorical column, emb_bag (bag_vocab x bag_width),
 *   W_l (H_l x D_l) per hidden layer,
 *   W_out (n_out x D_L) | cont_gamma, cont_beta (K each, with batch norm),
 *   per hidden layer gamma_l, beta_l (H_l each, with batch norm) or bias_l (without),
 *   b_out (n_out).
 * State: cont running mean, running var (K each), then per hidden layer running mean and
 *   var (H_l each); empty without batch norm. Running var starts at 1, mean at 0.
 * D_0 = sum of widths + bag_width + K (x0 columns in that order); D_{l+1} = H_l.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cohort/train.hpp"
#include "kernels/train_element.hpp"

namespace cohort::train_detail {

struct TrainLayout {
  std::size_t n_cat = 0, n_cont = 0, n_out = 1;
  std::vector<std::size_t> vocab, width, emb, emb_col;  ///< per cat column
  std::size_t bag_vocab = 0, bag_width = 0, bag = 0;    ///< emb_bag: rows, width, offset
  std::size_t bag_col = 0;  ///< first x0 column of the bag = the categorical columns' total width
  std::size_t emb_cols = 0;                             ///< sum of widths + bag_width
  std::vector<std::size_t> dims;                        ///< D_0 .. D_L, then n_out
  std::vector<std::size_t> w;                           ///< hidden W_l, then W_out last
  std::size_t n_decay = 0;
  std::size_t cont_gamma = 0, cont_beta = 0;
  std::vector<std::size_t> gamma, beta, bias;  ///< per hidden layer (bias without bn)
  std::size_t out_bias = 0;
  std::size_t n_params = 0;
  std::size_t cont_rmean = 0, cont_rvar = 0;
  std::vector<std::size_t> rmean, rvar;
  std::size_t n_state = 0;
  bool bn = true;
  std::size_t hidden() const { return dims.size() - 2; }
};

TrainLayout make_layout(const TrainModelConfig& config);

/// Initial parameters (embeddings ~ trunc normal 0.01, Linear ~ U(+-1/sqrt(fan_in)),
/// BN gamma 1 / beta 0) and state (running mean 0, var 1) for a seed.
void init_parameters(const TrainLayout& layout, std::uint64_t seed, std::vector<float>& params,
                     std::vector<float>& state);

/// splitmix64 stream; normal() by Box-Muller in double.
class TrainRng {
 public:
  explicit TrainRng(std::uint64_t seed) : state_(train_element::splitmix64(seed ^ 0x5EEDC0DE12345678ull)) {}
  std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  std::uint64_t below(std::uint64_t n) {
    const auto i = static_cast<std::uint64_t>(uniform() * static_cast<double>(n));
    return i < n ? i : n - 1;
  }
  double normal();

 private:
  std::uint64_t state_;
};

/// Fisher-Yates shuffle of 0..n-1 with a TrainRng.
std::vector<std::uint32_t> shuffled_indices(std::size_t n, TrainRng& rng);

}  // namespace cohort::train_detail
