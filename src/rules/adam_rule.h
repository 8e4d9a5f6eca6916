// Adam (Kingma & Ba, ICLR 2015, Algorithm 1), AdamW (Loshchilov & Hutter, ICLR 2019) and AMSGrad
// (Reddi, Kale & Kumar, ICLR 2018): one element's update.
//
// Reference: current PyTorch torch/optim/adam.py, _single_tensor_adam, whose operations (and rounding
// order) this follows:
//   grad = -grad if maximize;  p.mul_(1 - lr*wd) if decoupled, else grad = grad.add(p, alpha=wd)
//   exp_avg.lerp_(grad, 1 - beta1);  exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
//   amsgrad: max_exp_avg_sq = maximum(max_exp_avg_sq, exp_avg_sq)   (the raw, uncorrected v)
//   denom = sqrt(v) / sqrt(bc2) + eps;  p.addcdiv_(exp_avg, denom, value=-lr / bc1)
// With EpsMode::kTensorFlow ("epsilon hat"): p.addcdiv_(exp_avg, sqrt(v) + eps, value=-lr*sqrt(bc2)/bc1).
// Without bias correction bc1 = bc2 = 1 (host side).
#ifndef ADAMANT_RULES_ADAM_RULE_H_
#define ADAMANT_RULES_ADAM_RULE_H_

#include <cmath>

#include "rules/adam_moments.h"
#include "rules/common.h"

namespace adamant::rules {

// Everything that depends on the step but not on the element, computed in double and rounded once.
template <typename T>
struct AdamScalars {
  AdamMoments<T> moments;
  Divisor<T> bc2_sqrt;  // sqrt(1 - beta2^t); kPyTorch only
  T neg_step_size;     // -lr / bc1, or -lr * sqrt(bc2) / bc1 with kTensorFlow
  T eps;
};

template <class Ops, bool kL2, bool kAmsgrad, bool kEpsHat, typename T>
ADAMANT_RULE_INLINE void AdamUpdate(const AdamScalars<T>& s, T& p, T g, T& m, T& v, T& v_max) {
  UpdateAdamMoments<kL2>(s.moments, p, g, m, v);
  T v_used = v;
  if constexpr (kAmsgrad) {
    v_max = Maximum(v_max, v);
    v_used = v_max;
  }
  T denom;
  if constexpr (kEpsHat) {
    denom = std::sqrt(v_used) + s.eps;
  } else {
    denom = Ops::RootOver(v_used, s.bc2_sqrt) + s.eps;
  }
  p = p + s.neg_step_size * m / denom;
}

}  // namespace adamant::rules

#endif  // ADAMANT_RULES_ADAM_RULE_H_
