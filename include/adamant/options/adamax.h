// Adamax's options (PyTorch's torch.optim.Adamax): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_ADAMAX_H_
#define ADAMANT_OPTIONS_ADAMAX_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

#define ADAMANT_ADAMAX_FIELDS(X)                                                                                  \
  X(double, lr, 2e-3)                                                                                             \
  X(Betas, betas, (Betas{0.9, 0.999}))                                                                            \
  X(double, eps, 1e-8)                    /* inside the max, as PyTorch (kPyTorch); after it with kTensorFlow */  \
  X(double, weight_decay, 0.0)                                                                                    \
  X(bool, maximize, false)                                                                                        \
  X(bool, bias_correction, true)                                                                                  \
  X(EpsMode, eps_mode, EpsMode::kPyTorch)
ADAMANT_DEFINE_OPTIONS(AdamaxOptions, ADAMANT_ADAMAX_FIELDS)

inline void Validate(const AdamaxOptions& o) {
  validation::CheckLr(o.lr);
  validation::CheckEps(o.eps);
  validation::CheckBetas(o.betas);
  validation::CheckWeightDecay(o.weight_decay);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_ADAMAX_H_
