/*
 * event_time.cpp: timestamps of event logs -> epoch seconds (double).
 * Accepted: a plain number (epoch seconds, may be fractional or negative), or ISO 8601
 * YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|(+|-)HH[:MM]|(+|-)HHMM] or its basic form
 * YYYYMMDDTHHMM[SS[.fff]][Z|(+|-)HH[MM]]; a date alone is midnight, no offset means UTC.
 * Civil dates use the proleptic Gregorian calendar.
 */
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "cohort/events.hpp"

namespace cohort {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Days since 1970-01-01 (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? static_cast<unsigned>(-3) : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Reads exactly n digits at s[pos]; advances pos.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, int& value) {
  if (pos + n > s.size()) return false;
  value = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool parse_iso(std::string_view s, double& seconds) {
  std::size_t p = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, p, 4, year) || p >= s.size()) return false;
  // Extended (2014-03-01T00:00:04) or basic (20140301T000004) form, not a mix. A basic
  // date alone never gets here: it reads as epoch seconds.
  const bool basic = s[p] != '-';
  const auto separator = [&](char c) {
    if (basic) return true;
    if (p >= s.size() || s[p] != c) return false;
    ++p;
    return true;
  };
  if (!separator('-') || !digits(s, p, 2, month) || !separator('-') || !digits(s, p, 2, day)) return false;
  if (month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int month_days = kDays[month - 1] + (month == 2 && leap(year) ? 1 : 0);
  if (day > month_days) return false;
  double fraction = 0.0;
  std::int64_t offset = 0;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != 't' && (s[p] != ' ' || basic)) return false;
    ++p;
    if (!digits(s, p, 2, hour) || !separator(':') || !digits(s, p, 2, minute)) return false;
    const bool has_seconds = p < s.size() && (basic ? s[p] >= '0' && s[p] <= '9' : s[p] == ':');
    if (has_seconds) {
      if (!basic) ++p;
      if (!digits(s, p, 2, second)) return false;
      if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
        ++p;
        double scale = 0.1;
        const std::size_t start = p;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
          fraction += (s[p] - '0') * scale;
          scale *= 0.1;
          ++p;
        }
        if (p == start) return false;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return false;
    if (p < s.size()) {
      if (s[p] == 'Z' || s[p] == 'z') {
        ++p;
      } else if (s[p] == '+' || s[p] == '-') {
        const int sign = s[p] == '-' ? -1 : 1;
        ++p;
        int oh = 0, om = 0;
        if (!digits(s, p, 2, oh)) return false;
        if (p < s.size() && s[p] == ':') ++p;
        if (p < s.size() && !digits(s, p, 2, om)) return false;
        if (oh > 23 || om > 59) return false;
        offset = sign * (oh * 3600 + om * 60);
      } else {
        return false;
      }
    }
    if (p != s.size()) return false;
  }
  const std::int64_t whole = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                             hour * 3600 + minute * 60 + second - offset;
  seconds = static_cast<double>(whole) + fraction;
  return true;
}

}  // namespace

bool parse_event_time(std::string_view text, double& seconds) {
  text = trim(text);
  if (text.empty()) return false;
  double value = 0.0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc() && ptr == end) {
    if (!std::isfinite(value)) return false;
    seconds = value;
    return true;
  }
  return parse_iso(text, seconds);
}

}  // namespace cohort
