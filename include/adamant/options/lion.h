// Lion's options (Chen et al. 2023; the names and defaults of lucidrains' lion-pytorch, the de-facto
// PyTorch reference): names, defaults, validation in torch.optim's wording.
#ifndef ADAMANT_OPTIONS_LION_H_
#define ADAMANT_OPTIONS_LION_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

#define ADAMANT_LION_FIELDS(X)                                                                               \
  X(double, lr, 1e-4)                 /* typically 3-10x smaller than AdamW's */                             \
  X(Betas, betas, (Betas{0.9, 0.99})) /* interpolation for the update's sign, and the momentum's decay */    \
  X(double, weight_decay, 0.0)        /* decoupled: p *= 1 - lr * weight_decay (typically 3-10x AdamW's) */  \
  X(bool, maximize, false)
ADAMANT_DEFINE_OPTIONS(LionOptions, ADAMANT_LION_FIELDS)

inline void Validate(const LionOptions& o) {
  validation::CheckLr(o.lr);
  validation::CheckBetas(o.betas);
  validation::CheckWeightDecay(o.weight_decay);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_LION_H_
