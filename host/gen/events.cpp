/*
 * events.cpp: the event log (user_id,category,event,timestamp,amount).
 *
 * For an event in hour h (hour-of-week w): segment s ~ E_s online_s[w] with E_s the
 * segment's total event activity; user ~ event activity within s; category ~ the
 * segment's affinity; a purchase with the segment's purchase rate, amount lognormal around
 * the category's price times the segment's price factor; views leave amount empty.
 * Like real logs it is only mostly clean: 0.8% of lines repeat the previous line exactly
 * (duplicates) and 0.4% carry a timestamp 1-91 minutes early (late arrivals, so the file
 * is not quite sorted).
 */
#include <algorithm>
#include <cmath>

#include "host/gen/format.hpp"
#include "host/gen/model.hpp"
#include "host/gen/schedule.hpp"
#include "host/gen/world.hpp"

namespace cohort::gen {

namespace {
constexpr double kDuplicateRate = 0.008, kLateRate = 0.004;
struct EventStats {
  std::uint64_t duplicates = 0, late = 0, purchases = 0;
};
}  // namespace

void write_events(World& world, std::vector<GeneratedFile>& files) {
  const auto& model = world_model();
  std::array<double, kWindowHours> weights{};
  for (int h = 0; h < kWindowHours; ++h)
    for (int s = 0; s < kSegments; ++s) weights[h] += world.event_activity[s] * model.online[s][h % kHoursPerWeek];
  const auto units = schedule_units(world.size.events, weights);
  std::vector<EventStats> stats(units.size());

  AtomicFile out(world.path("events.csv"));
  out.write("user_id,category,event,timestamp,amount\n");
  Progress progress("events", world.size.events, "events");
  write_units(out, units, progress, [&](std::size_t u, std::string& text) {
    const WorkUnit& unit = units[u];
    GenRng rng(world.seed, Stream::Events, u);
    std::vector<std::int64_t> times(unit.count);
    for (auto& t : times) t = static_cast<std::int64_t>(std::floor(unit.start + (unit.end - unit.start) * rng.uniform()));
    std::sort(times.begin(), times.end());
    const int w = unit.hour % kHoursPerWeek;
    double segment_weight[kSegments];
    for (int s = 0; s < kSegments; ++s) segment_weight[s] = world.event_activity[s] * model.online[s][w];
    text.reserve(unit.count * 40);
    std::size_t previous_line = 0;
    for (std::uint64_t i = 0; i < unit.count; ++i) {
      if (i > 0 && rng.uniform() < kDuplicateRate) {
        const std::size_t length = text.size() - previous_line;
        const std::size_t start = text.size();
        text.append(text, previous_line, length);
        previous_line = start;
        ++stats[u].duplicates;
        continue;
      }
      previous_line = text.size();
      const int s = static_cast<int>(rng.categorical(segment_weight, kSegments));
      const std::uint32_t user = world.members[s][world.event_users[s].sample(rng)];
      const int category = static_cast<int>(world.category_choice[s].sample(rng));
      const bool purchase = rng.uniform() < model.segments[s].purchase_rate;
      std::int64_t t = kWindowStart + times[i];
      if (rng.uniform() < kLateRate) {
        t = std::max(kWindowStart, t - 60 - static_cast<std::int64_t>(rng.below(5400)));
        ++stats[u].late;
      }
      append_user_id(text, world, user);
      text += ',';
      text += category_name(category);
      text += purchase ? ",purchase," : ",view,";
      append_int(text, t);
      text += ',';
      if (purchase) {
        const double amount =
            model.price[category] * model.segments[s].price_factor * std::exp(0.5 * rng.normal());
        append_fixed(text, std::max<std::int64_t>(50, to_units(amount, 2)), 2);
        ++stats[u].purchases;
      }
      text += '\n';
    }
  });
  progress.finish();
  out.commit();
  for (const auto& s : stats) {
    world.duplicate_events += s.duplicates;
    world.late_events += s.late;
    world.purchases += s.purchases;
  }
  files.push_back(file_entry(world, "events.csv", world.size.events, false));
}

}  // namespace cohort::gen
