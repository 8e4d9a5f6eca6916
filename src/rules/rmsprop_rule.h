// RMSprop (Hinton, Coursera lecture 6e, 2012; centered variant: Graves, arXiv:1308.0850).
//
// Reference: current PyTorch torch/optim/rmsprop.py, _single_tensor_rmsprop:
//   grad = -grad if maximize;  grad = grad.add(p, alpha=wd)
//   square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
//   centered: grad_avg.lerp_(grad, 1 - alpha); avg = (square_avg - grad_avg^2).sqrt()  else avg = sqrt(square_avg)
//   avg += eps
//   momentum > 0: buf.mul_(momentum).addcdiv_(grad, avg); p.add_(buf, alpha=-lr)
//   else:         p.addcdiv_(grad, avg, value=-lr)
#ifndef ADAMANT_RULES_RMSPROP_RULE_H_
#define ADAMANT_RULES_RMSPROP_RULE_H_

#include <cmath>

#include "rules/common.h"

namespace adamant::rules {

template <typename T>
struct RMSpropScalars {
  T grad_sign;
  T weight_decay;
  T alpha;
  T one_minus_alpha;
  LerpScalars<T> lerp;  // weight 1 - alpha, for grad_avg
  T eps;
  T momentum;
  T neg_lr;
};

template <bool kL2, bool kCentered, bool kMomentum, typename T>
ADAMANT_RULE_INLINE void RMSpropUpdate(const RMSpropScalars<T>& s, T& p, T g, T& square_avg, T& buf, T& grad_avg) {
  g = g * s.grad_sign;
  if constexpr (kL2) g = AddScaled(g, s.weight_decay, p);
  square_avg = DecaySquare(square_avg, s.alpha, s.one_minus_alpha, g);
  T avg;
  if constexpr (kCentered) {
    grad_avg = Lerp(grad_avg, g, s.lerp);
    // addcmul(ga, ga, value=-1). -ga is written 0 - ga: the same sum for every number (square_avg is never
    // -0), and a NaN keeps its sign, so that the fma never sees a NaN beside its negation: which of the two
    // it returns depends on the instruction form (a negation folded into vfnmadd or not), not on IEEE 754.
    const T neg_grad_avg = T(0) - grad_avg;
    avg = std::sqrt(std::fma(neg_grad_avg, grad_avg, square_avg));
  } else {
    avg = std::sqrt(square_avg);
  }
  avg = avg + s.eps;
  if constexpr (kMomentum) {
    buf = buf * s.momentum + g / avg;
    p = AddScaled(p, s.neg_lr, buf);
  } else {
    p = p + s.neg_lr * g / avg;
  }
}

}  // namespace adamant::rules

#endif  // ADAMANT_RULES_RMSPROP_RULE_H_
