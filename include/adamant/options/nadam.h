// NAdam's options (PyTorch's torch.optim.NAdam): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_NADAM_H_
#define ADAMANT_OPTIONS_NADAM_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

struct NAdamOptions {
  double lr = 2e-3;
  Betas betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum_decay = 4e-3;
  bool decoupled_weight_decay = false;
  bool maximize = false;
  bool bias_correction = true;
  EpsMode eps_mode = EpsMode::kPyTorch;
};

template <class Visitor>
void VisitOptionsImpl(NAdamOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("betas", o.betas);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("momentum_decay", o.momentum_decay);
  visit("decoupled_weight_decay", o.decoupled_weight_decay);
  visit("maximize", o.maximize);
  visit("bias_correction", o.bias_correction);
  visit("eps_mode", o.eps_mode);
}

inline void Validate(const NAdamOptions& o) {
  validation::CheckLr(o.lr);
  validation::CheckEps(o.eps);
  validation::CheckBetas(o.betas);
  validation::CheckWeightDecay(o.weight_decay);
  validation::Require(validation::NonNegative(o.momentum_decay), "Invalid momentum_decay value", o.momentum_decay);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_NADAM_H_
