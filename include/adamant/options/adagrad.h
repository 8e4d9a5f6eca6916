// Adagrad's options (PyTorch's torch.optim.Adagrad): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_ADAGRAD_H_
#define ADAMANT_OPTIONS_ADAGRAD_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

#define ADAMANT_ADAGRAD_FIELDS(X)            \
  X(double, lr, 1e-2)                        \
  X(double, lr_decay, 0.0)                   \
  X(double, weight_decay, 0.0)               \
  X(double, initial_accumulator_value, 0.0)  \
  X(double, eps, 1e-10)                      \
  X(bool, maximize, false)
ADAMANT_DEFINE_OPTIONS(AdagradOptions, ADAMANT_ADAGRAD_FIELDS)

inline void Validate(const AdagradOptions& o) {
  using validation::NonNegative;
  using validation::Require;
  validation::CheckLr(o.lr);
  Require(NonNegative(o.lr_decay), "Invalid lr_decay value", o.lr_decay);
  validation::CheckWeightDecay(o.weight_decay);
  Require(NonNegative(o.initial_accumulator_value), "Invalid initial_accumulator_value value",
          o.initial_accumulator_value);
  validation::CheckEps(o.eps);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_ADAGRAD_H_
