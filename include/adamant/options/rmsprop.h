// RMSprop's options (PyTorch's torch.optim.RMSprop): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_RMSPROP_H_
#define ADAMANT_OPTIONS_RMSPROP_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  bool maximize = false;
};

template <class Visitor>
void VisitOptionsImpl(RMSpropOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("alpha", o.alpha);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("momentum", o.momentum);
  visit("centered", o.centered);
  visit("maximize", o.maximize);
}

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
