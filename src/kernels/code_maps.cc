#include "kernels/code_maps.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace adamant::kernels {

#include "kernels/code_maps.inc"

namespace {

// (map[i] + map[i+1]) / 2, exact in double: adjacent values are within a factor of 10 of each other.
double Midpoint(const float* map, int i) { return (static_cast<double>(map[i]) + map[i + 1]) / 2; }

// The smallest float at or above a double.
float CeilToFloat(double x) {
  float f = static_cast<float>(x);
  if (static_cast<double>(f) < x) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

CodeTable MakeTable(const float* map, int zero_code, bool is_signed, int mantissa_bits) {
  CodeTable t;
  t.map = map;
  t.zero_code = zero_code;
  t.is_signed = is_signed;
  t.mantissa_bits = mantissa_bits;
  t.half = (24 << mantissa_bits) + 1;
  const int signs = is_signed ? 2 : 1;
  if (signs * t.half > kCodeMaxBuckets) throw std::logic_error("code table: too many buckets");
  const uint32_t width = 1u << (23 - mantissa_bits);
  for (int sign = 0; sign < signs; ++sign) {
    for (int32_t b = 0; b < t.half; ++b) {
      // The magnitudes of bucket b: [lo, hi] as float bits, clipped to 1.0.
      const uint32_t lo = b == 0 ? 0u : kCodeMinBits + static_cast<uint32_t>(b) * width;
      const uint32_t hi = std::min(kCodeMinBits + static_cast<uint32_t>(b + 1) * width - 1, 0x3F800000u);
      const int32_t index = b + sign * t.half;
      if (lo > 0x3F800000u) {  // beyond 1.0: never indexed
        t.base[index] = sign == 0 ? 255 : 0;
        t.threshold[index] = std::numeric_limits<float>::infinity();
        continue;
      }
      const float qa = sign == 0 ? BitsFloat(lo) : -BitsFloat(hi);  // the bucket's lowest q
      const float qb = sign == 0 ? BitsFloat(hi) : -BitsFloat(lo);  // and highest
      const int ca = NearestCodeByMidpoints(map, qa);
      const int cb = NearestCodeByMidpoints(map, qb);
      if (cb - ca > 1) {
        throw std::logic_error("code table: bucket " + std::to_string(index) + " holds " + std::to_string(cb - ca) +
                               " midpoints");
      }
      t.base[index] = ca;
      t.threshold[index] = cb == ca ? std::numeric_limits<float>::infinity() : CeilToFloat(Midpoint(map, ca));
    }
  }
  return t;
}

}  // namespace

int NearestCodeByMidpoints(const float* map, float q) {
  int code = 0;
  for (int i = 0; i < 255; ++i) code += static_cast<double>(q) >= Midpoint(map, i) ? 1 : 0;
  return code;
}

// The signed map's buckets need 6 mantissa bits, the unsigned map's (twice as fine) 7, for at most one
// midpoint each.
const CodeTable& SignedCodeTable() {
  static const CodeTable table = MakeTable(kSignedCodeMap, kSignedZeroCode, true, 6);
  return table;
}

const CodeTable& UnsignedCodeTable() {
  static const CodeTable table = MakeTable(kUnsignedCodeMap, kUnsignedZeroCode, false, 7);
  return table;
}

}  // namespace adamant::kernels
