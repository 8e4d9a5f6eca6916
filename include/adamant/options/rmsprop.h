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
  // Centered RMSprop takes the root of square_avg - grad_avg^2, which int8's error of a few percent makes
  // negative (NaN); bitsandbytes refuses it too.
  if (o.centered && (o.state_dtype.Of("square_avg") == StateStorage::kInt8 ||
                     o.state_dtype.Of("grad_avg") == StateStorage::kInt8)) {
    throw std::invalid_argument(
        "Invalid state_dtype for centered RMSprop: int8 square_avg or grad_avg would make square_avg - grad_avg^2 "
        "negative (use bfloat16 or float32 for them)");
  }
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_RMSPROP_H_
