/*
 * model.hpp: the fixed parameters of the synthetic world (the "ground truth" that the
 * manifest states): six latent segments with their proportions, attribute distributions,
 * home neighbourhoods, category affinities and weekly rhythms.
 *
 * Rhythms are 168 hourly weights over a local week starting Monday 00:00 (the window
 * starts on a Monday). For segment s, shop[s] is when its members visit stores and
 * background[s] when their phones ping elsewhere; each is scaled so that over a week
 * sum(shop) = visit_fraction and sum(shop + background) = 1. online[s] drives events.
 */
#pragma once

#include <array>
#include <cstdint>

#include "cohort/generate.hpp"

namespace cohort::gen {

inline constexpr int kAgeBands = 5;
inline constexpr int kNeighbourhoods = 12;
inline constexpr int kHoursPerWeek = 168;
/// Degrees per metre at the city's latitude (39.74 N).
inline constexpr double kLonPerMetre = 1.0 / 85590.0;
inline constexpr double kLatPerMetre = 1.0 / 111320.0;

struct Neighbourhood {
  const char* city;
  const char* state;
  std::array<const char*, 3> zips;
  double lon, lat;
};

struct SegmentModel {
  const char* name;
  const char* rhythm;  ///< when this segment shops, in words (for the manifest)
  double proportion;
  std::array<double, kAgeBands> age;
  std::array<double, 3> gender;   ///< F, M, U
  std::array<double, 4> marital;  ///< single, married, divorced, widowed
  double ios;
  double income_median, tenure_mean_months, spend_median;
  std::array<int, 2> home;           ///< neighbourhoods (60% / 40%)
  double home_sigma_deg;
  int work;                          ///< neighbourhood of daytime pings, -1: around home
  double work_sigma_deg;
  double visit_fraction;             ///< share of this segment's pings inside stores
  std::array<double, kCategories> affinity;  ///< normalised category weights
  double purchase_rate;
  double price_factor;
};

struct WorldModel {
  std::array<SegmentModel, kSegments> segments;
  std::array<Neighbourhood, kNeighbourhoods> neighbourhoods;
  std::array<std::array<double, kHoursPerWeek>, kSegments> shop, background, online;
  std::array<double, kHoursPerWeek> home_share;  ///< share of background pings at home
  std::array<double, kCategories> price;          ///< median purchase amount per category
};

/// The model, built once (normalised weights, rhythms).
const WorldModel& world_model();

extern const char* const kAgeBandNames[kAgeBands];
extern const char* const kGenderNames[3];
extern const char* const kMaritalNames[4];

}  // namespace cohort::gen
