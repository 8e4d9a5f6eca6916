// Adadelta's options (PyTorch's torch.optim.Adadelta): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_ADADELTA_H_
#define ADAMANT_OPTIONS_ADADELTA_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

#define ADAMANT_ADADELTA_FIELDS(X) \
  X(double, lr, 1.0)            \
  X(double, rho, 0.9)           \
  X(double, eps, 1e-6)          \
  X(double, weight_decay, 0.0)  \
  X(bool, maximize, false)
ADAMANT_DEFINE_OPTIONS(AdadeltaOptions, ADAMANT_ADADELTA_FIELDS)

inline void Validate(const AdadeltaOptions& o) {
  validation::CheckLr(o.lr);
  validation::Require(0.0 <= o.rho && o.rho <= 1.0, "Invalid rho value", o.rho);
  validation::CheckEps(o.eps);
  validation::CheckWeightDecay(o.weight_decay);
}

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_ADADELTA_H_
