// The stateless layer: one call updates a list of tensors in place, given their state buffers and step
// counts: functional::Step(tensors, AdamOptions{...}), the algorithm chosen by its options' type. The optimizers and every adapter (Python, libtorch) are built on it, in the way
// torch.optim's classes are built on torch.optim's functional API.
//
// Every pointer refers to `param.numel` contiguous elements: parameter and gradient of `param.dtype`,
// state of StateDType(param.dtype, storage) (float64 for float64 parameters, float32 for float32, bfloat16 and
// float16 ones; bfloat16 for a buffer stored as StateStorage::kBFloat16). `step` is the step being taken for that tensor: 1 on its first update; callers increment
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
  // A slice of a larger tensor (a shard): `param`, its gradient, its state and master copy hold elements
  // [offset, offset + param.numel) of that tensor, and `position` is the tensor's position in the call
  // over the whole tensors (-1: its position in this call). Stochastic rounding draws by (position,
  // element index in the whole tensor), so stepping the slices of a list of tensors, in any calls, gives
  // the bits of one step over the whole list. Every other rule is element-wise already.
  int64_t offset = 0;
  int64_t position = -1;
  // How each of `state` is stored (dtype.h). A bfloat16 buffer is widened to float32 for the rule and
  // stored rounded to nearest even: the update is the one float32 state holding the same values would
  // give. Not for float64 parameters.
  std::array<StateStorage, kMaxStateBuffers> state_storage = {};
  // kInt8 buffers: the float32 maximum |x| of each block of 256 elements, ceil(numel / 256) of them
  // (read before the step, written by it); the buffer in `state` holds the uint8 codes. The map is the
  // signed one for buffers whose values can be negative (AlgorithmInfo's StateSpec), else the unsigned one.
  // An int8 slice starts on a block boundary of the tensor (offset a multiple of 256) and ends on one or
  // at the tensor's end; the parameter is contiguous.
  std::array<float*, kMaxStateBuffers> state_absmax = {};
};

// One fused step of the algorithm whose options these are (AdamW: AdamWOptions, or AdamOptions with
// decoupled_weight_decay):
//
//   std::vector<float> w(n), g(n), m(n), v(n);
//   const functional::Tensor t{MakeParam(w.data(), g.data(), n), {m.data(), v.data()}, /*step=*/1};
//   functional::Step({&t, 1}, AdamOptions{.lr = 1e-3});
#define ADAMANT_DECLARE_STEP(Class, name)                                                             \
  void Step(std::span<const Tensor> tensors, const Class##Options& options, const Precision& precision = {}, \
            const StepArgs& args = {});
ADAMANT_OPTIMIZERS(ADAMANT_DECLARE_STEP, ADAMANT_SKIP_VARIANT)
#undef ADAMANT_DECLARE_STEP

// The position of the first parameter (in `params` order) whose gradient, divided by grad_scale in the
// compute type, holds a NaN or an infinity; nullopt if every gradient is finite. Parameters without a
// gradient are ignored. Read only: one pass over the gradients, vectorized and split between threads like
// a step (the answer does not depend on the thread count). Only `grad`, `numel` and `dtype` are used;
// a negative count or an unknown dtype, or a grad_scale ValidateStepArgs refuses, throws
// std::invalid_argument.
std::optional<size_t> FirstNonFinite(std::span<const ParamView> params, double grad_scale = 1.0);

}  // namespace adamant::functional

#endif  // ADAMANT_FUNCTIONAL_H_
