// NAdam (Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop), with the momentum
// schedule mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)).
//
// Reference: current PyTorch torch/optim/nadam.py, _single_tensor_nadam:
//   grad = -grad if maximize;  p.mul_(1 - lr*wd) if decoupled, else grad = grad.add(p, alpha=wd)
//   exp_avg.lerp_(grad, 1 - beta1);  exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
//   denom = (exp_avg_sq / bc2).sqrt() + eps
//   p.addcdiv_(grad, denom, value=-lr * (1 - mu_t) / (1 - mu_product))
//   p.addcdiv_(exp_avg, denom, value=-lr * mu_{t+1} / (1 - mu_product * mu_{t+1}))
// (torch 1.13 multiplied mu_t into the second denominator twice; current PyTorch and the paper do not.)
// With EpsMode::kTensorFlow: denom = sqrt(exp_avg_sq) + eps and both coefficients times sqrt(bc2).
#ifndef ADAMANT_RULES_NADAM_RULE_H_
#define ADAMANT_RULES_NADAM_RULE_H_

#include <cmath>

#include "rules/adam_moments.h"
#include "rules/common.h"

namespace adamant::rules {

template <typename T>
struct NAdamScalars {
  AdamMoments<T> moments;
  StepDivisor<T> bc2;  // kPyTorch only
  T eps;
  T grad_coeff;   // -lr * (1 - mu_t) / (1 - mu_product)
  T avg_coeff;    // -lr * mu_{t+1} / (1 - mu_product * mu_{t+1})
};

template <class Ops, bool kL2, bool kEpsHat, typename T>
ADAMANT_RULE_INLINE void NAdamUpdate(const NAdamScalars<T>& s, T& p, T g, T& m, T& v) {
  UpdateAdamMoments<kL2>(s.moments, p, g, m, v);
  T denom;
  if constexpr (kEpsHat) {
    denom = std::sqrt(v) + s.eps;
  } else {
    denom = std::sqrt(Ops::Divide(v, s.bc2)) + s.eps;
  }
  p = p + s.grad_coeff * g / denom;
  p = p + s.avg_coeff * m / denom;
}

}  // namespace adamant::rules

#endif  // ADAMANT_RULES_NADAM_RULE_H_
