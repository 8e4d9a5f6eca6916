// Adamax (Kingma & Ba, ICLR 2015, Section 7.1): Adam with the infinity norm.
//
// Reference: current PyTorch torch/optim/adamax.py, _single_tensor_adamax:
//   grad = -grad if maximize;  grad = grad.add(p, alpha=wd)
//   exp_avg.lerp_(grad, 1 - beta1)
//   exp_inf = maximum(exp_inf * beta2, |grad| + eps)      (eps inside the max, as PyTorch)
//   p.addcdiv_(exp_avg, exp_inf, value=-lr / bc1)
// With EpsMode::kTensorFlow (Keras's Adamax): exp_inf = maximum(exp_inf * beta2, |grad|) and the division
// is by exp_inf + eps.
#ifndef ADAMANT_RULES_ADAMAX_RULE_H_
#define ADAMANT_RULES_ADAMAX_RULE_H_

#include <cmath>

#include "rules/common.h"

namespace adamant::rules {

template <typename T>
struct AdamaxScalars {
  T grad_sign;
  T weight_decay;
  LerpScalars<T> lerp1;
  T beta2;
  T eps;
  T neg_clr;  // -lr / bc1
};

template <bool kL2, bool kEpsOutside, typename T>
ADAMANT_RULE_INLINE void AdamaxUpdate(const AdamaxScalars<T>& s, T& p, T g, T& m, T& u) {
  g = g * s.grad_sign;
  if constexpr (kL2) g = AddScaled(g, s.weight_decay, p);
  m = Lerp(m, g, s.lerp1);
  if constexpr (kEpsOutside) {
    u = Maximum(u * s.beta2, std::abs(g));
    p = p + s.neg_clr * m / (u + s.eps);
  } else {
    u = Maximum(u * s.beta2, std::abs(g) + s.eps);
    p = p + s.neg_clr * m / u;
  }
}

}  // namespace adamant::rules

#endif  // ADAMANT_RULES_ADAMAX_RULE_H_
