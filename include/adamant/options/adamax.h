// Adamax's options (PyTorch's torch.optim.Adamax): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_ADAMAX_H_
#define ADAMANT_OPTIONS_ADAMAX_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

struct AdamaxOptions {
  double lr = 2e-3;
  Betas betas = {0.9, 0.999};
  double eps = 1e-8;  // inside the max, as PyTorch (kPyTorch); after it with kTensorFlow
  double weight_decay = 0.0;
  bool maximize = false;
  bool bias_correction = true;
  EpsMode eps_mode = EpsMode::kPyTorch;
};

template <class Visitor>
void VisitOptionsImpl(AdamaxOptions& o, Visitor&& visit) {
  visit("lr", o.lr);
  visit("betas", o.betas);
  visit("eps", o.eps);
  visit("weight_decay", o.weight_decay);
  visit("maximize", o.maximize);
  visit("bias_correction", o.bias_correction);
  visit("eps_mode", o.eps_mode);
}

inline void Validate(const AdamaxOptions& o) {
  validation::CheckLr(o.lr);
  validation::CheckEps(o.eps);
  validation::CheckBetas(o.betas);
  validation::CheckWeightDecay(o.weight_decay);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_ADAMAX_H_
