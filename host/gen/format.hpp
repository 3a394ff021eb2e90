/*
 * format.hpp: fast, locale-free number formatting for the generator's text files.
 * Values are rounded to fixed-point integers first (e.g. 1e-7 degrees, cents), then printed
 * with integer arithmetic, so the text is identical on every platform and much faster
 * than printf.
 */
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

namespace cohort::gen {

/// Appends an unsigned integer, left-padded with zeros to at least `width` digits.
inline void append_uint(std::string& out, std::uint64_t value, int width = 1) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (n < width) digits[n++] = '0';
  while (n > 0) out.push_back(digits[--n]);
}

inline void append_int(std::string& out, std::int64_t value) {
  if (value < 0) out.push_back('-');
  append_uint(out, value < 0 ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value));
}

/// Appends units / 10^decimals with exactly `decimals` digits after the point.
inline void append_fixed(std::string& out, std::int64_t units, int decimals) {
  std::uint64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  const std::uint64_t magnitude = units < 0 ? 0 - static_cast<std::uint64_t>(units) : static_cast<std::uint64_t>(units);
  if (units < 0) out.push_back('-');
  append_uint(out, magnitude / scale);
  if (decimals > 0) {
    out.push_back('.');
    append_uint(out, magnitude % scale, decimals);
  }
}

/// Rounds a value to fixed-point units of 10^-decimals.
inline std::int64_t to_units(double value, int decimals) {
  double scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  return static_cast<std::int64_t>(std::llround(value * scale));
}

/// Coordinates are stored as integer multiples of 1e-7 degrees.
inline constexpr int kCoordDecimals = 7;
inline std::int64_t coord_units(double degrees) { return to_units(degrees, kCoordDecimals); }
inline double coord_degrees(std::int64_t units) { return static_cast<double>(units) * 1e-7; }

/// Digits needed to print count (ids are fixed width: at least `minimum`).
inline int id_width(std::uint64_t count, int minimum) {
  int digits = 1;
  for (std::uint64_t v = count; v >= 10; v /= 10) ++digits;
  return digits > minimum ? digits : minimum;
}

}  // namespace cohort::gen
