// RMSprop's options (PyTorch's torch.optim.RMSprop): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_RMSPROP_H_
#define ADAMANT_OPTIONS_RMSPROP_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

#define ADAMANT_RMSPROP_FIELDS(X) \
  X(double, lr, 1e-2)           \
  X(double, alpha, 0.99)        \
  X(double, eps, 1e-8)          \
  X(double, weight_decay, 0.0)  \
  X(double, momentum, 0.0)      \
  X(bool, centered, false)      \
  X(bool, maximize, false)
ADAMANT_DEFINE_OPTIONS(RMSpropOptions, ADAMANT_RMSPROP_FIELDS)

inline void Validate(const RMSpropOptions& o) {
  using validation::NonNegative;
  using validation::Require;
  validation::CheckLr(o.lr);
  validation::CheckEps(o.eps);
  Require(NonNegative(o.momentum), "Invalid momentum value", o.momentum);
  validation::CheckWeightDecay(o.weight_decay);
  Require(NonNegative(o.alpha), "Invalid alpha value", o.alpha);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_RMSPROP_H_
