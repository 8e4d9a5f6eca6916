// RAdam's options (PyTorch's torch.optim.RAdam): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_RADAM_H_
#define ADAMANT_OPTIONS_RADAM_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

struct RAdamOptions {
  double lr = 1e-3;
  Betas betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;
  bool maximize = false;
  bool bias_correction = true;
};

template <class Visitor>
void VisitOptionsImpl(RAdamOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("betas", o.betas);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("decoupled_weight_decay", o.decoupled_weight_decay);
  visit("maximize", o.maximize);
  visit("bias_correction", o.bias_correction);
}

inline void Validate(const RAdamOptions& o) {
  validation::CheckLr(o.lr);
  validation::CheckEps(o.eps);
  validation::CheckBetas(o.betas);
  validation::CheckWeightDecay(o.weight_decay);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_RADAM_H_
