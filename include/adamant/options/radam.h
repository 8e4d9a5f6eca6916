// RAdam's options (PyTorch's torch.optim.RAdam): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_RADAM_H_
#define ADAMANT_OPTIONS_RADAM_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

#define ADAMANT_RADAM_FIELDS(X)           \
  X(double, lr, 1e-3)                     \
  X(Betas, betas, (Betas{0.9, 0.999}))    \
  X(double, eps, 1e-8)                    \
  X(double, weight_decay, 0.0)            \
  X(bool, decoupled_weight_decay, false)  \
  X(bool, maximize, false)                \
  X(bool, bias_correction, true)
ADAMANT_DEFINE_OPTIONS(RAdamOptions, ADAMANT_RADAM_FIELDS)

inline void Validate(const RAdamOptions& o) {
  validation::CheckLr(o.lr);
  validation::CheckEps(o.eps);
  validation::CheckBetas(o.betas);
  validation::CheckWeightDecay(o.weight_decay);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_RADAM_H_
