// The stateless layer: one call per algorithm updates a list of tensors in place, given their state
// buffers and step counts. The optimizers and every adapter (Python, libtorch) are built on it, in the way
// torch.optim's classes are built on torch.optim's functional API.
//
// Every pointer refers to `param.numel` contiguous elements: parameter and gradient of `param.dtype`,
// state of StateDType(param.dtype) (float64 for float64 parameters, float32 for float32, bfloat16 and
// float16 ones). `step` is the step being taken for that tensor: 1 on its first update; callers increment
// their counters before the call, as PyTorch does. The options are validated and each tensor is checked
// (non-null pointers, supported dtype) before any element is touched; a failed check throws
// std::invalid_argument and changes nothing.
//
// One call is one fused pass: the elements of all tensors are split between threads (threads.h), each
// element read and written once, on the best SIMD target of the CPU. Results are bitwise identical for
// every thread count and target.
//
// Loss scaling (nonfinite.h): `args.grad_scale` divides every gradient inside the pass, and the quotient is
// written back to the gradient, as PyTorch's fused optimizers do; with `args.found_inf` the call changes
// nothing at all (NAdam's mu_product included) once its input has been checked.
//
// bf16/fp16 parameters: the rule runs in float32 on the widened values and the result is rounded back to
// nearest even, or stochastically (Precision::rounding). With `master` (float32, numel elements) the rule
// updates the master copy instead and the parameter receives its rounding, so the trajectory of the
// master copy is exactly that of a float32 parameter.
#ifndef ADAMANT_FUNCTIONAL_H_
#define ADAMANT_FUNCTIONAL_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "adamant/algorithm_info.h"
#include "adamant/nonfinite.h"
#include "adamant/options.h"
#include "adamant/precision.h"
#include "adamant/param.h"

namespace adamant::functional {

// `precision` says how bf16/fp16 parameters without a master pointer are written back (precision.h;
// master_weights is ignored here: pass `master` pointers). Stochastic rounding is keyed by (seed, step,
// position of the tensor in the call, element); SGD has no step, so vary the seed between its calls.

// One tensor of a step, for any algorithm: its parameter, its state buffers in the order of the algorithm's
// state names (FindAlgorithm(name)->state, algorithm_info.h: exp_avg, exp_avg_sq, max_exp_avg_sq for
// Adam), null where the options do not use one.
struct Tensor {
  ParamView param;  // grad required
  std::array<void*, kMaxStateBuffers> state = {};
  int64_t step = 1;         // algorithms that keep no step count (SGD) ignore it
  float* master = nullptr;  // bf16/fp16 parameters only: fp32 master weights (optional)
  // The algorithm's per-tensor scalar, for the algorithms that keep one (AlgorithmInfo::scalar_state):
  // NAdam's mu_product. In: its value before the step (1 before the first); out: advanced by the step.
  double* scalar_state = nullptr;
  // The state buffers were just created: SGD then sets its momentum buffer to the gradient (PyTorch's
  // `momentum_buffer is None`) rather than decaying it.
  bool fresh = false;
};

// One fused step of the algorithm whose options these are (AdamW: AdamWOptions, or AdamOptions with
// decoupled_weight_decay).
#define ADAMANT_DECLARE_STEP(Class, name)                                                             \
  void Step(std::span<const Tensor> tensors, const Class##Options& options, const Precision& precision = {}, \
            const StepArgs& args = {});
ADAMANT_OPTIMIZERS(ADAMANT_DECLARE_STEP, ADAMANT_SKIP_VARIANT)
#undef ADAMANT_DECLARE_STEP

// The same steps with a struct per algorithm that names its buffers.

struct AdamTensor {
  ParamView param;  // grad required
  void* exp_avg = nullptr;
  void* exp_avg_sq = nullptr;
  void* max_exp_avg_sq = nullptr;  // required when amsgrad
  int64_t step = 1;
  float* master = nullptr;  // bf16/fp16 parameters only: fp32 master weights (optional)
};
// Adam, and AdamW (pass options with decoupled_weight_decay = true).
void Adam(std::span<const AdamTensor> tensors, const AdamOptions& options, const Precision& precision = {},
          const StepArgs& args = {});

struct AdamaxTensor {
  ParamView param;
  void* exp_avg = nullptr;
  void* exp_inf = nullptr;
  int64_t step = 1;
  float* master = nullptr;  // bf16/fp16 parameters only: fp32 master weights (optional)
};
void Adamax(std::span<const AdamaxTensor> tensors, const AdamaxOptions& options, const Precision& precision = {},
            const StepArgs& args = {});

struct NAdamTensor {
  ParamView param;
  void* exp_avg = nullptr;
  void* exp_avg_sq = nullptr;
  int64_t step = 1;
  // In: the product of the momentum coefficients mu_1 .. mu_{step-1} (1 before the first step).
  // Out: multiplied by mu_step. Kept in double (PyTorch keeps a float32 tensor).
  double* mu_product = nullptr;
  float* master = nullptr;  // bf16/fp16 parameters only: fp32 master weights (optional)
};
void NAdam(std::span<const NAdamTensor> tensors, const NAdamOptions& options, const Precision& precision = {},
           const StepArgs& args = {});

struct RAdamTensor {
  ParamView param;
  void* exp_avg = nullptr;
  void* exp_avg_sq = nullptr;
  int64_t step = 1;
  float* master = nullptr;  // bf16/fp16 parameters only: fp32 master weights (optional)
};
void RAdam(std::span<const RAdamTensor> tensors, const RAdamOptions& options, const Precision& precision = {},
           const StepArgs& args = {});

struct AdagradTensor {
  ParamView param;
  void* sum = nullptr;  // starts at initial_accumulator_value
  int64_t step = 1;
  float* master = nullptr;  // bf16/fp16 parameters only: fp32 master weights (optional)
};
void Adagrad(std::span<const AdagradTensor> tensors, const AdagradOptions& options, const Precision& precision = {},
             const StepArgs& args = {});

struct RMSpropTensor {
  ParamView param;
  void* square_avg = nullptr;
  void* momentum_buffer = nullptr;  // required when momentum > 0
  void* grad_avg = nullptr;         // required when centered
  int64_t step = 1;
  float* master = nullptr;  // bf16/fp16 parameters only: fp32 master weights (optional)
};
void RMSprop(std::span<const RMSpropTensor> tensors, const RMSpropOptions& options, const Precision& precision = {},
             const StepArgs& args = {});

struct AdadeltaTensor {
  ParamView param;
  void* square_avg = nullptr;
  void* acc_delta = nullptr;
  int64_t step = 1;
  float* master = nullptr;  // bf16/fp16 parameters only: fp32 master weights (optional)
};
void Adadelta(std::span<const AdadeltaTensor> tensors, const AdadeltaOptions& options, const Precision& precision = {},
              const StepArgs& args = {});

struct SGDTensor {
  ParamView param;
  void* momentum_buffer = nullptr;  // required when momentum != 0
  // False on the first step with momentum: the buffer is then set to the gradient (PyTorch's
  // `momentum_buffer is None`) rather than decayed.
  bool momentum_buffer_initialized = false;
  float* master = nullptr;  // bf16/fp16 parameters only: fp32 master weights (optional)
};
void SGD(std::span<const SGDTensor> tensors, const SGDOptions& options, const Precision& precision = {},
         const StepArgs& args = {});

// The position of the first parameter (in `params` order) whose gradient, divided by grad_scale in the
// compute type, holds a NaN or an infinity; nullopt if every gradient is finite. Parameters without a
// gradient are ignored. Read only: one pass over the gradients, vectorized and split between threads like
// a step (the answer does not depend on the thread count). Only `grad`, `numel` and `dtype` are used;
// a negative count or an unknown dtype, or a grad_scale ValidateStepArgs refuses, throws
// std::invalid_argument.
std::optional<size_t> FirstNonFinite(std::span<const ParamView> params, double grad_scale = 1.0);

}  // namespace adamant::functional

#endif  // ADAMANT_FUNCTIONAL_H_
