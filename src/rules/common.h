// Element operations shared by the rules, each written to round exactly as PyTorch's CPU kernels do.
//
// PyTorch's vectorized CPU kernels (the AVX2 and AVX-512 builds every current x86-64 machine runs) fuse
// some operations into one multiply-add: add_(y, alpha=a) is fma(a, y, x), addcmul_(y, z, value=s) is
// fma(s*y, z, x), lerp_ is fma(w, end - start, base); addcdiv_ is not fused: x + (s*y)/z. The rules use
// std::fma exactly where PyTorch fuses, and separate roundings elsewhere (the library is compiled with
// -ffp-contract=off so the compiler adds no fusion of its own). fma is correctly rounded on every target,
// with or without FMA hardware, so results stay identical across dispatch targets.
#ifndef ADAMANT_RULES_COMMON_H_
#define ADAMANT_RULES_COMMON_H_

#include <cmath>
#include <limits>
#include <type_traits>

// The rules are inlined into the kernels' loops whatever the size of the caller: a call left in a loop
// keeps it from being vectorized, and GCC's size heuristics drop the inlining once a kernel holds many loop
// variants.
#define ADAMANT_RULE_INLINE inline __attribute__((always_inline))

namespace adamant::rules {

// Modes. A mode that changes the operations is a template parameter of the rule (amsgrad, L2 weight decay,
// centered, nesterov...), never a per-element branch, and never switched off with a constant that is not
// an exact identity: g + 0*p is NaN when p is inf, so L2 decay is a template flag. Two modes are scalars
// because their "off" value is exact for every input, NaN and inf included:
//   maximize:        g * grad_sign with grad_sign = -1 (exactly -g) or +1 (exactly g);
//   decoupled decay: p * decay with decay = 1 - lr*wd, or exactly 1.0 when off (p * 1 is p).
// This keeps the number of compiled loops small (each is compiled for several SIMD targets and dtypes).

// torch.lerp(start, end, weight) with a scalar weight, as ATen computes it: for |w| < 0.5,
// start + w * (end - start); otherwise end - (end - start) * (1 - w). ATen's vector kernel folds both
// into fma(coeff, end - start, base) with coeff = w or w - 1 (exact for w in [0.5, 1]); so do we, so the
// element code has no branch on the weight.
template <typename T>
struct LerpScalars {
  T coeff;       // w, or -(1 - w)
  T from_start;  // 1 if |w| < 0.5 (base is start), else 0 (base is end). A T, not a bool: a bool field
                 // in the loop keeps GCC from vectorizing loops that mix 16- and 32-bit types.
};

template <typename T>
LerpScalars<T> MakeLerp(double weight) {
  const T w = static_cast<T>(weight);
  if (std::abs(w) < T(0.5)) return {w, T(1)};
  return {-(T(1) - w), T(0)};
}

template <typename T>
ADAMANT_RULE_INLINE T Lerp(T start, T end, const LerpScalars<T>& s) {
  const T base = s.from_start != T(0) ? start : end;
  return std::fma(s.coeff, end - start, base);
}

// torch.maximum: NaN if either input is NaN. Written as selects (no branches) so it vectorizes.
template <typename T>
ADAMANT_RULE_INLINE T Maximum(T a, T b) {
  return (a > b || a != a) ? a : b;
}

// torch.minimum: NaN if either input is NaN.
template <typename T>
ADAMANT_RULE_INLINE T Minimum(T a, T b) {
  return (a < b || a != a) ? a : b;
}

// x + a * y as torch's add_(y, alpha=a): one fused multiply-add.
template <typename T>
ADAMANT_RULE_INLINE T AddScaled(T x, T a, T y) {
  return std::fma(a, y, x);
}

// torch's v.mul_(beta).addcmul_(g, g, value=1 - beta): fma((1 - beta) * g, g, v * beta). Scaling g
// before squaring is also what keeps g ~ 1e19 from overflowing float32.
template <typename T>
ADAMANT_RULE_INLINE T DecaySquare(T v, T beta, T one_minus_beta, T g) {
  return std::fma(one_minus_beta * g, g, v * beta);
}

// A divisor that is the same for every element of a step and lies in (0, 1] (a bias correction
// 1 - beta^t), with its reciprocal in double.
template <typename T>
struct StepDivisor {
  T value;
  double reciprocal;  // 1 / value rounded to nearest in double, on the host
};

template <typename T>
StepDivisor<T> MakeStepDivisor(double value) {
  const T c = static_cast<T>(value);
  return {c, 1.0 / static_cast<double>(c)};
}

// x / c as a product in double, bit for bit the division for every float x (0, subnormal, inf and NaN
// included) and c in (0, 1]: x * reciprocal in double is within 2^-52 (relative) of x / c, and a quotient
// of two floats is never that close to a point where float rounding changes (a midpoint of two floats, or
// the overflow threshold) without being on it. With x = X 2^i, c = C 2^j (integers X < 2^24,
// 2^23 <= C < 2^24) and a midpoint m = M 2^k (M odd and of 25 bits in the normal range), x - m c is a
// multiple of 2^(k+j) and is not 0 (the odd part of M C exceeds 2^24), so |x/c - m| >= 2^-49 |x/c|; for a
// midpoint of the subnormal range, x - m c is a nonzero multiple of 2^(j-150) (c <= 1), so
// |x/c - m| >= 2^-174 while the product is within 2^-178. In double nothing overflows or underflows, and
// the conversion to float rounds once and overflows to inf exactly where the division does.
template <typename T>
ADAMANT_RULE_INLINE T QuotientInDouble(T x, const StepDivisor<T>& c) {
  if constexpr (std::is_same_v<T, float>) {
    return static_cast<float>(static_cast<double>(x) * c.reciprocal);
  } else {
    return x / c.value;  // doubles divide: there is no wider type to multiply in
  }
}

// A divisor that is the same for every element of a step (a bias correction), with its reciprocal.
template <typename T>
struct Divisor {
  T value;
  T reciprocal;  // 1 / value rounded to nearest: one division in T, on the host
};

template <typename T>
Divisor<T> MakeDivisor(double value) {
  const T c = static_cast<T>(value);
  return {c, T(1) / c};
}

// x / c rounded to nearest, without a division, given r = 1/c rounded to nearest. q = x*r is close to x/c
// but not always within one ulp (when r lies near halfway between two floats, it can be off by more: for
// c = 0x1.fc03fep0, 2 million of the 8 million significands of x); the residual x - q*c is computed in one
// fma, and q + residual*r, rounded once, is x/c correctly rounded (Markstein, IBM J. Res. Dev. 34(1),
// 1990; Muller et al., Handbook of Floating-Point Arithmetic, ch. 4), as long as nothing underflows or
// overflows on the way. The textbook proof asks for a q within one ulp, which x*r does not always give, so
// the method rests on its checks: every significand of x against Adam's divisors, hard divisors, random
// divisors and the divisors whose reciprocal lies nearest halfway (tests/rules/divisor_test.cc), and a
// one-off search of the 200,000 divisors with the nearest-halfway reciprocals, every x: no difference.
template <typename T>
ADAMANT_RULE_INLINE T CorrectedQuotient(T x, T c, T r) {
  const T q = x * r;
  return std::fma(std::fma(-q, c, x), r, q);
}

// The two ways of dividing by a divisor that is fixed for the step, bit for bit the same on every target.
// Which one a kernel uses is the kernel layer's choice, per SIMD target (kernels/ops.h), by measurement:
// the rules take it as their Ops parameter and call Ops::Divide and Ops::RootOver.
//
// DivisionOps divides: where the divider keeps up (AMD Zen 3's AVX2, the baseline without FMA, where
// std::fma would be a library call).
struct DivisionOps {
  template <typename T>
  static ADAMANT_RULE_INLINE T Divide(T x, const StepDivisor<T>& c) {
    return x / c.value;
  }
  // sqrt(v) / c.
  template <typename T>
  static ADAMANT_RULE_INLINE T RootOver(T v, const Divisor<T>& d) {
    return std::sqrt(v) / d.value;
  }
};

// ReciprocalOps multiplies instead, where one divider port is the bottleneck (Intel's AVX-512): x / c as
// the product in double (QuotientInDouble), and sqrt(v) / c as three multiply-adds on the FMA ports
// (CorrectedQuotient), for c = sqrt(1 - beta2^t) or 1, that is c in [2^-27, 1]. Both are correctly
// rounded, so every target gives the same bits; the figures are in docs/performance.md, "Measurements
// behind the code".
// The domain is why the multiply-adds are exact: the square root of a positive float lies in
// [2^-75, 2^64] (of a double, in [2^-538, 2^512]), so with c in [2^-27, 1] the quotient stays below 2^91
// and the residual's quantum, about 2^-47 of the root (2^-105 in double), stays far above the subnormal
// range: no underflow, no overflow. tests/rules/divisor_test.cc checks every float significand against
// the division. 0, inf and NaN take q = root * r itself, which is the quotient's value, sign and NaN
// payload.
struct ReciprocalOps {
  template <typename T>
  static ADAMANT_RULE_INLINE T Divide(T x, const StepDivisor<T>& c) {
    return QuotientInDouble(x, c);
  }
  template <typename T>
  static ADAMANT_RULE_INLINE T RootOver(T v, const Divisor<T>& d) {
    const T root = std::sqrt(v);
    // Both fields read unconditionally: a read in one arm only became a masked load that kept GCC from
    // vectorizing a loop whose scalars it could not prove unaliased.
    const T c = d.value;
    const T r = d.reciprocal;
    return (root > T(0) && root < std::numeric_limits<T>::infinity()) ? CorrectedQuotient(root, c, r) : root * r;
  }
};

}  // namespace adamant::rules

#endif  // ADAMANT_RULES_COMMON_H_
