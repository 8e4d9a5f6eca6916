// Lion, EvoLved Sign Momentum (Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023,
// Algorithm 2): one element's update.
//
// Reference: lucidrains/lion-pytorch, lion_pytorch.py (the de-facto PyTorch implementation), whose
// operations and order this follows:
//   grad = -grad if maximize
//   p.mul_(1 - lr * wd)                                               (decoupled weight decay)
//   update = exp_avg.clone().mul_(beta1).add(grad, alpha=1 - beta1).sign_()
//   p.add_(update, alpha=-lr)
//   exp_avg.mul_(beta2).add_(grad, alpha=1 - beta2)
// add(y, alpha=a) is one multiply-add in PyTorch's CPU kernels (rules/common.h). sign(0) = +0, as
// torch.sign, so an element whose interpolation is 0 only decays. One departure from torch.sign: a NaN
// interpolation gives NaN, not 0, so that a NaN gradient reaches the parameter (numpy.sign and the
// paper's reference semantics) instead of silently freezing it.
#ifndef ADAMANT_RULES_LION_RULE_H_
#define ADAMANT_RULES_LION_RULE_H_

#include "rules/common.h"

namespace adamant::rules {

template <typename T>
struct LionScalars {
  T grad_sign;  // -1 with maximize, else +1
  T decay;      // 1 - lr * weight_decay (exactly 1 without decay)
  T beta1;
  T one_minus_beta1;
  T beta2;
  T one_minus_beta2;
  T neg_lr;
};

// +1, -1, +0 for either zero, NaN for NaN. Selects, so that it vectorizes.
template <typename T>
ADAMANT_RULE_INLINE T Sign(T x) {
  const T magnitude = x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
  return x != x ? x : magnitude;
}

template <typename T>
ADAMANT_RULE_INLINE void LionUpdate(const LionScalars<T>& s, T& p, T g, T& m) {
  g = g * s.grad_sign;
  p = p * s.decay;
  const T interpolated = AddScaled(m * s.beta1, s.one_minus_beta1, g);
  p = AddScaled(p, s.neg_lr, Sign(interpolated));
  m = AddScaled(m * s.beta2, s.one_minus_beta2, g);
}

}  // namespace adamant::rules

#endif  // ADAMANT_RULES_LION_RULE_H_
