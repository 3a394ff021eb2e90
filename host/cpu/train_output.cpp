/*
 * train_output.cpp: writes a training run: model.ckpt, history.csv, per-column
 * embeddings_<col>.npy + vocab_<col>.txt, and the user vectors embeddings.npy + ids.txt
 * (the id embedding's rows when the id column is embedded, else one row per distinct id
 * (its first table row) holding the concatenation of that row's categorical embeddings).
 */
#include <cctype>
#include <cmath>
#include <cstdio>
#include <unordered_set>

#include "cohort/atomic_file.hpp"
#include "cohort/npy.hpp"
#include "cohort/train.hpp"
#include "host/cpu/train_layout.hpp"

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
  std::vector<std::string> ids;
  std::vector<float> vectors;
  std::size_t width = 0;
  if (cfg.embed_id) {
    const std::size_t c = L.n_cat - 1;
    width = L.width[c];
    ids.assign(cfg.vocabs[c].begin() + 1, cfg.vocabs[c].end());
    vectors.assign(model.params.begin() + static_cast<std::ptrdiff_t>(L.emb[c] + width),
                   model.params.begin() + static_cast<std::ptrdiff_t>(L.emb[c] + L.vocab[c] * width));
  } else {
    width = L.emb_cols;
    std::unordered_set<std::string> seen;
    for (std::size_t r = 0; r < result.row_ids.size(); ++r) {
      if (!seen.insert(result.row_ids[r]).second) continue;
      ids.push_back(result.row_ids[r]);
      for (std::size_t c = 0; c < L.n_cat; ++c) {
        const float* e = model.params.data() + L.emb[c] + static_cast<std::size_t>(result.row_cats[r * L.n_cat + c]) * L.width[c];
        vectors.insert(vectors.end(), e, e + L.width[c]);
      }
    }
  }
  write_npy(dir + "/embeddings.npy", vectors.data(), {ids.size(), width});
  write_lines(dir + "/ids.txt", ids);
}

}  // namespace cohort
