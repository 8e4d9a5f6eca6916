// SGD's options (PyTorch's torch.optim.SGD): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_SGD_H_
#define ADAMANT_OPTIONS_SGD_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

#define ADAMANT_SGD_FIELDS(X)   \
  X(double, lr, 1e-3)           \
  X(double, momentum, 0.0)      \
  X(double, dampening, 0.0)     \
  X(double, weight_decay, 0.0)  \
  X(bool, nesterov, false)      \
  X(bool, maximize, false)
ADAMANT_DEFINE_OPTIONS(SGDOptions, ADAMANT_SGD_FIELDS)

inline void Validate(const SGDOptions& o) {
  using validation::Require;
  // PyTorch's SGD checks `x < 0.0`, unlike the other optimizers' `not 0.0 <= x`: NaN passes.
  Require(!(o.lr < 0.0), "Invalid learning rate", o.lr);
  Require(!(o.momentum < 0.0), "Invalid momentum value", o.momentum);
  Require(!(o.weight_decay < 0.0), "Invalid weight_decay value", o.weight_decay);
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0)) {
    throw std::invalid_argument("Nesterov momentum requires a momentum and zero dampening");
  }
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_SGD_H_
