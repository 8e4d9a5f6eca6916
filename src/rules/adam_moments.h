// The first and second moments as the Adam family updates them (Adam/AdamW, NAdam, RAdam): one element's
// prologue, written once.
//
// Reference: current PyTorch's _single_tensor_adam, _single_tensor_nadam and _single_tensor_radam, which
// share these operations (and their rounding order):
//   grad = -grad if maximize;  p.mul_(1 - lr*wd) if decoupled, else grad = grad.add(p, alpha=wd)
//   exp_avg.lerp_(grad, 1 - beta1);  exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
#ifndef ADAMANT_RULES_ADAM_MOMENTS_H_
#define ADAMANT_RULES_ADAM_MOMENTS_H_

#include "rules/common.h"

namespace adamant::rules {

// The moments' scalars, computed in double and rounded once (MakeAdamMoments).
template <typename T>
struct AdamMoments {
  T grad_sign;     // -1 with maximize, else +1
  T weight_decay;  // L2 coefficient
  T decay;         // 1 - lr * weight_decay when decoupled, else 1
  LerpScalars<T> lerp1;
  T beta2;
  T one_minus_beta2;
};

template <typename T>
AdamMoments<T> MakeAdamMoments(double lr, double beta1, double beta2, double weight_decay, bool decoupled,
                               bool maximize) {
  const bool decays = decoupled && weight_decay != 0;
  return {.grad_sign = static_cast<T>(maximize ? -1.0 : 1.0),
          .weight_decay = static_cast<T>(weight_decay),
          .decay = static_cast<T>(decays ? 1.0 - lr * weight_decay : 1.0),
          .lerp1 = MakeLerp<T>(1.0 - beta1),
          .beta2 = static_cast<T>(beta2),
          .one_minus_beta2 = static_cast<T>(1.0 - beta2)};
}

// Updates m and v from the gradient g (left as the rule goes on to use it: negated with maximize, with the
// L2 term) and applies decoupled decay to p.
template <bool kL2, typename T>
ADAMANT_RULE_INLINE void UpdateAdamMoments(const AdamMoments<T>& s, T& p, T& g, T& m, T& v) {
  g = g * s.grad_sign;
  p = p * s.decay;
  if constexpr (kL2) g = AddScaled(g, s.weight_decay, p);
  m = Lerp(m, g, s.lerp1);
  v = DecaySquare(v, s.beta2, s.one_minus_beta2, g);
}

}  // namespace adamant::rules

#endif  // ADAMANT_RULES_ADAM_MOMENTS_H_
