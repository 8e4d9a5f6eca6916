// Division by a step-constant divisor without a divider (rules/common.h):
// - CorrectedQuotient and RootOver (Adam): bit for bit the division, checked for every float significand
//   against a set of divisors (the quotient's correctness does not depend on either exponent while nothing
//   underflows or overflows, which RootOver's domain guarantees), on samples in double, and end to end
//   through Adam on every kernel target;
// - QuotientInDouble with a StepDivisor (NAdam's and RAdam's Divide on AVX-512): a product in double,
//   checked against the division for every float, specials included, and for random divisors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "adamant/functional.h"
#include "adamant/options.h"
#include "adamant/param.h"
#include "kernels/kernels.h"
#include "rules/adam_rule.h"
#include "rules/common.h"

namespace adamant {
namespace {

using rules::CorrectedQuotient;

template <class T>
auto Bits(T x) {
  if constexpr (sizeof(T) == 4) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return u;
  } else {
    uint64_t u;
    std::memcpy(&u, &x, 8);
    return u;
  }
}

float FloatOf(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// How many x in 1 + k * 2^-23, k in [first, first + count) (each a distinct significand), have a corrected
// quotient by c that differs from x / c in any bit. Written once, compiled twice: for AVX2 and FMA, where
// std::fma is one instruction and the loop vectorizes, and for the baseline, where it is the C library's
// (also correctly rounded, only slower).
__attribute__((always_inline)) inline int64_t MismatchesBody(float c, int64_t first, int64_t count) {
  const float r = 1.0f / c;
  int64_t mismatches = 0;
  for (int64_t k = first; k < first + count; ++k) {
    const float x = FloatOf(0x3F800000u + static_cast<uint32_t>(k));
    mismatches += Bits(x / c) != Bits(CorrectedQuotient(x, c, r));
  }
  return mismatches;
}
__attribute__((target("avx2,fma"))) int64_t MismatchesFma(float c, int64_t first, int64_t count) {
  return MismatchesBody(c, first, count);
}
int64_t MismatchesPlain(float c, int64_t first, int64_t count) { return MismatchesBody(c, first, count); }

bool HasFma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

// The first k in [first, first + count) whose quotient differs, or -1.
int64_t FirstMismatch(float c, int64_t first, int64_t count) {
  const int64_t n = HasFma() ? MismatchesFma(c, first, count) : MismatchesPlain(c, first, count);
  if (n == 0) return -1;
  for (int64_t k = first; k < first + count; ++k) {
    if (MismatchesPlain(c, k, 1) != 0) return k;
  }
  return first;  // unreachable: the count said one differs
}

constexpr int64_t kSignificands = int64_t{1} << 23;

// The divisors Adam meets, c = sqrt(1 - beta2^t) rounded to float, for common beta2 and steps, and 1.
std::vector<float> AdamDivisors() {
  std::set<float> out = {1.0f};
  for (double b2 : {0.999, 0.99, 0.98, 0.95, 0.9, 0.9999, 0.5, 0.0}) {
    for (int t = 1; t <= 1 << 20; t = t < 8 ? t + 1 : t * 2) {
      out.insert(static_cast<float>(std::sqrt(1.0 - std::pow(b2, t))));
    }
  }
  return {out.begin(), out.end()};
}

// Divisors that stress the method: all-ones significands (the reciprocal's hardest case), powers of two,
// the smallest divisor a beta2 below 1 allows (sqrt(2^-53)), and each binade's ends.
std::vector<float> HardDivisors() {
  std::vector<float> out = {static_cast<float>(std::sqrt(std::ldexp(1.0, -53)))};
  for (int e : {-27, -13, -1, 0}) {  // the exponent does not matter: a few show it
    out.push_back(std::ldexp(1.0f, e));                                              // 1.000...
    out.push_back(std::ldexp(std::nextafter(2.0f, 0.0f), e - 1));                    // 1.111... (all ones)
    out.push_back(std::ldexp(std::nextafter(1.0f, 2.0f), e));                        // 1.000...1
    out.push_back(std::ldexp(1.5f, e - 1));                                          // 1.1
  }
  return out;
}

TEST(DivisorTest, CorrectedQuotientIsTheDivisionForEverySignificandOfAdamsDivisors) {
  const std::vector<float> divisors = AdamDivisors();
  ASSERT_GT(divisors.size(), 100u);
  for (float c : divisors) {
    const int64_t k = FirstMismatch(c, 0, kSignificands);
    EXPECT_EQ(k, -1) << "x = " << FloatOf(0x3F800000u + static_cast<uint32_t>(k)) << ", c = " << c;
  }
}

TEST(DivisorTest, CorrectedQuotientIsTheDivisionForEverySignificandOfHardDivisors) {
  for (float c : HardDivisors()) {
    const int64_t k = FirstMismatch(c, 0, kSignificands);
    EXPECT_EQ(k, -1) << "x = " << FloatOf(0x3F800000u + static_cast<uint32_t>(k)) << ", c = " << c;
  }
}

// The divisors whose reciprocal is closest to halfway between two floats: there x * RN(1/c) strays
// farthest from x / c (more than one ulp for some x), so the correction has the most to do.
std::vector<float> DivisorsWithHalfwayReciprocals(size_t count) {
  std::vector<std::pair<double, float>> by_distance;
  by_distance.reserve(kSignificands);
  for (int64_t k = 0; k < kSignificands; ++k) {
    const float c = FloatOf(0x3F800000u + static_cast<uint32_t>(k));
    const double exact = 1.0 / static_cast<double>(c);
    const double ulp = exact < 1.0 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -23);
    by_distance.push_back({std::abs(static_cast<double>(1.0f / c) - exact) / ulp, c});
  }
  std::partial_sort(by_distance.begin(), by_distance.begin() + static_cast<int64_t>(count), by_distance.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<float> out;
  for (size_t i = 0; i < count; ++i) out.push_back(by_distance[i].second);
  return out;
}

TEST(DivisorTest, CorrectedQuotientIsTheDivisionForEverySignificandOfDivisorsWithHalfwayReciprocals) {
  for (float c : DivisorsWithHalfwayReciprocals(64)) {
    const int64_t k = FirstMismatch(c, 0, kSignificands);
    EXPECT_EQ(k, -1) << "x = " << FloatOf(0x3F800000u + static_cast<uint32_t>(k)) << ", c = " << c;
  }
}

TEST(DivisorTest, CorrectedQuotientIsTheDivisionForRandomDivisors) {
  std::mt19937_64 rng(20261122);
  std::uniform_int_distribution<uint32_t> significand(0, (1u << 23) - 1);
  std::uniform_int_distribution<int> exponent(-27, -1);
  for (int i = 0; i < 2048; ++i) {
    const float c = std::ldexp(FloatOf(0x3F800000u | significand(rng)), exponent(rng));
    const int64_t start = significand(rng) % (kSignificands - 65536);
    const int64_t k = FirstMismatch(c, start, 65536);
    EXPECT_EQ(k, -1) << "x = " << FloatOf(0x3F800000u + static_cast<uint32_t>(k)) << ", c = " << c;
  }
}

TEST(DivisorTest, CorrectedQuotientIsTheDivisionInDouble) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(1.0, 2.0);
  std::uniform_int_distribution<int> exponent(-27, -1);
  int mismatches = 0;
  for (int i = 0; i < 256; ++i) {
    const double c = std::ldexp(unit(rng), exponent(rng));
    const double r = 1.0 / c;
    for (int j = 0; j < 4096; ++j) {
      const double x = unit(rng);
      if (Bits(x / c) != Bits(CorrectedQuotient(x, c, r)) && mismatches++ < 5) {
        ADD_FAILURE() << "x = " << x << ", c = " << c;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// The mutation check of the tests above: a sloppier method (the product with the reciprocal, uncorrected)
// is caught, so the checks can fail.
TEST(DivisorTest, TheUncorrectedProductIsNotTheDivision) {
  const float c = static_cast<float>(std::sqrt(1.0 - std::pow(0.999, 3)));
  const float r = 1.0f / c;
  int differ = 0;
  for (int64_t k = 0; k < 65536; ++k) {
    const float x = FloatOf(0x3F800000u + static_cast<uint32_t>(k));
    differ += Bits(x * r) != Bits(x / c);
  }
  EXPECT_GT(differ, 0);
}

// QuotientInDouble(x, StepDivisor) against x / c for x in [first, first + count) (as bit patterns); the
// count of quotients that differ in any bit (NaN payloads included).
int64_t StepDivisorMismatches(float c, uint64_t first, uint64_t count) {
  const rules::StepDivisor<float> d = rules::MakeStepDivisor<float>(c);
  int64_t mismatches = 0;
  for (uint64_t u = first; u < first + count; ++u) {
    const float x = FloatOf(static_cast<uint32_t>(u));
    mismatches += Bits(x / c) != Bits(rules::QuotientInDouble(x, d));
  }
  return mismatches;
}

// Bias corrections 1 - beta^t as NAdam and RAdam meet them, and the ends of (0, 1].
std::vector<float> BiasCorrections() {
  std::set<float> out = {1.0f, std::nextafter(1.0f, 0.0f), static_cast<float>(1.0 - 0.9999999)};
  for (double beta : {0.9, 0.99, 0.999, 0.9999, 0.5}) {
    for (int t = 1; t <= 1 << 20; t = t < 8 ? t + 1 : t * 2) {
      out.insert(static_cast<float>(1.0 - std::pow(beta, t)));
    }
  }
  return {out.begin(), out.end()};
}

TEST(DivisorTest, StepDivisorIsTheDivisionForEveryFloat) {
  const float c = static_cast<float>(1.0 - 0.999);  // NAdam's bc2 at the first step
  EXPECT_EQ(StepDivisorMismatches(c, 0, uint64_t{1} << 32), 0);
}

TEST(DivisorTest, StepDivisorIsTheDivisionForBiasCorrectionsAndRandomDivisors) {
  std::vector<float> divisors = BiasCorrections();
  ASSERT_GT(divisors.size(), 50u);
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<uint32_t> significand(0, (1u << 23) - 1);
  std::uniform_int_distribution<int> exponent(-40, -1);
  for (int i = 0; i < 256; ++i) divisors.push_back(std::ldexp(FloatOf(0x3F800000u | significand(rng)), exponent(rng)));
  std::uniform_int_distribution<uint32_t> any;
  for (float c : divisors) {
    // Stretches of 2^18 patterns: quotients near 1, the smallest subnormals, up to the largest float
    // (overflow), and anywhere, of either sign.
    const auto at = [&](uint64_t first) { return StepDivisorMismatches(c, first, 1u << 18); };
    const int64_t mismatches = at(0x3F800000u - (1u << 17)) + at(0) + at(0x7F800000u - (1u << 18)) +
                               at(any(rng) & 0xFFFC0000u);
    EXPECT_EQ(mismatches, 0) << "c = " << c;
  }
}

// The mutation check: the product in float with a float reciprocal is caught.
TEST(DivisorTest, AFloatProductIsNotTheStepDivision) {
  const float c = static_cast<float>(1.0 - std::pow(0.999, 3));
  const float r = 1.0f / c;
  int differ = 0;
  for (int64_t k = 0; k < 65536; ++k) {
    const float x = FloatOf(0x3F800000u + static_cast<uint32_t>(k));
    differ += Bits(x * r) != Bits(rules::QuotientInDouble(x, rules::MakeStepDivisor<float>(c)));
  }
  EXPECT_GT(differ, 0);
}

// Second moments covering every binade, subnormals and the specials.
std::vector<float> SecondMoments() {
  std::vector<float> v = {0.0f,
                          std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::min(),
                          std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN(),
                          -1.0f};
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<uint32_t> significand(0, (1u << 23) - 1);
  for (uint32_t e = 0; e < 255; ++e) {
    for (int i = 0; i < 16; ++i) v.push_back(FloatOf((e << 23) | significand(rng)));
  }
  std::uniform_int_distribution<uint32_t> any(0, 0x7F7FFFFFu);
  for (int i = 0; i < 20000; ++i) v.push_back(FloatOf(any(rng)));
  return v;
}

// End to end: one Adam step with eps = 0 (the denominator is exactly sqrt(v) / c) on every kernel target
// equals the rule computed here, outside the kernels, where sqrt(v) / c is a plain division.
template <class T>
void CheckAdamOnEveryTarget(int64_t step) {
  const std::vector<float> moments = SecondMoments();
  const size_t n = moments.size();
  AdamOptions o;
  o.betas = {0.9, 0.5};
  o.eps = 0.0;
  const double bc1 = 1.0 - std::pow(o.betas[0], static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(o.betas[1], static_cast<double>(step));
  const rules::AdamScalars<T> s{T(1), T(0), T(1), rules::MakeLerp<T>(1.0 - o.betas[0]), static_cast<T>(o.betas[1]),
                                static_cast<T>(1.0 - o.betas[1]), rules::MakeDivisor<T>(std::sqrt(bc2)),
                                static_cast<T>(-o.lr / bc1), T(0)};
  std::vector<T> want_p(n, T(0.25)), want_m(n, T(1)), want_v(moments.begin(), moments.end());
  for (size_t i = 0; i < n; ++i) {
    T unused{};
    rules::AdamUpdate<rules::DivisionOps, false, false, false>(s, want_p[i], T(0), want_m[i], want_v[i], unused);
  }
  ASSERT_GE(kernels::NumAvailableTargets(), 1);
  for (int k = 0; k < kernels::NumAvailableTargets(); ++k) {
    const std::string target(kernels::AvailableTarget(k).target);
    kernels::SetTarget(target);
    std::vector<T> p(n, T(0.25)), g(n, T(0)), m(n, T(1)), v(moments.begin(), moments.end());
    const functional::Tensor t{MakeParam(p.data(), g.data(), static_cast<int64_t>(n)), {m.data(), v.data()},
                                 step};
    functional::Step({&t, 1}, o);
    int reported = 0;
    for (size_t i = 0; i < n; ++i) {
      const bool same = Bits(p[i]) == Bits(want_p[i]) || (std::isnan(p[i]) && std::isnan(want_p[i]));
      if (!same && reported++ < 5) {
        ADD_FAILURE() << target << ": v = " << moments[i] << " gives p = " << p[i] << ", the division gives "
                      << want_p[i];
      }
    }
    EXPECT_EQ(reported, 0) << target;
  }
  kernels::SetTarget("");
}

TEST(DivisorTest, AdamEqualsTheDivisionOnEveryTargetInFloat) {
  CheckAdamOnEveryTarget<float>(1);
  CheckAdamOnEveryTarget<float>(9);
}

TEST(DivisorTest, AdamEqualsTheDivisionOnEveryTargetInDouble) {
  CheckAdamOnEveryTarget<double>(1);
  CheckAdamOnEveryTarget<double>(9);
}

}  // namespace
}  // namespace adamant
