// A parameter as the optimizers see it: a non-owning view of the user's tensor and its gradient.
#ifndef ADAMANT_PARAM_H_
#define ADAMANT_PARAM_H_

#include <cstdint>

#include "adamant/dtype.h"

namespace adamant {

// `data` and `grad` each point at `numel` contiguous elements of `dtype`, owned by the caller, who keeps
// them alive while the optimizer uses them. The pointers may be changed between steps (a new gradient
// buffer, say). A null `grad` means "no gradient this step": the parameter is skipped and its state and
// step count stay as they are, as PyTorch does for `p.grad is None`.
struct ParamView {
  void* data = nullptr;
  void* grad = nullptr;
  int64_t numel = 0;
  DType dtype = DType::kFloat32;
};

// Convenience constructors (bf16/fp16 parameters: fill in the struct with the dtype and uint16_t data).
inline ParamView MakeParam(float* data, float* grad, int64_t numel) {
  return {data, grad, numel, DType::kFloat32};
}
inline ParamView MakeParam(double* data, double* grad, int64_t numel) {
  return {data, grad, numel, DType::kFloat64};
}

}  // namespace adamant

#endif  // ADAMANT_PARAM_H_
