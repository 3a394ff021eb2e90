/*
 * train_model.cpp: the network's parameter layout and initialisation, the trainer's RNG,
 * task names, the embedding-size rule, and the checkpoint format (see train.hpp).
 */
#include <cmath>
#include <cstring>
#include <fstream>
#include <sys/stat.h>

#include "cohort/atomic_file.hpp"
#include "cohort/error.hpp"
#include "cohort/train.hpp"
#include "host/cpu/train_layout.hpp"

namespace cohort {

TrainTask parse_train_task(const std::string& name) {
  if (name == "regression") return TrainTask::Regression;
  if (name == "binary") return TrainTask::Binary;
  if (name == "multiclass") return TrainTask::Multiclass;
  throw InvalidInput("unknown task '" + name + "' (expected regression, binary or multiclass)");
}

const char* train_task_name(TrainTask task) {
  switch (task) {
    case TrainTask::Regression: return "regression";
    case TrainTask::Binary: return "binary";
    case TrainTask::Multiclass: return "multiclass";
  }
  return "?";
}

int default_embedding_size(std::size_t n) {
  const double size = std::round(1.6 * std::pow(static_cast<double>(n), 0.56));
  return static_cast<int>(std::min(600.0, size));
}

namespace train_detail {

double TrainRng::normal() {
  double u = uniform();
  while (u <= 0.0) u = uniform();
  return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * uniform());
}

std::vector<std::uint32_t> shuffled_indices(std::size_t n, TrainRng& rng) {
  std::vector<std::uint32_t> idx(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = static_cast<std::uint32_t>(i);
  for (std::size_t i = n; i > 1; --i) std::swap(idx[i - 1], idx[rng.below(i)]);
  return idx;
}

TrainLayout make_layout(const TrainModelConfig& config) {
  TrainLayout L;
  L.bn = config.batch_norm;
  L.n_cat = config.cat_cols.size();
  L.n_cont = config.cont_cols.size();
  L.n_out = static_cast<std::size_t>(config.n_out);
  std::size_t at = 0;
  for (std::size_t c = 0; c < L.n_cat; ++c) {
    L.vocab.push_back(config.vocabs[c].size());
    L.width.push_back(static_cast<std::size_t>(config.emb_dims[c]));
    L.emb.push_back(at);
    L.emb_col.push_back(L.emb_cols);
    at += L.vocab[c] * L.width[c];
    L.emb_cols += L.width[c];
  }
  L.bag_col = L.emb_cols;
  if (config.bag_width > 0) {
    L.bag_vocab = config.bag_items.size();
    L.bag_width = static_cast<std::size_t>(config.bag_width);
    L.bag = at;
    at += L.bag_vocab * L.bag_width;
    L.emb_cols += L.bag_width;
  }
  L.dims.push_back(L.emb_cols + L.n_cont);
  for (int h : config.layers) L.dims.push_back(static_cast<std::size_t>(h));
  L.dims.push_back(L.n_out);
  const std::size_t H = L.hidden();
  for (std::size_t l = 0; l <= H; ++l) {
    L.w.push_back(at);
    at += L.dims[l + 1] * L.dims[l];
  }
  L.n_decay = at;
  if (L.bn && L.n_cont > 0) {
    L.cont_gamma = at, at += L.n_cont;
    L.cont_beta = at, at += L.n_cont;
  }
  for (std::size_t l = 0; l < H; ++l) {
    if (L.bn) {
      L.gamma.push_back(at), at += L.dims[l + 1];
      L.beta.push_back(at), at += L.dims[l + 1];
    } else {
      L.bias.push_back(at), at += L.dims[l + 1];
    }
  }
  L.out_bias = at, at += L.n_out;
  L.n_params = at;
  std::size_t s = 0;
  if (L.bn) {
    L.cont_rmean = s, s += L.n_cont;
    L.cont_rvar = s, s += L.n_cont;
    for (std::size_t l = 0; l < H; ++l) {
      L.rmean.push_back(s), s += L.dims[l + 1];
      L.rvar.push_back(s), s += L.dims[l + 1];
    }
  }
  L.n_state = s;
  return L;
}

void init_parameters(const TrainLayout& L, std::uint64_t seed, std::vector<float>& params, std::vector<float>& state) {
  TrainRng rng(seed);
  params.assign(L.n_params, 0.0f);
  for (std::size_t c = 0; c < L.n_cat; ++c)
    for (std::size_t i = 0; i < L.vocab[c] * L.width[c]; ++i)
      params[L.emb[c] + i] = static_cast<float>(std::fmod(rng.normal(), 2.0) * 0.01);  // fastai trunc_normal_
  for (std::size_t i = 0; i < L.bag_vocab * L.bag_width; ++i)
    params[L.bag + i] = static_cast<float>(std::fmod(rng.normal(), 2.0) * 0.01);
  const std::size_t H = L.hidden();
  for (std::size_t l = 0; l <= H; ++l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(L.dims[l]));
    for (std::size_t i = 0; i < L.dims[l + 1] * L.dims[l]; ++i)
      params[L.w[l] + i] = static_cast<float>((2.0 * rng.uniform() - 1.0) * bound);
    const std::size_t bias = l == H ? L.out_bias : (L.bn ? SIZE_MAX : L.bias[l]);
    if (bias != SIZE_MAX)
      for (std::size_t i = 0; i < L.dims[l + 1]; ++i)
        params[bias + i] = static_cast<float>((2.0 * rng.uniform() - 1.0) * bound);
  }
  if (L.bn) {
    for (std::size_t k = 0; k < L.n_cont; ++k) params[L.cont_gamma + k] = 1.0f;
    for (std::size_t l = 0; l < H; ++l)
      for (std::size_t i = 0; i < L.dims[l + 1]; ++i) params[L.gamma[l] + i] = 1.0f;
  }
  state.assign(L.n_state, 0.0f);
  if (L.bn) {
    for (std::size_t k = 0; k < L.n_cont; ++k) state[L.cont_rvar + k] = 1.0f;
    for (std::size_t l = 0; l < H; ++l)
      for (std::size_t i = 0; i < L.dims[l + 1]; ++i) state[L.rvar[l] + i] = 1.0f;
  }
}

}  // namespace train_detail

// ---- checkpoint -------------------------------------------------------------------
namespace {

constexpr char kMagic[17] = "COHORTTRAINCKPT1";
constexpr std::uint32_t kVersion = 2;  // 2 added the bag input

class Writer {
 public:
  void raw(const void* p, std::size_t n) { bytes_.append(static_cast<const char*>(p), n); }
  template <typename T>
  void put(T v) { raw(&v, sizeof v); }
  void str(const std::string& s) {
    put<std::uint64_t>(s.size());
    raw(s.data(), s.size());
  }
  void floats(const std::vector<float>& v) {
    put<std::uint64_t>(v.size());
    raw(v.data(), v.size() * sizeof(float));
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

class Reader {
 public:
  Reader(std::string bytes, std::string path) : bytes_(std::move(bytes)), path_(std::move(path)) {}
  void raw(void* p, std::size_t n) {
    if (n > bytes_.size() - at_) throw InvalidInput(path_, 0, "truncated checkpoint");
    std::memcpy(p, bytes_.data() + at_, n);
    at_ += n;
  }
  template <typename T>
  T get() {
    T v{};
    raw(&v, sizeof v);
    return v;
  }
  std::uint64_t count(std::uint64_t elem_size) {
    const auto n = get<std::uint64_t>();
    if (elem_size > 0 && n > (bytes_.size() - at_) / elem_size) throw InvalidInput(path_, 0, "corrupt checkpoint");
    return n;
  }
  std::string str() {
    std::string s(count(1), '\0');
    raw(s.data(), s.size());
    return s;
  }
  std::vector<float> floats() {
    std::vector<float> v(count(sizeof(float)));
    raw(v.data(), v.size() * sizeof(float));
    return v;
  }
  bool done() const { return at_ == bytes_.size(); }

 private:
  std::string bytes_, path_;
  std::size_t at_ = 0;
};

}  // namespace

void save_checkpoint(const TrainedModel& model, const std::string& path) {
  const auto& c = model.config;
  Writer w;
  w.raw(kMagic, 16);
  w.put(kVersion);
  w.str(c.target);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(c.task));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(c.n_out));
  w.put<std::uint8_t>(c.has_y_range);
  w.put(c.y_lo), w.put(c.y_hi);
  w.put<std::uint8_t>(c.batch_norm);
  w.put(c.dropout);
  w.put<std::uint64_t>(c.layers.size());
  for (int h : c.layers) w.put<std::uint32_t>(static_cast<std::uint32_t>(h));
  w.str(c.id_col);
  w.put<std::uint8_t>(c.embed_id);
  w.put<std::uint64_t>(c.cat_cols.size());
  for (std::size_t i = 0; i < c.cat_cols.size(); ++i) {
    w.str(c.cat_cols[i]);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(c.emb_dims[i]));
    w.put<std::uint64_t>(c.vocabs[i].size());
    for (const auto& v : c.vocabs[i]) w.str(v);
  }
  w.put<std::uint64_t>(c.cont_cols.size());
  for (std::size_t i = 0; i < c.cont_cols.size(); ++i) {
    w.str(c.cont_cols[i]);
    w.put(c.cont_mean[i]), w.put(c.cont_std[i]);
  }
  w.put<std::uint64_t>(c.classes.size());
  for (const auto& s : c.classes) w.str(s);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(c.bag_width));
  if (c.bag_width > 0) {
    w.str(c.bag_event);
    w.put<std::uint64_t>(c.bag_items.size());
    for (const auto& item : c.bag_items) w.str(item);
  }
  w.floats(model.params);
  w.floats(model.state);
  AtomicFile file(path);
  file.write(w.bytes());
  file.commit();
}

TrainedModel load_checkpoint(const std::string& where) {
  std::string path = where;
  struct stat info {};
  if (::stat(where.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) path = where + "/model.ckpt";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidInput(path, 0, "cannot open the checkpoint");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Reader r(std::move(bytes), path);
  char magic[16];
  r.raw(magic, 16);
  if (std::memcmp(magic, kMagic, 16) != 0) throw InvalidInput(path, 0, "not a cohort train checkpoint");
  const auto version = r.get<std::uint32_t>();
  if (version < 1 || version > kVersion) throw InvalidInput(path, 0, "unsupported checkpoint version");
  TrainedModel model;
  auto& c = model.config;
  c.target = r.str();
  const auto task = r.get<std::uint32_t>();
  if (task > 2) throw InvalidInput(path, 0, "corrupt checkpoint (task)");
  c.task = static_cast<TrainTask>(task);
  c.n_out = static_cast<int>(r.get<std::uint32_t>());
  c.has_y_range = r.get<std::uint8_t>() != 0;
  c.y_lo = r.get<double>(), c.y_hi = r.get<double>();
  c.batch_norm = r.get<std::uint8_t>() != 0;
  c.dropout = r.get<double>();
  for (auto n = r.count(4); n > 0; --n) c.layers.push_back(static_cast<int>(r.get<std::uint32_t>()));
  c.id_col = r.str();
  c.embed_id = r.get<std::uint8_t>() != 0;
  for (auto n = r.count(8); n > 0; --n) {
    c.cat_cols.push_back(r.str());
    c.emb_dims.push_back(static_cast<int>(r.get<std::uint32_t>()));
    std::vector<std::string> vocab;
    for (auto m = r.count(8); m > 0; --m) vocab.push_back(r.str());
    c.vocabs.push_back(std::move(vocab));
  }
  for (auto n = r.count(8); n > 0; --n) {
    c.cont_cols.push_back(r.str());
    c.cont_mean.push_back(r.get<double>());
    c.cont_std.push_back(r.get<double>());
  }
  for (auto n = r.count(8); n > 0; --n) c.classes.push_back(r.str());
  if (version >= 2) c.bag_width = static_cast<int>(r.get<std::uint32_t>());
  if (c.bag_width > 0) {
    c.bag_event = r.str();
    for (auto n = r.count(8); n > 0; --n) c.bag_items.push_back(r.str());
    if (c.bag_items.empty()) throw InvalidInput(path, 0, "corrupt checkpoint (bag without items)");
  }
  model.params = r.floats();
  model.state = r.floats();
  if (!r.done()) throw InvalidInput(path, 0, "corrupt checkpoint (trailing bytes)");
  const auto layout = train_detail::make_layout(c);
  if (layout.n_params != model.params.size() || layout.n_state != model.state.size())
    throw InvalidInput(path, 0, "corrupt checkpoint (parameter count does not match the model)");
  return model;
}

}  // namespace cohort
