/*
 * train_output.cpp: writes a training run: model.ckpt, history.csv, per-column
 * embeddings_<col>.npy + vocab_<col>.txt, and the user vectors embeddings.npy + ids.txt
 * (the id embedding's rows when the id column is embedded, else one row per distinct id
 * (its first table row) holding the concatenation of that row's categorical embeddings),
 * with a bag input followed by the id's bag vector; and embeddings_bag.npy + vocab_bag.txt.
 */
#include <cctype>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "cohort/atomic_file.hpp"
#include "cohort/npy.hpp"
#include "cohort/train.hpp"
#include "host/cpu/train_layout.hpp"
#include "kernels/train_element.hpp"

namespace cohort {
namespace {

std::string safe_name(const std::string& column) {
  std::string out;
  for (char ch : column) out += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-') ? ch : '_';
  return out;
}

std::string num(double v) {
  if (std::isnan(v)) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", v);
  return text;
}

}  // namespace

void write_train_outputs(const TrainResult& result, const std::string& dir) {
  ensure_directory(dir);
  const auto& model = result.model;
  const auto& cfg = model.config;
  const auto L = train_detail::make_layout(cfg);
  save_checkpoint(model, dir + "/model.ckpt");
  std::string history = "epoch,train_loss,valid_loss\n";
  for (const auto& e : result.history)
    history += std::to_string(e.epoch) + "," + num(e.train_loss) + "," + num(e.valid_loss) + "\n";
  write_text_file(dir + "/history.csv", history);
  for (std::size_t c = 0; c < L.n_cat; ++c) {
    const std::string name = safe_name(cfg.cat_cols[c]);
    write_npy(dir + "/embeddings_" + name + ".npy", model.params.data() + L.emb[c], {L.vocab[c], L.width[c]});
    write_lines(dir + "/vocab_" + name + ".txt", cfg.vocabs[c]);
  }
  if (L.bag_width > 0) {
    write_npy(dir + "/embeddings_bag.npy", model.params.data() + L.bag, {L.bag_vocab, L.bag_width});
    write_lines(dir + "/vocab_bag.txt", cfg.bag_items);
  }
  // Each distinct id's first table row.
  std::vector<std::string> ids;
  std::vector<std::size_t> first_row;
  std::unordered_map<std::string, std::size_t> row_of;
  for (std::size_t r = 0; r < result.row_ids.size(); ++r)
    if (row_of.emplace(result.row_ids[r], r).second) ids.push_back(result.row_ids[r]), first_row.push_back(r);
  if (cfg.embed_id) ids.assign(cfg.vocabs[L.n_cat - 1].begin() + 1, cfg.vocabs[L.n_cat - 1].end());
  const std::size_t width = (cfg.embed_id ? L.width[L.n_cat - 1] : L.bag_col) + L.bag_width;
  std::vector<float> vectors;
  vectors.reserve(ids.size() * width);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto row = cfg.embed_id ? row_of.find(ids[i]) : row_of.end();
    const std::size_t r = cfg.embed_id ? (row == row_of.end() ? SIZE_MAX : row->second) : first_row[i];
    if (cfg.embed_id) {  // the id embedding's row i + 1 (row 0 is the unknown id)
      const float* e = model.params.data() + L.emb[L.n_cat - 1] + (i + 1) * L.width[L.n_cat - 1];
      vectors.insert(vectors.end(), e, e + L.width[L.n_cat - 1]);
    } else {
      for (std::size_t c = 0; c < L.n_cat; ++c) {
        const float* e = model.params.data() + L.emb[c] + static_cast<std::size_t>(result.row_cats[r * L.n_cat + c]) * L.width[c];
        vectors.insert(vectors.end(), e, e + L.width[c]);
      }
    }
    for (std::size_t j = 0; j < L.bag_width; ++j) {
      const auto& b = result.row_bags;
      vectors.push_back(r == SIZE_MAX ? 0.0f
                                      : train_element::bag_column(model.params.data() + L.bag, L.bag_width, j,
                                                                  b.items.data(), b.weights.data(), b.indptr[r],
                                                                  b.indptr[r + 1]));
    }
  }
  write_npy(dir + "/embeddings.npy", vectors.data(), {ids.size(), width});
  write_lines(dir + "/ids.txt", ids);
}

}  // namespace cohort
