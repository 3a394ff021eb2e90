/*
 * customers.cpp: customers with a latent segment and attributes drawn from it;
 * writes customers.csv and truth_segments.csv.
 *
 * Customer i uses its own stream (seed, Customers, i), so blocks of customers are made in
 * parallel. Per customer: segment ~ proportions; home ~ Normal(neighbourhood centre) kept
 * clear of stores; attributes ~ the segment's tables; income lognormal around the
 * segment's median; tenure exponential; spend (the regression target) =
 *   spend_median * exp(0.30 ln(income/median) + 0.15 ln(1 + tenure/12) + 0.08 [iOS]
 *                      + age effect + 0.20 noise)
 * so a model that sees the attributes beats the mean predictor. Tenure is capped at 20 years.
 */
#include <algorithm>
#include <cmath>

#include "cohort/atomic_file.hpp"
#include "cohort/backend.hpp"
#include "host/gen/format.hpp"
#include "host/gen/model.hpp"
#include "host/gen/world.hpp"

namespace cohort::gen {
namespace {

constexpr std::size_t kBlock = 4096;
constexpr double kAgeIncome[kAgeBands] = {0.70, 0.95, 1.10, 1.15, 0.90};
constexpr double kAgeSpend[kAgeBands] = {-0.10, 0.0, 0.05, 0.05, -0.05};
// A fallback home in the extent's corner strip, where no lot (hence no store) lies.
constexpr double kCornerLon = -105.189, kCornerLat = 39.541;

bool in_extent(double x, double y, double pad) {
  const WorldExtent& e = kWorldExtent;
  return x >= e.min_lon + pad && x <= e.max_lon - pad && y >= e.min_lat + pad && y <= e.max_lat - pad;
}

/// Draws one customer and appends its two CSV lines.
void make_customer(const World& world, std::uint32_t i, Customer& c, std::string& customers, std::string& truth) {
  const auto& model = world_model();
  GenRng rng(world.seed, Stream::Customers, i);
  double proportions[kSegments];
  for (int s = 0; s < kSegments; ++s) proportions[s] = model.segments[s].proportion;
  c.segment = static_cast<std::uint8_t>(rng.categorical(proportions, kSegments));
  const SegmentModel& seg = model.segments[c.segment];

  const int hood = seg.home[rng.uniform() < 0.6 ? 0 : 1];
  const Neighbourhood& n = model.neighbourhoods[hood];
  double dx = 0, dy = 0;
  c.home_x = coord_units(kCornerLon), c.home_y = coord_units(kCornerLat);
  for (int attempt = 0; attempt < 64; ++attempt) {
    dx = 1.3 * seg.home_sigma_deg * rng.normal(), dy = seg.home_sigma_deg * rng.normal();
    const std::int64_t ux = coord_units(n.lon + dx), uy = coord_units(n.lat + dy);
    const double x = coord_degrees(ux), y = coord_degrees(uy);
    if (in_extent(x, y, 0.001) && world.index->clear_outside(x, y)) {
      c.home_x = ux, c.home_y = uy;
      break;
    }
  }
  const char* zip = n.zips[dx > 0 && dy > 0 ? 0 : dx <= 0 ? 1 : 2];
  c.work_x = coord_degrees(c.home_x), c.work_y = coord_degrees(c.home_y);
  if (seg.work >= 0) {
    const Neighbourhood& w = model.neighbourhoods[seg.work];
    c.work_x = std::clamp(w.lon + 1.3 * seg.work_sigma_deg * rng.normal(), kWorldExtent.min_lon, kWorldExtent.max_lon);
    c.work_y = std::clamp(w.lat + seg.work_sigma_deg * rng.normal(), kWorldExtent.min_lat, kWorldExtent.max_lat);
  }

  const std::size_t age = rng.categorical(seg.age, kAgeBands);
  const std::size_t gender = rng.categorical(seg.gender, 3);
  const std::size_t marital = rng.categorical(seg.marital, 4);
  const bool ios = rng.uniform() < seg.ios;
  const double income = seg.income_median * kAgeIncome[age] * std::exp(0.30 * rng.normal());
  const double tenure = std::min(240.0, 0.5 - seg.tenure_mean_months * std::log(1.0 - rng.uniform()));
  const double spend = seg.spend_median * std::exp(0.30 * std::log(income / seg.income_median) +
                                                   0.15 * std::log(1.0 + tenure / 12.0) + (ios ? 0.08 : 0.0) +
                                                   kAgeSpend[age] + 0.20 * rng.normal());
  c.ping_activity = static_cast<float>(std::exp(0.5 * rng.normal()));
  c.event_activity = static_cast<float>(std::exp(0.7 * rng.normal()));
  for (auto& f : c.favourites) f = static_cast<std::int32_t>(world.store_choice[c.segment].sample(rng));

  append_user_id(customers, world, i);
  customers += ',';
  customers += kAgeBandNames[age];
  customers += ',';
  customers += kGenderNames[gender];
  customers += ',';
  customers += kMaritalNames[marital];
  customers += ios ? ",iOS," : ",android,";
  customers += n.city;
  customers += ',';
  customers += n.state;
  customers += ',';
  customers += zip;
  customers += ',';
  append_fixed(customers, c.home_x, kCoordDecimals);
  customers += ',';
  append_fixed(customers, c.home_y, kCoordDecimals);
  customers += ',';
  append_fixed(customers, to_units(income, 2), 2);
  customers += ',';
  append_fixed(customers, to_units(tenure, 1), 1);
  customers += ',';
  append_fixed(customers, to_units(spend, 2), 2);
  customers += '\n';

  append_user_id(truth, world, i);
  truth += ',';
  append_uint(truth, c.segment);
  truth += '\n';
}

}  // namespace

void build_customers(World& world, std::vector<GeneratedFile>& files) {
  const std::size_t count = world.size.customers;
  world.customer_width = id_width(count, 7);
  world.customers.assign(count, Customer{});
  AtomicFile customers(world.path("customers.csv"));
  AtomicFile truth(world.path("truth_segments.csv"));
  customers.write(
      "user_id,age_band,gender,marital_status,device,city,state,zip_code,home_lon,home_lat,income,tenure_months,"
      "spend\n");
  truth.write("user_id,segment\n");

  const std::size_t blocks = (count + kBlock - 1) / kBlock;
  const std::size_t batch = static_cast<std::size_t>(std::max(8, 4 * cpu_threads()));
  std::vector<std::string> customer_text(batch), truth_text(batch);
  for (std::size_t begin = 0; begin < blocks; begin += batch) {
    const std::size_t end = std::min(blocks, begin + batch);
    const long long n = static_cast<long long>(end - begin);
#pragma omp parallel for schedule(dynamic, 1)
    for (long long b = 0; b < n; ++b) {
      const std::size_t block = begin + static_cast<std::size_t>(b);
      auto& ct = customer_text[static_cast<std::size_t>(b)];
      auto& tt = truth_text[static_cast<std::size_t>(b)];
      ct.clear(), tt.clear();
      for (std::size_t i = block * kBlock; i < std::min(count, (block + 1) * kBlock); ++i)
        make_customer(world, static_cast<std::uint32_t>(i), world.customers[i], ct, tt);
    }
    for (std::size_t b = 0; b < end - begin; ++b) {
      customers.write(customer_text[b]);
      truth.write(truth_text[b]);
    }
  }
  customers.commit();
  truth.commit();

  // Per-segment member lists and activity tables (in customer order: deterministic).
  std::array<std::vector<double>, kSegments> ping_weights, event_weights;
  for (std::uint32_t i = 0; i < count; ++i) {
    const Customer& c = world.customers[i];
    world.members[c.segment].push_back(i);
    ping_weights[c.segment].push_back(c.ping_activity);
    event_weights[c.segment].push_back(c.event_activity);
    world.ping_activity[c.segment] += c.ping_activity;
    world.event_activity[c.segment] += c.event_activity;
    ++world.segment_counts[c.segment];
  }
  for (int s = 0; s < kSegments; ++s) {
    world.ping_users[s] = AliasTable(ping_weights[s]);
    world.event_users[s] = AliasTable(event_weights[s]);
  }
  files.push_back(file_entry(world, "customers.csv", count, false));
  files.push_back(file_entry(world, "truth_segments.csv", count, true));
}

}  // namespace cohort::gen
