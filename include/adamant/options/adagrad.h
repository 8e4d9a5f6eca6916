// Adagrad's options (PyTorch's torch.optim.Adagrad): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_ADAGRAD_H_
#define ADAMANT_OPTIONS_ADAGRAD_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
  bool maximize = false;
};

template <class Visitor>
void VisitOptionsImpl(AdagradOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("lr_decay", o.lr_decay);
  visit("weight_decay", o.weight_decay);
  visit("initial_accumulator_value", o.initial_accumulator_value);
  visit("eps", o.eps);
  visit("maximize", o.maximize);
}

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
