/*
 * generate.cpp: `cohort generate` entry points: size parsing and the order of the steps
 * (see world.hpp). The world's randomness comes only from options.seed.
 */
#include "cohort/generate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "cohort/atomic_file.hpp"
#include "cohort/error.hpp"
#include "cohort/progress.hpp"
#include "host/gen/format.hpp"
#include "host/gen/world.hpp"

namespace cohort {

WorldSize parse_world_size(const std::string& size) {
  if (size == "tiny") return {"tiny", 300, 12, 3000, 3000};
  if (size == "small") return {"small", 5000, 200, 500000, 100000};
  if (size == "medium") return {"medium", 100000, 1000, 20000000, 4000000};
  if (size == "large") return {"large", 1000000, 3000, 200000000, 40000000};
  constexpr std::uint64_t kMin = 100, kMax = 10000000000ULL;
  const std::string expected =
      "--size must be tiny, small, medium, large or a number of pings from 100 to 10000000000, got '" + size + "'";
  if (size.empty() || size.size() > 11) throw InvalidInput(expected);
  std::uint64_t pings = 0;
  for (char c : size) {
    if (c < '0' || c > '9') throw InvalidInput(expected);
    pings = pings * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (pings < kMin || pings > kMax) throw InvalidInput(expected);
  WorldSize world;
  world.name = size;
  world.pings = pings;
  world.customers = std::clamp<std::uint64_t>(pings / 100, 50, 2000000);
  world.stores = std::clamp<std::uint64_t>(
      static_cast<std::uint64_t>(std::llround(0.28 * std::sqrt(static_cast<double>(pings)))), 12, 3000);
  world.events = std::max<std::uint64_t>(pings / 5, 100);
  return world;
}

namespace gen {

void append_user_id(std::string& out, const World& world, std::uint32_t customer) {
  out += 'c';
  append_uint(out, std::uint64_t(customer) + 1, world.customer_width);
}

GeneratedFile file_entry(const World& world, const std::string& name, std::uint64_t rows, bool ground_truth) {
  GeneratedFile file;
  file.name = name;
  file.rows = rows;
  file.bytes = std::filesystem::file_size(world.path(name));
  file.ground_truth = ground_truth;
  return file;
}

}  // namespace gen

GenerateSummary generate_world(const GenerateOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  COHORT_EXPECTS(!options.out_dir.empty(), "generate: an output directory (--out) is required");
  gen::World world;
  world.seed = options.seed;
  world.size = parse_world_size(options.size);
  COHORT_EXPECTS(options.events_per_customer <= 100000, "generate: --events-per-customer is at most 100000");
  if (options.events_per_customer > 0) world.size.events = world.size.customers * options.events_per_customer;
  world.dir = options.out_dir;
  ensure_directory(world.dir);

  std::vector<GeneratedFile> files;
  gen::build_stores(world, files);
  gen::build_customers(world, files);
  gen::write_pings(world, files);
  gen::write_events(world, files);
  gen::write_truth_store_counts(world, files);
  gen::write_manifest(world, files);
  files.push_back(gen::file_entry(world, "manifest.json", 0, false));

  GenerateSummary summary;
  summary.size = world.size;
  summary.customers = world.customers.size();
  summary.stores = world.stores.size();
  summary.pings = world.size.pings;
  summary.events = world.size.events;
  summary.pings_in_stores = world.pings_in_stores;
  for (const auto& file : files) summary.bytes += file.bytes;
  summary.files = std::move(files);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace cohort
