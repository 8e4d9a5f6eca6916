// SGD with momentum, dampening and Nesterov momentum (Sutskever et al., ICML 2013, in PyTorch's form).
//
// Reference: current PyTorch torch/optim/sgd.py, _single_tensor_sgd:
//   grad = -grad if maximize;  grad = grad.add(p, alpha=wd)
//   momentum != 0: buf = grad on the first step, else buf.mul_(momentum).add_(grad, alpha=1 - dampening)
//                  grad = grad.add(buf, alpha=momentum) if nesterov else buf
//   p.add_(grad, alpha=-lr)
#ifndef ADAMANT_RULES_SGD_RULE_H_
#define ADAMANT_RULES_SGD_RULE_H_

#include "rules/common.h"

namespace adamant::rules {

template <typename T>
struct SGDScalars {
  T grad_sign;
  T weight_decay;
  T momentum;
  T one_minus_dampening;
  T neg_lr;
};

// kMomentum: momentum != 0; kFirst: the buffer does not exist yet and is set to the gradient.
template <bool kL2, bool kMomentum, bool kFirst, bool kNesterov, typename T>
ADAMANT_RULE_INLINE void SGDUpdate(const SGDScalars<T>& s, T& p, T g, T& buf) {
  g = g * s.grad_sign;
  if constexpr (kL2) g = AddScaled(g, s.weight_decay, p);
  if constexpr (kMomentum) {
    if constexpr (kFirst) {
      buf = g;
    } else {
      buf = AddScaled(buf * s.momentum, s.one_minus_dampening, g);
    }
    if constexpr (kNesterov) {
      g = AddScaled(g, s.momentum, buf);
    } else {
      g = buf;
    }
  }
  p = AddScaled(p, s.neg_lr, g);
}

}  // namespace adamant::rules

#endif  // ADAMANT_RULES_SGD_RULE_H_
