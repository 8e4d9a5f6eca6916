// Adam and AdamW's options (PyTorch's torch.optim.Adam and AdamW): names, defaults, validation.
#ifndef ADAMANT_OPTIONS_ADAM_H_
#define ADAMANT_OPTIONS_ADAM_H_

#include "adamant/option_types.h"
#include "adamant/validation.h"

namespace adamant {

#define ADAMANT_ADAM_FIELDS(X)                                                                               \
  X(double, lr, 1e-3)                                                                                        \
  X(Betas, betas, (Betas{0.9, 0.999}))                                                                       \
  X(double, eps, 1e-8)                                                                                       \
  X(double, weight_decay, 0.0)            /* L2 (added to the gradient) unless decoupled_weight_decay */     \
  X(bool, amsgrad, false)                 /* max over the raw (uncorrected) second moment */                 \
  X(bool, maximize, false)                                                                                   \
  X(bool, decoupled_weight_decay, false)  /* AdamW: p *= 1 - lr * weight_decay before the update */          \
  X(bool, bias_correction, true)          /* false: the uncorrected variant of the Adam paper's Figure 4 */  \
  X(EpsMode, eps_mode, EpsMode::kPyTorch)
ADAMANT_DEFINE_OPTIONS(AdamOptions, ADAMANT_ADAM_FIELDS)

inline void Validate(const AdamOptions& o) {
  validation::CheckLr(o.lr);
  validation::CheckEps(o.eps);
  validation::CheckBetas(o.betas);
  validation::CheckWeightDecay(o.weight_decay);
}

// AdamW is Adam with decoupled weight decay and PyTorch's AdamW default weight_decay of 1e-2.
struct AdamWOptions : AdamOptions {
  AdamWOptions() {
    weight_decay = 1e-2;
    decoupled_weight_decay = true;
  }
};

// What AdamW fixes, whatever a group's options say: it always decouples, and does not offer the option
// (PyTorch's AdamW has no such argument).
struct AdamWFixed {
  static constexpr const char* kHiddenOption = "decoupled_weight_decay";
  static constexpr const char* kWhyHidden = "AdamW always decouples; use adam";
  static void Fix(AdamOptions& o) { o.decoupled_weight_decay = true; }
};

}  // namespace adamant

#endif  // ADAMANT_OPTIONS_ADAM_H_
