// Adadelta (Zeiler, arXiv:1212.5701, 2012).
//
// Reference: current PyTorch torch/optim/adadelta.py, _single_tensor_adadelta:
//   grad = -grad if maximize;  grad = grad.add(p, alpha=wd)
//   square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
//   std = (square_avg + eps).sqrt();  delta = (acc_delta + eps).sqrt() / std * grad
//   acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
//   p.add_(delta, alpha=-lr)
#ifndef ADAMANT_RULES_ADADELTA_RULE_H_
#define ADAMANT_RULES_ADADELTA_RULE_H_

#include <cmath>

#include "rules/common.h"

namespace adamant::rules {

template <typename T>
struct AdadeltaScalars {
  T grad_sign;
  T weight_decay;
  T rho;
  T one_minus_rho;
  T eps;
  T neg_lr;
};

template <bool kL2, typename T>
ADAMANT_RULE_INLINE void AdadeltaUpdate(const AdadeltaScalars<T>& s, T& p, T g, T& square_avg, T& acc_delta) {
  g = g * s.grad_sign;
  if constexpr (kL2) g = AddScaled(g, s.weight_decay, p);
  square_avg = DecaySquare(square_avg, s.rho, s.one_minus_rho, g);
  const T std_dev = std::sqrt(square_avg + s.eps);
  const T delta = std::sqrt(acc_delta + s.eps) / std_dev * g;
  acc_delta = DecaySquare(acc_delta, s.rho, s.one_minus_rho, delta);
  p = AddScaled(p, s.neg_lr, delta);
}

}  // namespace adamant::rules

#endif  // ADAMANT_RULES_ADADELTA_RULE_H_
