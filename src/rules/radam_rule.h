// RAdam (Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020).
//
// Reference: current PyTorch torch/optim/radam.py, _single_tensor_radam:
//   grad = -grad if maximize;  p.mul_(1 - lr*wd) if decoupled, else grad = grad.add(p, alpha=wd)
//   exp_avg.lerp_(grad, 1 - beta1);  exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
//   bias_corrected_exp_avg = exp_avg / bc1
//   rho_t > 5 (decided on the host for the whole tensor):
//     p.add_(bias_corrected_exp_avg * lr * (sqrt(bc2) / (sqrt(exp_avg_sq) + eps)) * rect, alpha=-1)
//     (p + (-1) * x is p - x exactly, fused or not)
//   otherwise:
//     p.add_(bias_corrected_exp_avg * lr, alpha=-1)
// Note that PyTorch's RAdam adds eps to the root of the uncorrected v (the "epsilon hat" placement).
#ifndef ADAMANT_RULES_RADAM_RULE_H_
#define ADAMANT_RULES_RADAM_RULE_H_

#include <cmath>

#include "rules/adam_moments.h"
#include "rules/common.h"

namespace adamant::rules {

template <typename T>
struct RAdamScalars {
  AdamMoments<T> moments;
  StepDivisor<T> bc1;
  T lr;
  T bc2_sqrt;
  T eps;
  T rect;
};

template <class Ops, bool kL2, bool kRectified, typename T>
ADAMANT_RULE_INLINE void RAdamUpdate(const RAdamScalars<T>& s, T& p, T g, T& m, T& v) {
  UpdateAdamMoments<kL2>(s.moments, p, g, m, v);
  const T corrected = Ops::Divide(m, s.bc1);
  if constexpr (kRectified) {
    // torch evaluates (scalar / tensor) as tensor.reciprocal() * scalar: two roundings.
    const T adaptive = (T(1) / (std::sqrt(v) + s.eps)) * s.bc2_sqrt;
    p = p - corrected * s.lr * adaptive * s.rect;
  } else {
    p = p - corrected * s.lr;
  }
}

}  // namespace adamant::rules

#endif  // ADAMANT_RULES_RADAM_RULE_H_
