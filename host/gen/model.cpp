/* model.cpp: the world's fixed parameters (see model.hpp) and its weekly rhythms. */
#include "host/gen/model.hpp"

#include <initializer_list>
#include <utility>

namespace cohort::gen {

const char* const kAgeBandNames[kAgeBands] = {"18-24", "25-34", "35-44", "45-54", "55+"};
const char* const kGenderNames[3] = {"F", "M", "U"};
const char* const kMaritalNames[4] = {"single", "married", "divorced", "widowed"};

namespace {

const char* const kCategoryNames[kCategories] = {"Sports", "Technology", "Games", "Music",  "Fashion", "Food",
                                                 "Travel", "Books",      "Health", "Home", "Beauty",  "Auto"};
enum : int { Sports, Technology, Games, Music, Fashion, Food, Travel, Books, Health, Home, Beauty, Auto };

using Hours = std::array<double, 24>;
using Days = std::array<double, 7>;
using Week = std::array<double, kHoursPerWeek>;

Hours hours(double rest, std::initializer_list<std::pair<std::pair<int, int>, double>> ranges) {
  Hours h;
  h.fill(rest);
  for (const auto& range : ranges)
    for (int hour = range.first.first; hour <= range.first.second; ++hour) h[hour] = range.second;
  return h;
}

Week week(const Days& days, const Hours& hour_weights, double floor) {
  Week w{};
  for (int d = 0; d < 7; ++d)
    for (int h = 0; h < 24; ++h) w[d * 24 + h] = floor + days[d] * hour_weights[h];
  return w;
}

Week scaled(Week w, double total) {
  double sum = 0;
  for (double v : w) sum += v;
  for (double& v : w) v *= total / sum;
  return w;
}

std::array<double, kCategories> affinity(std::initializer_list<std::pair<int, double>> strong) {
  std::array<double, kCategories> a;
  a.fill(0.5);
  for (const auto& s : strong) a[s.first] = s.second;
  double sum = 0;
  for (double v : a) sum += v;
  for (double& v : a) v /= sum;
  return a;
}

WorldModel build_model() {
  WorldModel m{};
  m.neighbourhoods = {{
      {"Denver", "CO", {"80202", "80204", "80205"}, -104.990, 39.745},
      {"Denver", "CO", {"80211", "80212", "80221"}, -105.030, 39.770},
      {"Aurora", "CO", {"80010", "80011", "80012"}, -104.860, 39.710},
      {"Littleton", "CO", {"80120", "80122", "80123"}, -105.010, 39.610},
      {"Lakewood", "CO", {"80214", "80226", "80228"}, -105.100, 39.705},
      {"Denver", "CO", {"80206", "80209", "80246"}, -104.945, 39.720},
      {"Englewood", "CO", {"80110", "80111", "80113"}, -104.985, 39.650},
      {"Arvada", "CO", {"80002", "80003", "80004"}, -105.090, 39.815},
      {"Westminster", "CO", {"80030", "80031", "80234"}, -105.040, 39.860},
      {"Golden", "CO", {"80401", "80403", "80419"}, -105.150, 39.750},
      {"Thornton", "CO", {"80229", "80233", "80241"}, -104.970, 39.880},
      {"Greenwood Village", "CO", {"80111", "80112", "80121"}, -104.900, 39.615},
  }};
  //            name, rhythm, proportion, age, gender F/M/U, marital, ios,
  //            income, tenure, spend, homes, sigma, work, work sigma, visit fraction, affinity,
  //            purchase rate, price factor
  m.segments = {{
      {"evening_shoppers", "weekday evenings 17-21h", 0.26, {0.15, 0.35, 0.25, 0.15, 0.10}, {0.62, 0.33, 0.05},
       {0.45, 0.40, 0.12, 0.03}, 0.55, 58000, 24, 120, {0, 1}, 0.018, 0, 0.03, 0.45,
       affinity({{Food, 10}, {Fashion, 5}, {Home, 3}, {Beauty, 3}, {Health, 2}}), 0.12, 1.0},
      {"weekend_families", "weekend mornings 8-11h", 0.22, {0.03, 0.30, 0.40, 0.20, 0.07}, {0.52, 0.44, 0.04},
       {0.08, 0.82, 0.08, 0.02}, 0.45, 72000, 36, 220, {3, 7}, 0.020, -1, 0.02, 0.38,
       affinity({{Home, 10}, {Food, 5}, {Sports, 3}, {Games, 3}, {Books, 2}}), 0.15, 1.1},
      {"lunch_professionals", "weekday lunch 11-13h", 0.18, {0.05, 0.40, 0.35, 0.15, 0.05}, {0.40, 0.55, 0.05},
       {0.40, 0.48, 0.10, 0.02}, 0.60, 85000, 18, 160, {5, 8}, 0.016, 0, 0.02, 0.40,
       affinity({{Technology, 10}, {Travel, 5}, {Food, 3}, {Books, 2}, {Music, 2}}), 0.18, 1.3},
      {"morning_retirees", "weekday mornings 9-11h", 0.14, {0.01, 0.03, 0.06, 0.20, 0.70}, {0.55, 0.42, 0.03},
       {0.10, 0.55, 0.15, 0.20}, 0.35, 48000, 60, 90, {6, 4}, 0.018, -1, 0.02, 0.32,
       affinity({{Health, 10}, {Books, 5}, {Travel, 3}, {Home, 3}, {Food, 2}}), 0.10, 0.9},
      {"night_students", "late evenings 20-23h, Fri-Sat most", 0.12, {0.80, 0.17, 0.02, 0.01, 0.005},
       {0.45, 0.45, 0.10}, {0.93, 0.05, 0.02, 0.0}, 0.50, 22000, 8, 45, {2, 10}, 0.020, 0, 0.006, 0.35,
       affinity({{Games, 10}, {Music, 5}, {Technology, 3}, {Sports, 2}, {Fashion, 2}}), 0.08, 0.6},
      {"affluent_weekenders", "weekend afternoons 13-18h", 0.08, {0.02, 0.18, 0.35, 0.30, 0.15}, {0.42, 0.52, 0.06},
       {0.25, 0.60, 0.12, 0.03}, 0.75, 160000, 30, 480, {11, 9}, 0.015, 5, 0.02, 0.48,
       affinity({{Travel, 10}, {Fashion, 5}, {Auto, 4}, {Beauty, 3}, {Technology, 2}}), 0.22, 2.0},
  }};
  m.price = {45, 180, 40, 15, 60, 25, 350, 18, 30, 70, 35, 120};

  const Days weekdays{1, 1, 1, 1, 1, 0.3, 0.3}, every_day{1, 1, 1, 1, 1, 1, 1};
  const std::array<Week, kSegments> shop = {
      week(weekdays, hours(0, {{{17, 21}, 1.0}, {{12, 13}, 0.25}}), 0.01),
      week({0.2, 0.2, 0.2, 0.2, 0.25, 1, 1}, hours(0, {{{8, 11}, 1.0}, {{12, 16}, 0.35}}), 0.01),
      week({1, 1, 1, 1, 1, 0.2, 0.2}, hours(0, {{{11, 13}, 1.0}, {{17, 18}, 0.3}}), 0.01),
      week({1, 1, 1, 1, 1, 0.6, 0.4}, hours(0, {{{9, 11}, 1.0}, {{12, 14}, 0.4}}), 0.01),
      week({0.8, 0.8, 0.8, 0.9, 1.2, 1.3, 1}, hours(0, {{{20, 23}, 1.0}, {{0, 1}, 0.6}, {{14, 19}, 0.25}}), 0.01),
      week({0.15, 0.15, 0.15, 0.15, 0.5, 1, 1}, hours(0, {{{13, 18}, 1.0}, {{19, 20}, 0.4}}), 0.01),
  };
  const Week awake = week(every_day, hours(1.0, {{{0, 5}, 0.15}, {{6, 6}, 0.5}, {{7, 7}, 0.8}, {{22, 22}, 0.6},
                                                 {{23, 23}, 0.3}}),
                          0.0);
  for (int s = 0; s < kSegments; ++s) {
    const double v = m.segments[s].visit_fraction;
    m.shop[s] = scaled(shop[s], v);
    m.background[s] = scaled(awake, 1.0 - v);
    const Week shop_norm = scaled(shop[s], 1.0), awake_norm = scaled(awake, 1.0);
    for (int h = 0; h < kHoursPerWeek; ++h) m.online[s][h] = 0.5 * shop_norm[h] + 0.5 * awake_norm[h];
  }
  for (int h = 0; h < kHoursPerWeek; ++h) {
    const int day = h / 24, hour = h % 24;
    const bool weekend = day >= 5;
    m.home_share[h] = hour < 7 ? 0.9 : hour == 7 ? 0.7 : hour < 18 ? (weekend ? 0.55 : 0.2) : hour == 18 ? 0.5 : 0.8;
  }
  return m;
}

}  // namespace

const WorldModel& world_model() {
  static const WorldModel model = build_model();
  return model;
}

}  // namespace cohort::gen

namespace cohort {
const char* category_name(int category) {
  return category >= 0 && category < kCategories ? gen::kCategoryNames[category] : "?";
}
}  // namespace cohort
