// Adagrad (Duchi, Hazan & Singer, JMLR 2011).
//
// Reference: current PyTorch torch/optim/adagrad.py, _single_tensor_adagrad (dense gradients):
//   grad = -grad if maximize;  grad = grad.add(p, alpha=wd)
//   clr = lr / (1 + (step - 1) * lr_decay)          (host)
//   sum.addcmul_(grad, grad, value=1);  std = sum.sqrt() + eps
//   p.addcdiv_(grad, std, value=-clr)
#ifndef ADAMANT_RULES_ADAGRAD_RULE_H_
#define ADAMANT_RULES_ADAGRAD_RULE_H_

#include <cmath>

#include "rules/common.h"

namespace adamant::rules {

template <typename T>
struct AdagradScalars {
  T grad_sign;
  T weight_decay;
  T eps;
  T neg_clr;
};

template <bool kL2, typename T>
ADAMANT_RULE_INLINE void AdagradUpdate(const AdagradScalars<T>& s, T& p, T g, T& sum) {
  g = g * s.grad_sign;
  if constexpr (kL2) g = AddScaled(g, s.weight_decay, p);
  sum = std::fma(g, g, sum);  // addcmul_(g, g, value=1)
  const T std_dev = std::sqrt(sum) + s.eps;
  p = p + s.neg_clr * g / std_dev;
}

}  // namespace adamant::rules

#endif  // ADAMANT_RULES_ADAGRAD_RULE_H_
