// The checks the algorithms' Validate functions share, with torch.optim's messages (current PyTorch), so
// that the Python drop-ins raise the same text: torch writes f"Invalid learning rate: {lr}", and
// FormatNumber prints the value as Python's repr would.
#ifndef ADAMANT_VALIDATION_H_
#define ADAMANT_VALIDATION_H_

#include <stdexcept>
#include <string>

#include "adamant/option_types.h"

namespace adamant {

std::string FormatNumber(double value);  // option_text.h

namespace validation {

inline void Require(bool ok, const char* what, double value) {
  if (!ok) throw std::invalid_argument(std::string(what) + ": " + FormatNumber(value));
}

// `not 0.0 <= x` in PyTorch, which also rejects NaN.
inline bool NonNegative(double x) { return 0.0 <= x; }

inline void CheckLr(double lr) { Require(NonNegative(lr), "Invalid learning rate", lr); }
inline void CheckEps(double eps) { Require(NonNegative(eps), "Invalid epsilon value", eps); }

inline void CheckBetas(const Betas& betas) {
  Require(0.0 <= betas[0] && betas[0] < 1.0, "Invalid beta parameter at index 0", betas[0]);
  Require(0.0 <= betas[1] && betas[1] < 1.0, "Invalid beta parameter at index 1", betas[1]);
}

inline void CheckWeightDecay(double wd) { Require(NonNegative(wd), "Invalid weight_decay value", wd); }

}  // namespace validation
}  // namespace adamant

#endif  // ADAMANT_VALIDATION_H_
