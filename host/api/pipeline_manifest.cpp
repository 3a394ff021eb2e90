/*
 * pipeline_manifest.cpp: DIR/manifest.json (version, device, the config that ran, one
 * record per completed stage, ground-truth scores) and the FNV-1a 64 checksums that
 * decide whether a stage can be skipped.
 */
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cohort/atomic_file.hpp"
#include "cohort/error.hpp"
#include "cohort/progress.hpp"
#include "host/api/pipeline_internal.hpp"

namespace cohort {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull, kFnvPrime = 1099511628211ull;

std::uint64_t fnv_bytes(std::uint64_t h, const unsigned char* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ data[i]) * kFnvPrime;
  return h;
}

std::uint64_t checksum_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw InvalidInput(path, 0, "cannot open for its checksum");
  std::vector<unsigned char> buffer(1 << 20);
  std::uint64_t h = kFnvOffset;
  std::size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) h = fnv_bytes(h, buffer.data(), n);
  return h;
}

std::int64_t nanoseconds(fs::file_time_type t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// The files of a path (itself, or a directory's files in name order) folded into one
// checksum with file_checksum(file path).
template <typename FileChecksum>
std::uint64_t checksum_path_with(const std::string& path, FileChecksum&& file_checksum) {
  if (!fs::exists(path)) throw InvalidInput(path, 0, "does not exist");
  if (!fs::is_directory(path)) return file_checksum(path);
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(path))
    if (entry.is_regular_file()) files.push_back(fs::relative(entry.path(), path).string());
  std::sort(files.begin(), files.end());
  std::uint64_t h = kFnvOffset;
  for (const auto& name : files) {
    const std::uint64_t sub = file_checksum((fs::path(path) / name).string());
    h = fnv_bytes(h, reinterpret_cast<const unsigned char*>(name.data()), name.size() + 0);
    h = fnv_bytes(h, reinterpret_cast<const unsigned char*>(&sub), sizeof sub);
  }
  return h;
}

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", x);
  return text;
}

}  // namespace

std::uint64_t checksum_path(const std::string& path) { return checksum_path_with(path, checksum_file); }

std::string checksum_hex(std::uint64_t checksum) {
  char text[20];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(checksum));
  return text;
}

namespace detail {

std::uint64_t checksum_path(const std::string& path, ChecksumCache& cache) {
  return checksum_path_with(path, [&](const std::string& file) {
    CachedChecksum& entry = cache[fs::absolute(file).lexically_normal().string()];
    const std::uint64_t size = fs::file_size(file);
    const std::int64_t mtime = nanoseconds(fs::last_write_time(file));
    entry.used = true;
    if (entry.taken_ns != 0 && entry.size == size && entry.mtime_ns == mtime && mtime + kRacyNs < entry.taken_ns)
      return entry.checksum;
    // Taken before reading: a write during the read leaves a later mtime, so a mismatch.
    entry.taken_ns = nanoseconds(fs::file_time_type::clock::now());
    entry.checksum = checksum_file(file);
    entry.size = size, entry.mtime_ns = mtime;
    return entry.checksum;
  });
}

const StageRecord* Manifest::find(const std::string& name) const {
  for (const auto& s : stages)
    if (s.name == name) return &s;
  return nullptr;
}

void Manifest::remove(const std::string& name) {
  stages.erase(std::remove_if(stages.begin(), stages.end(), [&](const StageRecord& s) { return s.name == name; }),
               stages.end());
}

std::string json_quote(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Manifest read_manifest(const std::string& path) {
  Manifest manifest;
  if (!fs::exists(path)) return manifest;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array stages;
  if (parser.load(path).get(root) || root["stages"].get_array().get(stages)) {
    log_warning(path + ": unreadable manifest, every stage reruns");
    return manifest;
  }
  for (simdjson::dom::element s : stages) {
    StageRecord r;
    std::string_view text;
    auto get = [&](const char* key, std::string& target) {
      if (!s[key].get_string().get(text)) target = std::string(text);
    };
    get("name", r.name);
    get("status", r.status);
    get("key", r.key);
    get("detail", r.detail);
    double seconds = 0;
    if (!s["seconds"].get_double().get(seconds)) r.seconds = seconds;
    simdjson::dom::element params;
    if (!s["parameters"].get(params)) r.params = simdjson::minify(params);
    for (const char* list : {"inputs", "outputs"}) {
      simdjson::dom::array items;
      if (s[list].get_array().get(items)) continue;
      for (simdjson::dom::element item : items) {
        std::string_view p, sum;
        if (item["path"].get_string().get(p) || item["fnv1a64"].get_string().get(sum)) continue;
        (list[0] == 'i' ? r.inputs : r.outputs).emplace_back(std::string(p), std::string(sum));
      }
    }
    if (!r.name.empty()) manifest.stages.push_back(std::move(r));
  }
  simdjson::dom::array files;
  if (!root["file_checksums"].get_array().get(files))
    for (simdjson::dom::element f : files) {
      std::string_view p, sum;
      std::uint64_t size = 0;
      std::int64_t mtime = 0, taken = 0;
      if (f["path"].get_string().get(p) || f["fnv1a64"].get_string().get(sum) || f["size"].get_uint64().get(size) ||
          f["mtime_ns"].get_int64().get(mtime) || f["taken_ns"].get_int64().get(taken))
        continue;
      CachedChecksum& entry = manifest.checksums[std::string(p)];
      entry.size = size, entry.mtime_ns = mtime, entry.taken_ns = taken;
      entry.checksum = std::stoull(std::string(sum), nullptr, 16);
    }
  return manifest;
}

void write_manifest(const std::string& path, const Manifest& manifest, const std::string& config_json, Device device,
                    const GroundTruthScores& truth) {
  std::string j = "{\n  \"cohort_version\": " + json_quote(COHORT_VERSION) + ",\n";
  j += "  \"device\": " + json_quote(device_name(device)) + ",\n";
  j += "  \"checksum\": \"FNV-1a 64 of the file bytes; a directory: of its files' names and checksums\",\n";
  j += "  \"config\": ";
  // Indent the config object under its key.
  for (const char c : config_json) {
    j += c;
    if (c == '\n') j += "  ";
  }
  while (!j.empty() && (j.back() == ' ' || j.back() == '\n')) j.pop_back();
  j += ",\n  \"stages\": [";
  for (std::size_t i = 0; i < manifest.stages.size(); ++i) {
    const auto& s = manifest.stages[i];
    j += std::string(i ? "," : "") + "\n    {\"name\": " + json_quote(s.name) + ", \"status\": " + json_quote(s.status) +
         ", \"seconds\": " + number(s.seconds) + ", \"key\": " + json_quote(s.key) + ",\n     \"parameters\": " +
         (s.params.empty() ? "{}" : s.params) + ",\n     \"detail\": " + json_quote(s.detail) + ",\n     \"inputs\": [";
    for (std::size_t k = 0; k < s.inputs.size(); ++k)
      j += std::string(k ? ", " : "") + "{\"path\": " + json_quote(s.inputs[k].first) +
           ", \"fnv1a64\": " + json_quote(s.inputs[k].second) + "}";
    j += "],\n     \"outputs\": [";
    for (std::size_t k = 0; k < s.outputs.size(); ++k)
      j += std::string(k ? ", " : "") + "{\"path\": " + json_quote(s.outputs[k].first) +
           ", \"fnv1a64\": " + json_quote(s.outputs[k].second) + "}";
    j += "]}";
  }
  j += "\n  ],\n  \"file_checksums\": [";
  bool listed = false;
  for (const auto& [file, entry] : manifest.checksums) {
    if (!entry.used) continue;
    j += std::string(listed ? "," : "") + "\n    {\"path\": " + json_quote(file) + ", \"size\": " +
         std::to_string(entry.size) + ", \"mtime_ns\": " + std::to_string(entry.mtime_ns) + ", \"taken_ns\": " +
         std::to_string(entry.taken_ns) + ", \"fnv1a64\": " + json_quote(checksum_hex(entry.checksum)) + "}";
    listed = true;
  }
  j += "\n  ]";
  if (!manifest.failed_stage.empty())
    j += ",\n  \"failed\": {\"stage\": " + json_quote(manifest.failed_stage) + ", \"error\": " +
         json_quote(manifest.error) + "}";
  if (truth.available) {
    j += ",\n  \"ground_truth\": {\n    \"join_stores\": " + std::to_string(truth.stores.size()) +
         ", \"join_stores_exact\": " + std::to_string(truth.stores_exact) +
         ",\n    \"segments_chosen_k\": " + std::to_string(truth.chosen_k) +
         ", \"segments_true_k\": " + std::to_string(truth.true_k) + ", \"segment_ari\": " + number(truth.segment_ari) +
         ",\n    \"lookalike_precision\": " + number(truth.lookalike_precision) +
         ", \"lookalike_random_precision\": " + number(truth.random_precision) + ",\n    \"join_per_store\": [";
    for (std::size_t i = 0; i < truth.stores.size(); ++i)
      j += std::string(i ? ", " : "") + (i % 4 == 0 ? "\n      " : "") + "{\"store\": " + json_quote(truth.stores[i].store) +
           ", \"truth\": " + std::to_string(truth.stores[i].truth) + ", \"joined\": " +
           std::to_string(truth.stores[i].joined) + "}";
    j += "]\n  }";
  }
  j += "\n}\n";
  write_text_file(path, j);
}

}  // namespace detail
}  // namespace cohort
