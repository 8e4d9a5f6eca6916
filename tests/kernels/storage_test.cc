// The 16-bit storage conversions of src/kernels/storage.h against references written here independently:
// decoding from the sign/exponent/mantissa fields with ldexp, and rounding in double by locating the two
// neighbouring representable values. Exhaustive over every 16-bit pattern and every tie; random floats
// by the million.
#include "kernels/storage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace adamant::kernels {
namespace {

// --- references ------------------------------------------------------------------------------------------

enum class Format { kBFloat16, kFloat16 };

std::string Name(Format f) { return f == Format::kBFloat16 ? "bfloat16" : "float16"; }

// Decoding from the fields, in double (every value of both formats is exact in double and in float).
double RefBFloat16(uint16_t h) {
  const double sign = (h & 0x8000u) ? -1.0 : 1.0;
  const int e = (h >> 7) & 0xFF;
  const int m = h & 0x7F;
  if (e == 0xFF) return m == 0 ? sign * std::numeric_limits<double>::infinity() : std::nan("");
  if (e == 0) return sign * std::ldexp(static_cast<double>(m), -133);  // m * 2^-126 * 2^-7
  return sign * std::ldexp(static_cast<double>(128 + m), e - 134);     // (1 + m/128) * 2^(e-127)
}

double RefFloat16(uint16_t h) {
  const double sign = (h & 0x8000u) ? -1.0 : 1.0;
  const int e = (h >> 10) & 0x1F;
  const int m = h & 0x3FF;
  if (e == 31) return m == 0 ? sign * std::numeric_limits<double>::infinity() : std::nan("");
  if (e == 0) return sign * std::ldexp(static_cast<double>(m), -24);  // m * 2^-14 * 2^-10
  return sign * std::ldexp(static_cast<double>(1024 + m), e - 25);    // (1 + m/1024) * 2^(e-15)
}

double RefDecode(Format f, uint16_t h) { return f == Format::kBFloat16 ? RefBFloat16(h) : RefFloat16(h); }

// The largest finite positive pattern, and the value "one past it" (the next binade's start), which an
// overflowing rounding produces as infinity.
uint16_t MaxFinite(Format f) { return f == Format::kBFloat16 ? 0x7F7F : 0x7BFF; }
uint16_t Inf(Format f) { return f == Format::kBFloat16 ? 0x7F80 : 0x7C00; }
double PastMax(Format f) { return f == Format::kBFloat16 ? std::ldexp(1.0, 128) : 65536.0; }

// Value of a positive pattern up to one past the largest finite one.
double PositiveValue(Format f, uint16_t h) { return h > MaxFinite(f) ? PastMax(f) : RefDecode(f, h); }

struct Neighbours {
  uint16_t lo, hi;  // positive patterns: value(lo) <= |x| <= value(hi), hi = lo + 1 unless exact
  bool exact;
};

// For finite |x| (a double): the two neighbouring representable magnitudes, by binary search over the
// monotonic positive patterns; beyond the largest finite value the upper neighbour is infinity.
Neighbours Around(Format f, double ax) {
  uint16_t lo = 0, hi = MaxFinite(f);
  if (ax >= RefDecode(f, hi)) {
    if (ax == RefDecode(f, hi)) return {hi, hi, true};
    return {hi, Inf(f), false};
  }
  // invariant: value(lo) <= ax < value(hi)
  while (hi - lo > 1) {
    const uint16_t mid = static_cast<uint16_t>((lo + hi) / 2);
    if (RefDecode(f, mid) <= ax) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  if (RefDecode(f, lo) == ax) return {lo, lo, true};
  return {lo, hi, false};
}

// Round to nearest, ties to even, in double. NaN: returns 0xFFFF (callers check NaN separately).
uint16_t RefRound(Format f, float x) {
  if (std::isnan(x)) return 0xFFFF;
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double ax = std::fabs(static_cast<double>(x));
  if (std::isinf(ax)) return sign | Inf(f);
  const Neighbours n = Around(f, ax);
  if (n.exact) return sign | n.lo;
  const double mid = (PositiveValue(f, n.lo) + PositiveValue(f, n.hi)) / 2;  // exact in double
  uint16_t r;
  if (ax < mid) {
    r = n.lo;
  } else if (ax > mid) {
    r = n.hi;
  } else {
    r = (n.lo & 1) ? n.hi : n.lo;
  }
  return sign | r;
}

// --- the functions under test, by format --------------------------------------------------------------------

float Decode(Format f, uint16_t h) { return f == Format::kBFloat16 ? BFloat16ToFloat(h) : Float16ToFloat(h); }
uint16_t Round(Format f, float x) { return f == Format::kBFloat16 ? FloatToBFloat16(x) : FloatToFloat16(x); }
uint16_t RoundStochastic(Format f, float x, uint32_t r) {
  return f == Format::kBFloat16 ? FloatToBFloat16Stochastic(x, r) : FloatToFloat16Stochastic(x, r);
}
bool IsNaN16(Format f, uint16_t h) { return f == Format::kBFloat16 ? (h & 0x7FFF) > 0x7F80 : (h & 0x7FFF) > 0x7C00; }

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%X", v);
  return buf;
}

// Checks Round(f, x) against the reference; returns false (and reports) on a mismatch.
bool CheckNearest(Format f, float x) {
  const uint16_t got = Round(f, x);
  if (std::isnan(x)) {
    const bool ok = IsNaN16(f, got) && ((got & 0x8000) != 0) == std::signbit(x);
    EXPECT_TRUE(ok) << Name(f) << ": NaN " << Hex(FloatBits(x)) << " -> " << Hex(got);
    return ok;
  }
  const uint16_t want = RefRound(f, x);
  EXPECT_EQ(got, want) << Name(f) << ": " << x << " (" << Hex(FloatBits(x)) << ") -> " << Hex(got) << ", want "
                       << Hex(want);
  return got == want;
}

const Format kFormats[] = {Format::kBFloat16, Format::kFloat16};

// --- decoding and round trips ---------------------------------------------------------------------------------

TEST(StorageTest, DecodeEveryPatternMatchesReference) {
  for (Format f : kFormats) {
    int failures = 0;
    for (uint32_t b = 0; b <= 0xFFFF && failures < 10; ++b) {
      const uint16_t h = static_cast<uint16_t>(b);
      const float got = Decode(f, h);
      const double want = RefDecode(f, h);
      if (std::isnan(want)) {
        const bool ok = std::isnan(got) && std::signbit(got) == ((h & 0x8000) != 0);
        EXPECT_TRUE(ok) << Name(f) << " " << Hex(h) << " -> " << got;
        failures += !ok;
      } else {
        // want is exact in float; compare bits so that -0 is told from +0.
        const bool ok = FloatBits(got) == FloatBits(static_cast<float>(want));
        EXPECT_TRUE(ok) << Name(f) << " " << Hex(h) << " -> " << got << ", want " << want;
        failures += !ok;
      }
    }
  }
}

TEST(StorageTest, EveryPatternRoundTrips) {
  for (Format f : kFormats) {
    int failures = 0;
    for (uint32_t b = 0; b <= 0xFFFF && failures < 10; ++b) {
      const uint16_t h = static_cast<uint16_t>(b);
      const uint16_t back = Round(f, Decode(f, h));
      if (IsNaN16(f, h)) {
        const bool ok = IsNaN16(f, back) && (back & 0x8000) == (h & 0x8000);
        EXPECT_TRUE(ok) << Name(f) << " NaN " << Hex(h) << " -> " << Hex(back);
        failures += !ok;
      } else {
        EXPECT_EQ(back, h) << Name(f);
        failures += back != h;
      }
    }
  }
}

// --- round to nearest even --------------------------------------------------------------------------------

// Every midpoint between consecutive representable values (exact in float for both formats, subnormals
// included), its float neighbours, both signs.
TEST(StorageTest, EveryTieAndItsNeighboursRoundsAsReference) {
  for (Format f : kFormats) {
    int failures = 0;
    for (uint32_t b = 0; b <= MaxFinite(f) && failures < 10; ++b) {
      const double lo = PositiveValue(f, static_cast<uint16_t>(b));
      const double hi = PositiveValue(f, static_cast<uint16_t>(b + 1));
      const double mid = (lo + hi) / 2;
      const float tie = static_cast<float>(mid);
      ASSERT_EQ(static_cast<double>(tie), mid) << "midpoint not exact in float: " << Name(f) << " " << Hex(b);
      // The tie goes to the even pattern.
      const uint16_t even = (b & 1) ? static_cast<uint16_t>(b + 1) : static_cast<uint16_t>(b);
      ASSERT_EQ(RefRound(f, tie), even);
      for (float x : {tie, std::nextafter(tie, 0.0f), std::nextafter(tie, std::numeric_limits<float>::infinity()),
                      static_cast<float>(lo), std::nextafter(static_cast<float>(lo), 0.0f)}) {
        failures += !CheckNearest(f, x);
        failures += !CheckNearest(f, -x);
      }
    }
  }
}

TEST(StorageTest, OverflowThresholds) {
  // float16: 65504 is the largest finite value; 65520 (the midpoint to 65536) and above go to inf.
  EXPECT_EQ(FloatToFloat16(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToFloat16(65519.99f), 0x7BFF);
  EXPECT_EQ(FloatToFloat16(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
  EXPECT_EQ(FloatToFloat16(65520.0f), 0x7C00);
  EXPECT_EQ(FloatToFloat16(-65520.0f), 0xFC00);
  EXPECT_EQ(FloatToFloat16(-65519.99f), 0xFBFF);
  EXPECT_EQ(FloatToFloat16(65536.0f), 0x7C00);
  EXPECT_EQ(FloatToFloat16(1e10f), 0x7C00);
  EXPECT_EQ(FloatToFloat16(FLT_MAX), 0x7C00);
  EXPECT_EQ(FloatToFloat16(-FLT_MAX), 0xFC00);
  // bfloat16: the largest finite is 0x7F7F; the midpoint to 2^128 (0x7F7F8000) ties to even: inf.
  EXPECT_EQ(FloatToBFloat16(BitsFloat(0x7F7F0000)), 0x7F7F);
  EXPECT_EQ(FloatToBFloat16(BitsFloat(0x7F7F7FFF)), 0x7F7F);
  EXPECT_EQ(FloatToBFloat16(BitsFloat(0x7F7F8000)), 0x7F80);
  EXPECT_EQ(FloatToBFloat16(FLT_MAX), 0x7F80);
  EXPECT_EQ(FloatToBFloat16(-FLT_MAX), 0xFF80);
  EXPECT_EQ(FloatToBFloat16(BitsFloat(0xFF7F7FFF)), 0xFF7F);
  for (Format f : kFormats) {
    for (float x : {65504.0f, 65519.99f, 65520.0f, 65535.0f, 65536.0f, 3.3e38f, 3.39e38f, FLT_MAX}) {
      CheckNearest(f, x);
      CheckNearest(f, -x);
    }
  }
}

TEST(StorageTest, SignedZerosInfinitiesAndNaN) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(FloatToBFloat16(0.0f), 0x0000);
  EXPECT_EQ(FloatToBFloat16(-0.0f), 0x8000);
  EXPECT_EQ(FloatToFloat16(0.0f), 0x0000);
  EXPECT_EQ(FloatToFloat16(-0.0f), 0x8000);
  EXPECT_EQ(FloatToBFloat16(inf), 0x7F80);
  EXPECT_EQ(FloatToBFloat16(-inf), 0xFF80);
  EXPECT_EQ(FloatToFloat16(inf), 0x7C00);
  EXPECT_EQ(FloatToFloat16(-inf), 0xFC00);
  // NaNs: quiet and signalling, with payload only in bits that the 16-bit format drops.
  const uint32_t nans[] = {0x7FC00000, 0x7F800001, 0x7F800100, 0x7FA00000, 0x7FBFFFFF,
                           0x7FFFFFFF, 0x7F802000, 0x7F801FFF, 0x7F80FFFF, 0x7F810000};
  for (Format f : kFormats) {
    for (uint32_t n : nans) {
      for (uint32_t s : {0u, 0x80000000u}) {
        const float x = BitsFloat(n | s);
        ASSERT_TRUE(std::isnan(x));
        CheckNearest(f, x);
        // Stochastic rounding treats NaN and inf as nearest rounding.
        for (uint32_t r : {0u, 0xFFFFFFFFu, 0x12345678u}) {
          const uint16_t got = RoundStochastic(f, x, r);
          EXPECT_TRUE(IsNaN16(f, got) && (got & 0x8000) == (s >> 16)) << Name(f) << " " << Hex(n | s);
        }
      }
    }
    for (float x : {inf, -inf}) {
      for (uint32_t r : {0u, 0xFFFFFFFFu, 0x12345678u, 0xFFFFu, 0x1FFFu}) {
        EXPECT_EQ(RoundStochastic(f, x, r), Round(f, x)) << Name(f) << " " << x;
      }
    }
  }
}

TEST(StorageTest, RandomFloatsRoundAsReference) {
  std::mt19937_64 rng(1234);
  for (Format f : kFormats) {
    int failures = 0;
    // Uniformly random bit patterns: every exponent, NaNs and infinities included.
    for (int i = 0; i < 1000000 && failures < 10; ++i) {
      failures += !CheckNearest(f, BitsFloat(static_cast<uint32_t>(rng())));
    }
    // Magnitudes across the format's range: exponents from below its smallest subnormal to above its max.
    const int emin = f == Format::kBFloat16 ? -140 : -27;
    const int emax = f == Format::kBFloat16 ? 129 : 17;
    std::uniform_int_distribution<int> exp(emin, emax);
    std::uniform_real_distribution<double> mant(1.0, 2.0);
    for (int i = 0; i < 1000000 && failures < 10; ++i) {
      const float x = static_cast<float>(std::ldexp(mant(rng), exp(rng)) * ((rng() & 1) ? -1 : 1));
      failures += !CheckNearest(f, x);
    }
  }
}

TEST(StorageTest, SubnormalsRoundAsReference) {
  int failures = 0;
  // bfloat16 subnormals are float subnormals: every 7th float subnormal pattern, both signs.
  for (uint32_t u = 0; u < 0x00800000u && failures < 10; u += 7) {
    failures += !CheckNearest(Format::kBFloat16, BitsFloat(u));
    failures += !CheckNearest(Format::kBFloat16, BitsFloat(u | 0x80000000u));
  }
  // float16 subnormals (below 2^-14) and the values that round to zero or to the smallest normal: every
  // float in [2^-26, 2^-13) with a stride, plus random ones.
  for (uint32_t u = 0x32800000u; u < 0x39000000u && failures < 10; u += 61) {
    failures += !CheckNearest(Format::kFloat16, BitsFloat(u));
    failures += !CheckNearest(Format::kFloat16, BitsFloat(u | 0x80000000u));
  }
  std::mt19937 rng(99);
  std::uniform_int_distribution<uint32_t> below(0, 0x38FFFFFFu);
  for (int i = 0; i < 500000 && failures < 10; ++i) failures += !CheckNearest(Format::kFloat16, BitsFloat(below(rng)));
}

// --- stochastic rounding ----------------------------------------------------------------------------------

// The result is one of the two neighbours of x (the pattern at or below |x| and the next one up; beyond
// the largest finite value that is infinity); exact values come back unchanged.
bool CheckStochastic(Format f, float x, uint32_t r) {
  const uint16_t got = RoundStochastic(f, x, r);
  if (!std::isfinite(x)) {
    const bool ok = std::isnan(x) ? IsNaN16(f, got) && ((got & 0x8000) != 0) == std::signbit(x) : got == Round(f, x);
    EXPECT_TRUE(ok) << Name(f) << " " << x << " random " << Hex(r);
    return ok;
  }
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const Neighbours n = Around(f, std::fabs(static_cast<double>(x)));
  const bool ok = got == (sign | n.lo) || got == (sign | n.hi);
  EXPECT_TRUE(ok) << Name(f) << ": " << x << " (" << Hex(FloatBits(x)) << ") random " << Hex(r) << " -> " << Hex(got)
                  << ", want " << Hex(sign | n.lo) << (n.exact ? " (exact)" : " or " + Hex(sign | n.hi));
  return ok;
}

// The random values that push hardest either way, and a few ordinary ones.
const uint32_t kExtremeRandoms[] = {0u,          0xFFFFFFFFu, 0x0000FFFFu, 0x00001FFFu, 0xFFFFFF00u, 0xFFFF0000u,
                                    0x80000000u, 0x00008000u, 0x00001000u, 0x7FFFFFFFu, 0x12345678u, 0x9ABCDEF0u};

TEST(StorageTest, StochasticLeavesEveryExactValueUnchanged) {
  for (Format f : kFormats) {
    int failures = 0;
    for (uint32_t b = 0; b <= 0xFFFF && failures < 10; ++b) {
      const uint16_t h = static_cast<uint16_t>(b);
      if (IsNaN16(f, h)) continue;
      const float x = Decode(f, h);
      for (uint32_t r : kExtremeRandoms) {
        const uint16_t got = RoundStochastic(f, x, r);
        EXPECT_EQ(got, h) << Name(f) << ": exact " << x << " (" << Hex(h) << ") with random " << Hex(r) << " -> "
                          << Hex(got) << " (" << Decode(f, got) << ")";
        failures += got != h;
      }
    }
  }
}

// The same, over many random bit values, for the float16 subnormals (whose stochastic path differs from the
// normal one): how often an exact subnormal moves.
TEST(StorageTest, StochasticLeavesExactFloat16SubnormalsUnchangedForAllRandomBits) {
  std::mt19937 rng(7);
  int64_t changed = 0, total = 0;
  uint16_t first_bad = 0;
  uint32_t first_bad_random = 0;
  for (uint32_t m = 1; m < 0x400; ++m) {
    const float x = Float16ToFloat(static_cast<uint16_t>(m));
    for (int k = 0; k < 4096; ++k) {
      const uint32_t r = k == 0 ? 0xFFFFFFFFu : static_cast<uint32_t>(rng());
      const uint16_t got = FloatToFloat16Stochastic(x, r);
      ++total;
      if (got != m && changed++ == 0) first_bad = static_cast<uint16_t>(m), first_bad_random = r;
    }
  }
  EXPECT_EQ(changed, 0) << "exact float16 subnormals changed in " << changed << " of " << total
                        << " stochastic roundings; first: " << Hex(first_bad) << " (" << Float16ToFloat(first_bad)
                        << ") with random " << Hex(first_bad_random) << " -> "
                        << Hex(FloatToFloat16Stochastic(Float16ToFloat(first_bad), first_bad_random));
}

TEST(StorageTest, StochasticGivesOneOfTheTwoNeighbours) {
  std::mt19937_64 rng(4321);
  for (Format f : kFormats) {
    int failures = 0;
    // Random bit patterns (all exponents), and magnitudes across the format's range, with random bits.
    for (int i = 0; i < 700000 && failures < 10; ++i) {
      failures += !CheckStochastic(f, BitsFloat(static_cast<uint32_t>(rng())), static_cast<uint32_t>(rng()));
    }
    const int emin = f == Format::kBFloat16 ? -140 : -27;
    const int emax = f == Format::kBFloat16 ? 129 : 17;
    std::uniform_int_distribution<int> exp(emin, emax);
    std::uniform_real_distribution<double> mant(1.0, 2.0);
    for (int i = 0; i < 700000 && failures < 10; ++i) {
      const float x = static_cast<float>(std::ldexp(mant(rng), exp(rng)) * ((rng() & 1) ? -1 : 1));
      failures += !CheckStochastic(f, x, static_cast<uint32_t>(rng()));
    }
    // Every tie and its float neighbours, with the extreme random values.
    for (uint32_t b = 0; b <= MaxFinite(f) && failures < 10; b += 3) {
      const float tie = static_cast<float>(
          (PositiveValue(f, static_cast<uint16_t>(b)) + PositiveValue(f, static_cast<uint16_t>(b + 1))) / 2);
      for (float x : {tie, std::nextafter(tie, 0.0f), std::nextafter(tie, 1e30f)}) {
        for (uint32_t r : kExtremeRandoms) {
          failures += !CheckStochastic(f, x, r);
          failures += !CheckStochastic(f, -x, r);
        }
      }
    }
    // Signed zeros and the values between the largest finite one and the overflow threshold.
    for (float x : {0.0f, -0.0f, 65504.5f, 65519.0f, 65535.9f, 65536.0f, 1e6f, 3.39e38f, FLT_MAX}) {
      for (uint32_t r : kExtremeRandoms) {
        failures += !CheckStochastic(f, x, r);
        failures += !CheckStochastic(f, -x, r);
      }
    }
  }
}

// The mean of many stochastic roundings of x, with the random bits the kernels use, is x.
TEST(StorageTest, StochasticIsUnbiased) {
  struct Case {
    Format f;
    float x;
  };
  const Case cases[] = {
      {Format::kBFloat16, 1.0f + 0.3f * 0.0078125f},
      {Format::kBFloat16, 3.14159265f},
      {Format::kBFloat16, -2.718281828f},
      {Format::kBFloat16, 1e-3f},
      {Format::kBFloat16, 7.7e30f},
      {Format::kBFloat16, 3.0e-39f},  // a bfloat16 (and float) subnormal
      {Format::kBFloat16, -3.3e38f},  // near the largest finite bfloat16 (3.3895e38)
      {Format::kFloat16, 0.1f},
      {Format::kFloat16, -1.0f / 3.0f},
      {Format::kFloat16, 1e-6f},     // a float16 subnormal (16.78 units of 2^-24)
      {Format::kFloat16, 3e-8f},     // between zero and the smallest subnormal
      {Format::kFloat16, -6.0e-5f},  // just below the smallest normal, 2^-14 = 6.1035e-5
      {Format::kFloat16, 65000.0f},  // near the largest finite float16
      {Format::kFloat16, 65500.0f},
      {Format::kFloat16, -1234.567f},
  };
  constexpr int kN = 200000;
  for (const Case& c : cases) {
    const Neighbours n = Around(c.f, std::fabs(static_cast<double>(c.x)));
    ASSERT_FALSE(n.exact);
    const double sign = std::signbit(c.x) ? -1.0 : 1.0;
    const double lo = sign * PositiveValue(c.f, n.lo), hi = sign * PositiveValue(c.f, n.hi);
    const double p = (static_cast<double>(c.x) - lo) / (hi - lo);  // probability of rounding up
    double sum = 0;
    int ups = 0;
    for (int i = 0; i < kN; ++i) {
      const uint16_t h = RoundStochastic(c.f, c.x, RandomBits(0xC0FFEE1234ull, static_cast<uint64_t>(i)));
      const double v = Decode(c.f, h);
      ASSERT_TRUE(v == lo || v == hi) << Name(c.f) << " " << c.x << " -> " << v;
      ups += v == hi;
      sum += v;
    }
    const double mean = sum / kN;
    const double se = std::fabs(hi - lo) * std::sqrt(p * (1 - p) / kN);
    EXPECT_NEAR(mean, static_cast<double>(c.x), 5 * se + 1e-12 * std::fabs(c.x))
        << Name(c.f) << " x=" << c.x << " neighbours " << lo << ", " << hi << " p(up)=" << p << " observed "
        << static_cast<double>(ups) / kN;
  }
}

// --- random bits ---------------------------------------------------------------------------------------------

TEST(StorageTest, RandomBitsAreDeterministicAndDependOnStreamAndIndex) {
  EXPECT_EQ(RandomBits(1, 2), RandomBits(1, 2));
  EXPECT_EQ(RandomBits(0xDEADBEEFCAFEull, 1ull << 40), RandomBits(0xDEADBEEFCAFEull, 1ull << 40));
  int same_index = 0, same_stream = 0;
  for (uint64_t i = 0; i < 10000; ++i) {
    same_index += RandomBits(42, i) == RandomBits(43, i);
    same_stream += RandomBits(42, i) == RandomBits(42, i + 1);
  }
  EXPECT_LE(same_index, 2);
  EXPECT_LE(same_stream, 2);
  // Indices beyond 2^32 (huge tensors) are not aliased to small ones.
  int aliased = 0;
  for (uint64_t i = 0; i < 10000; ++i) aliased += RandomBits(42, i) == RandomBits(42, i + (1ull << 32));
  EXPECT_LE(aliased, 2);
}

// Chi-square over 256 bins of a few bit fields the roundings use: the low 8 and next 8 bits (bfloat16
// uses the low 16), the low 13 bits' top 8 (float16 normals) and the top 8 (float16 subnormals).
TEST(StorageTest, RandomBitsAreRoughlyUniform) {
  constexpr int kN = 1 << 20;
  for (uint64_t stream : {0ull, 1ull, 0x9E3779B97F4A7C15ull}) {
    std::vector<int> low(256), mid(256), f16(256), top(256), low16(1 << 16);
    for (uint64_t i = 0; i < kN; ++i) {
      const uint32_t r = RandomBits(stream, i);
      ++low[r & 0xFF];
      ++mid[(r >> 8) & 0xFF];
      ++f16[(r >> 5) & 0xFF];
      ++top[r >> 24];
      ++low16[r & 0xFFFF];
    }
    auto chi2 = [](const std::vector<int>& bins, double n) {
      const double e = n / bins.size();
      double s = 0;
      for (int c : bins) s += (c - e) * (c - e) / e;
      return s;
    };
    // 255 degrees of freedom: mean 255, sd 22.6. 65535: mean 65535, sd 362.
    EXPECT_LT(chi2(low, kN), 400) << "stream " << stream;
    EXPECT_LT(chi2(mid, kN), 400) << "stream " << stream;
    EXPECT_LT(chi2(f16, kN), 400) << "stream " << stream;
    EXPECT_LT(chi2(top, kN), 400) << "stream " << stream;
    EXPECT_LT(chi2(low16, kN), 65535 + 8 * 362) << "stream " << stream;
  }
}

}  // namespace
}  // namespace adamant::kernels
