// NAdam's options (PyTorch's torch.optim.NAdam): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_NADAM_H_
#define ADAMANT_OPTIONS_NADAM_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

#define ADAMANT_NADAM_FIELDS(X)            \
  X(double, lr, 2e-3)                      \
  X(Betas, betas, (Betas{0.9, 0.999}))     \
  X(double, eps, 1e-8)                     \
  X(double, weight_decay, 0.0)             \
  X(double, momentum_decay, 4e-3)          \
  X(bool, decoupled_weight_decay, false)   \
  X(bool, maximize, false)                 \
  X(bool, bias_correction, true)           \
  X(EpsMode, eps_mode, EpsMode::kPyTorch)
ADAMANT_DEFINE_OPTIONS(NAdamOptions, ADAMANT_NADAM_FIELDS)

inline void Validate(const NAdamOptions& o) {
  validation::CheckLr(o.lr);
  validation::CheckEps(o.eps);
  validation::CheckBetas(o.betas);
  validation::CheckWeightDecay(o.weight_decay);
  validation::Require(validation::NonNegative(o.momentum_decay), "Invalid momentum_decay value", o.momentum_decay);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_NADAM_H_
