// Non-finite gradient policies and loss-scaling arguments: names, validation, the error.
#include "adamant/nonfinite.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "adamant/option_text.h"

namespace adamant {

std::string_view NonFiniteName(NonFinite policy) {
  switch (policy) {
    case NonFinite::kSkip:
      return "skip";
    case NonFinite::kRaise:
      return "raise";
    case NonFinite::kPropagate:
      break;
  }
  return "propagate";
}

NonFinite ParseNonFinite(std::string_view name) {
  for (NonFinite p : {NonFinite::kPropagate, NonFinite::kSkip, NonFinite::kRaise}) {
    if (name == NonFiniteName(p)) return p;
  }
  throw std::invalid_argument("Invalid nonfinite value: '" + std::string(name) +
                              "' (expected 'propagate', 'skip' or 'raise')");
}

void ValidateStepArgs(const StepArgs& args) {
  // A scale of 0, a negative or a non-finite one would turn every gradient into inf or NaN.
  if (!(std::isfinite(args.grad_scale) && args.grad_scale > 0.0)) {
    throw std::invalid_argument("Invalid grad_scale value: " + FormatNumber(args.grad_scale) +
                                " (it must be finite and > 0)");
  }
}

NonFiniteGradientError::NonFiniteGradientError(std::string_view optimizer, size_t group, size_t index)
    : std::runtime_error(std::string(optimizer) + ": param group " + std::to_string(group) + ", parameter " +
                         std::to_string(index) +
                         ": the gradient is not finite (it holds a NaN or an infinity); the step was refused and "
                         "nothing changed (nonfinite = raise)"),
      group_(group),
      index_(index) {}

}  // namespace adamant
