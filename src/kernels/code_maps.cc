#include "kernels/code_maps.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
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

// The low `shift` bits of |x|'s pattern above kCodeMinBits, within bucket b.
uint32_t LowBits(float x, int shift, int32_t b) {
  const uint32_t a = FloatBits(x) & 0x7FFFFFFFu;
  return (std::max(a, kCodeMinBits) - kCodeMinBits) - (static_cast<uint32_t>(b) << shift);
}

CodeTable MakeTable(const float* map, int zero_code, bool is_signed, int mantissa_bits) {
  CodeTable t;
  t.map = map;
  t.zero_code = zero_code;
  t.is_signed = is_signed;
  t.shift = 23 - mantissa_bits;
  t.half = (24 << mantissa_bits) + 1;
  const int signs = is_signed ? 2 : 1;
  if (signs * t.half > kCodeMaxBuckets) throw std::logic_error("code table: too many buckets");
  const uint32_t width = 1u << t.shift;
  for (int sign = 0; sign < signs; ++sign) {
    for (int32_t b = 0; b < t.half; ++b) {
      // The magnitudes of bucket b: [lo, hi] as float bits, clipped to 1.0.
      const uint32_t lo = b == 0 ? 0u : kCodeMinBits + static_cast<uint32_t>(b) * width;
      const uint32_t hi = std::min(kCodeMinBits + static_cast<uint32_t>(b + 1) * width - 1, 0x3F800000u);
      const int32_t index = b + sign * t.half;
      if (lo > 0x3F800000u) {  // beyond 1.0: never indexed
        t.entry[index] = (sign == 0 ? 255u : 0u) | width << 8;
        continue;
      }
      // The codes at the bucket's smallest and largest |q|.
      const float small = sign == 0 ? BitsFloat(lo) : -BitsFloat(lo);
      const float large = sign == 0 ? BitsFloat(hi) : -BitsFloat(hi);
      const int c_small = NearestCodeByMidpoints(map, small);
      const int c_large = NearestCodeByMidpoints(map, large);
      if (std::abs(c_large - c_small) > 1 || (b == 0 && c_large != c_small)) {
        throw std::logic_error("code table: bucket " + std::to_string(index) + " holds more than one midpoint");
      }
      uint32_t from = width;  // the same code throughout
      if (c_large != c_small) {
        // The threshold between the two codes: q >= it is the higher code.
        const float threshold = CeilToFloat(Midpoint(map, std::min(c_small, c_large)));
        // Positive q: from the threshold's |q| on, one more. Negative q: the higher code while |q| is at
        // most the threshold's, one less above it.
        from = LowBits(threshold, t.shift, b) + (sign == 0 ? 0u : 1u);
      }
      t.entry[index] = static_cast<uint32_t>(c_small) | from << 8;
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
