// Non-finite gradients and loss scaling: what a step does with a NaN or infinite gradient, and the
// arguments a step takes from a loss scaler (as PyTorch's fused optimizers take grad_scale and found_inf).
#ifndef ADAMANT_NONFINITE_H_
#define ADAMANT_NONFINITE_H_

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace adamant {

// What Optimizer::Step does when a gradient (after loss scaling) holds a NaN or an infinity.
enum class NonFinite {
  kPropagate,  // PyTorch's behaviour: the update runs and the NaN/inf reaches the parameters (the default)
  kSkip,       // the whole step is skipped: no parameter, state or step count changes; last_step_skipped()
  kRaise,      // NonFiniteGradientError naming the first such parameter; nothing changes
};

// "propagate", "skip", "raise".
std::string_view NonFiniteName(NonFinite policy);
// The policy of that name; std::invalid_argument otherwise.
NonFinite ParseNonFinite(std::string_view name);

// What a loss scaler passes to a step (torch's `_fused_adam_(..., grad_scale, found_inf)`):
//  - grad_scale: the gradients hold the true gradients times this factor. The step divides each gradient
//    element by it (in the compute type: float32 for float32, bfloat16 and float16 gradients, float64 for
//    float64), uses the quotient, and writes it back to the gradient, as PyTorch's fused kernels do, so
//    that after the step the gradients are unscaled. 1 means no scaling: the step is then exactly the
//    unscaled step and the gradients are only read. Must be finite and > 0.
//  - found_inf: the scaler found a non-finite gradient; the step changes nothing at all (parameters,
//    state, step counts and gradients stay as they are) and counts as skipped.
struct StepArgs {
  double grad_scale = 1.0;
  bool found_inf = false;
};

// Throws std::invalid_argument unless grad_scale is finite and > 0 ("Invalid grad_scale value: 0.0").
void ValidateStepArgs(const StepArgs& args);

// Thrown by a step with NonFinite::kRaise: the first parameter (in group order) whose gradient is not
// finite. Nothing was changed. A std::runtime_error: Python sees RuntimeError.
class NonFiniteGradientError : public std::runtime_error {
 public:
  NonFiniteGradientError(std::string_view optimizer, size_t group, size_t index);
  size_t group() const { return group_; }
  size_t index() const { return index_; }

 private:
  size_t group_;
  size_t index_;
};

}  // namespace adamant

#endif  // ADAMANT_NONFINITE_H_
