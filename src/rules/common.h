// Element operations shared by the rules, each written to round exactly as PyTorch's CPU kernel does.
#ifndef ADAMANT_RULES_COMMON_H_
#define ADAMANT_RULES_COMMON_H_

#include <cmath>

namespace adamant::rules {

// How weight decay enters an update; chosen per call on the host, never per element.
enum class WeightDecay {
  kNone,
  kL2,         // g += wd * p (torch: grad.add(param, alpha=wd))
  kDecoupled,  // p *= 1 - lr * wd before the update (AdamW)
};

// torch.lerp(start, end, weight) with a scalar weight, as ATen computes it: for |w| < 0.5,
// start + w * (end - start); otherwise end - (end - start) * (1 - w). The host folds both forms into
// base + coeff * (end - start) (negation is exact), so the element code has no branch on the weight.
template <typename T>
struct LerpScalars {
  T coeff;                // w, or -(1 - w)
  bool from_start;        // |w| < 0.5: base is start, else end
};

template <typename T>
LerpScalars<T> MakeLerp(double weight) {
  const T w = static_cast<T>(weight);
  if (std::abs(w) < T(0.5)) return {w, true};
  return {-(T(1) - w), false};
}

template <typename T>
inline T Lerp(T start, T end, const LerpScalars<T>& s) {
  const T base = s.from_start ? start : end;
  return base + s.coeff * (end - start);
}

// torch.maximum: NaN if either input is NaN.
template <typename T>
inline T Maximum(T a, T b) {
  if (std::isnan(a)) return a;
  if (std::isnan(b)) return b;
  return a > b ? a : b;
}

// v * beta + ((1 - beta) * g) * g: torch's v.mul_(beta).addcmul_(g, g, value=1 - beta). The product is
// formed as (value * g) * g, which is what keeps g ~ 1e19 from overflowing float32.
template <typename T>
inline T DecaySquare(T v, T beta, T one_minus_beta, T g) {
  return v * beta + one_minus_beta * g * g;
}

}  // namespace adamant::rules

#endif  // ADAMANT_RULES_COMMON_H_
