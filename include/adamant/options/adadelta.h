// Adadelta's options (PyTorch's torch.optim.Adadelta): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_ADADELTA_H_
#define ADAMANT_OPTIONS_ADADELTA_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

struct AdadeltaOptions {
  double lr = 1.0;
  double rho = 0.9;
  double eps = 1e-6;
  double weight_decay = 0.0;
  bool maximize = false;
};

template <class Visitor>
void VisitOptionsImpl(AdadeltaOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("rho", o.rho);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("maximize", o.maximize);
}

inline void Validate(const AdadeltaOptions& o) {
  validation::CheckLr(o.lr);
  validation::Require(0.0 <= o.rho && o.rho <= 1.0, "Invalid rho value", o.rho);
  validation::CheckEps(o.eps);
  validation::CheckWeightDecay(o.weight_decay);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_ADADELTA_H_
