// The stateless layer: one call per algorithm updates a list of tensors in place, given their state
// buffers and step counts. The optimizers and every adapter (Python, libtorch) are built on it, in the way
// torch.optim's classes are built on torch.optim's functional API.
//
// Every pointer refers to `param.numel` contiguous elements of `param.dtype` (state has the parameter's
// dtype, as in PyTorch). `step` is the step being taken for that tensor: 1 on its first update; callers
// increment their counters before the call, as PyTorch does. The options are validated and each tensor is
// checked (non-null pointers, supported dtype) before any element is touched; a failed check throws
// std::invalid_argument and changes nothing.
#ifndef ADAMANT_FUNCTIONAL_H_
#define ADAMANT_FUNCTIONAL_H_

#include <cstdint>
#include <span>

#include "adamant/options.h"
#include "adamant/param.h"

namespace adamant::functional {

struct AdamTensor {
  ParamView param;  // grad required
  void* exp_avg = nullptr;
  void* exp_avg_sq = nullptr;
  void* max_exp_avg_sq = nullptr;  // required when amsgrad
  int64_t step = 1;
};
// Adam, and AdamW (pass options with decoupled_weight_decay = true).
void Adam(std::span<const AdamTensor> tensors, const AdamOptions& options);

struct AdamaxTensor {
  ParamView param;
  void* exp_avg = nullptr;
  void* exp_inf = nullptr;
  int64_t step = 1;
};
void Adamax(std::span<const AdamaxTensor> tensors, const AdamaxOptions& options);

struct NAdamTensor {
  ParamView param;
  void* exp_avg = nullptr;
  void* exp_avg_sq = nullptr;
  int64_t step = 1;
  // In: the product of the momentum coefficients mu_1 .. mu_{step-1} (1 before the first step).
  // Out: multiplied by mu_step. Kept in double (PyTorch keeps a float32 tensor).
  double* mu_product = nullptr;
};
void NAdam(std::span<const NAdamTensor> tensors, const NAdamOptions& options);

struct RAdamTensor {
  ParamView param;
  void* exp_avg = nullptr;
  void* exp_avg_sq = nullptr;
  int64_t step = 1;
};
void RAdam(std::span<const RAdamTensor> tensors, const RAdamOptions& options);

struct AdagradTensor {
  ParamView param;
  void* sum = nullptr;  // starts at initial_accumulator_value
  int64_t step = 1;
};
void Adagrad(std::span<const AdagradTensor> tensors, const AdagradOptions& options);

struct RMSpropTensor {
  ParamView param;
  void* square_avg = nullptr;
  void* momentum_buffer = nullptr;  // required when momentum > 0
  void* grad_avg = nullptr;         // required when centered
  int64_t step = 1;
};
void RMSprop(std::span<const RMSpropTensor> tensors, const RMSpropOptions& options);

struct AdadeltaTensor {
  ParamView param;
  void* square_avg = nullptr;
  void* acc_delta = nullptr;
  int64_t step = 1;
};
void Adadelta(std::span<const AdadeltaTensor> tensors, const AdadeltaOptions& options);

struct SGDTensor {
  ParamView param;
  void* momentum_buffer = nullptr;  // required when momentum != 0
  // False on the first step with momentum: the buffer is then set to the gradient (PyTorch's
  // `momentum_buffer is None`) rather than decayed.
  bool momentum_buffer_initialized = false;
};
void SGD(std::span<const SGDTensor> tensors, const SGDOptions& options);

}  // namespace adamant::functional

#endif  // ADAMANT_FUNCTIONAL_H_
