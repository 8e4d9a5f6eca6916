// The stateless layer: checks its input, computes each step's scalars in double on the host (rounded once
// to the compute type), describes each tensor as a kernel Slot, and runs one fused pass over all of them.
#include "adamant/functional.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "core/mix.h"
#include "core/parallel.h"
#include "core/scratch.h"
#include "core/storage_of.h"
#include "kernels/kernels.h"
#include "rules/adadelta_rule.h"
#include "rules/adagrad_rule.h"
#include "rules/adam_rule.h"
#include "rules/adamax_rule.h"
#include "rules/nadam_rule.h"
#include "rules/radam_rule.h"
#include "rules/rmsprop_rule.h"
#include "rules/sgd_rule.h"

namespace adamant::functional {
namespace {

[[noreturn]] void Fail(std::string_view algorithm, size_t index, const std::string& what) {
  throw std::invalid_argument(std::string(algorithm) + ": tensor " + std::to_string(index) + ": " + what);
}

bool IsHalf(DType d) { return d == DType::kBFloat16 || d == DType::kFloat16; }

// A state buffer of a tensor; `used` is false for a buffer the call's modes do not touch (max_exp_avg_sq
// without amsgrad), which may then be null and is not checked.
struct StateArg {
  const char* name;
  const void* ptr;
  bool used = true;
};

// The bytes [begin, begin + size) of one buffer of a tensor, for the overlap check.
struct Region {
  const char* name;
  uintptr_t begin;
  uintptr_t size;
};

// No two buffers of a tensor may share memory: the kernels read and write them through restrict pointers
// in one pass, so a gradient aliasing its parameter (or a state buffer aliasing either) would give results
// that depend on the order of the loads and stores, and differ from PyTorch's.
void CheckNoOverlap(std::string_view algorithm, size_t index, std::span<const Region> regions) {
  for (size_t a = 0; a < regions.size(); ++a) {
    if (regions[a].size > std::numeric_limits<uintptr_t>::max() - regions[a].begin) {
      Fail(algorithm, index, std::string(regions[a].name) + " runs past the end of the address space");
    }
    for (size_t b = 0; b < a; ++b) {
      const Region& x = regions[b];
      const Region& y = regions[a];
      if (x.begin < y.begin + y.size && y.begin < x.begin + x.size) {
        Fail(algorithm, index,
             std::string(x.name) + " and " + y.name + " overlap in memory" +
                 (x.begin == y.begin ? " (the same pointer)" : "") + ": each must be a buffer of its own");
      }
    }
  }
}

// The checks every algorithm shares; `state` lists the buffers of the tensor.
void CheckTensor(std::string_view algorithm, size_t index, const ParamView& p, const float* master,
                 std::initializer_list<StateArg> state) {
  if (p.numel < 0) Fail(algorithm, index, "negative element count " + std::to_string(p.numel));
  switch (p.dtype) {
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kBFloat16:
    case DType::kFloat16:
      break;
    default:
      Fail(algorithm, index, "unsupported dtype (supported: float32, float64, bfloat16, float16)");
  }
  if (master != nullptr && !IsHalf(p.dtype)) {
    Fail(algorithm, index, "master weights are for bfloat16 and float16 parameters, not " +
                               std::string(DTypeName(p.dtype)));
  }
  if (p.numel == 0) return;
  if (p.data == nullptr) Fail(algorithm, index, "param data is null");
  if (p.grad == nullptr) Fail(algorithm, index, "grad is null");
  for (const StateArg& s : state) {
    if (s.used && s.ptr == nullptr) Fail(algorithm, index, std::string(s.name) + " is null");
  }
  // 8 bytes per element at most: a count beyond this cannot be the size of any buffer.
  if (static_cast<uint64_t>(p.numel) > std::numeric_limits<uintptr_t>::max() / 8) {
    Fail(algorithm, index, "element count " + std::to_string(p.numel) + " is too large");
  }
  const auto n = static_cast<uintptr_t>(p.numel);
  const auto at = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); };
  Region regions[8];
  size_t count = 0;
  regions[count++] = {"param data", at(p.data), n * SizeOf(p.dtype)};
  regions[count++] = {"grad", at(p.grad), n * SizeOf(p.dtype)};
  for (const StateArg& s : state) {
    if (s.used && count < std::size(regions)) regions[count++] = {s.name, at(s.ptr), n * SizeOf(StateDType(p.dtype))};
  }
  if (master != nullptr && count < std::size(regions)) regions[count++] = {"master", at(master), n * sizeof(float)};
  CheckNoOverlap(algorithm, index, std::span<const Region>(regions, count));
}

void CheckStep(std::string_view algorithm, size_t index, int64_t step) {
  if (step < 1) Fail(algorithm, index, "step must be >= 1, got " + std::to_string(step));
}


// Per-tensor scalars, computed once per distinct (step, compute type) in a row: a call over thousands of
// tensors at the same step computes them once. A deque, so the pointers in the slots stay valid as it grows.
template <template <class> class Scalars>
class ScalarTable {
 public:
  // make(T{}) returns Scalars<T>; `key` identifies what the scalars depend on (the step).
  template <class Make>
  const void* Get(DType dtype, int64_t key, bool cacheable, Make make) {
    if (dtype == DType::kFloat64) return Add(d_, last_d_, key, cacheable, [&] { return make(double{}); });
    return Add(f_, last_f_, key, cacheable, [&] { return make(float{}); });
  }

 private:
  template <class T, class Make>
  static const void* Add(std::deque<T>& v, int64_t& last, int64_t key, bool cacheable, Make make) {
    if (cacheable && !v.empty() && last == key) return &v.back();
    v.push_back(make());
    last = cacheable ? key : std::numeric_limits<int64_t>::min();
    return &v.back();
  }
  std::deque<Scalars<float>> f_;
  std::deque<Scalars<double>> d_;
  int64_t last_f_ = std::numeric_limits<int64_t>::min();
  int64_t last_d_ = std::numeric_limits<int64_t>::min();
};

template <class Tensor>
kernels::Slot BaseSlot(const Tensor& t, size_t position, uint64_t step, const Precision& precision) {
  kernels::Slot slot;
  slot.param = t.param.data;
  slot.grad = t.param.grad;
  slot.master = t.master;
  slot.numel = t.param.numel;
  slot.storage = core::StorageOf(t.param.dtype);
  slot.rounding = precision.rounding == Rounding::kStochastic ? kernels::Rounding::kStochastic
                                                               : kernels::Rounding::kNearestEven;
  // With a master copy the parameter is its nearest rounding; stochastic rounding applies without one.
  if (precision.rounding == Rounding::kStochastic) {
    slot.random_stream = core::Mix(precision.seed ^ core::Mix(step ^ core::Mix(position)));
  }
  return slot;
}

// The step that keys a tensor's stochastic-rounding stream; SGD keeps none, and its caller's seed must
// change between steps instead.
template <class Tensor>
uint64_t StreamStep(const Tensor& t) {
  if constexpr (requires { t.step; }) {
    return static_cast<uint64_t>(t.step);
  } else {
    return 0;
  }
}

// One fused pass: check(i, tensor) checks each tensor (throwing before anything changes), a Slot per
// tensor (pointers, storage, rounding) is completed by the algorithm's fill(tensor, slot, scalars) with its
// state pointers and scalars, the kernel runs over all of them, and finish(i, tensor) follows for each
// tensor (state the call keeps outside the slots, such as NAdam's mu_product). The per-tensor work is
// spread over the threads in runs (core::ParallelRuns), each with a scalar table of its own; the tables
// outlive the pass, so the slots' pointers into them stay valid. fill must not change anything the caller
// can see: a later tensor may still fail its check.
template <template <class> class Scalars, class Tensor, class Check, class Fill, class Finish = std::nullptr_t>
void RunSlots(kernels::KernelFn fn, const void* modes, std::span<const Tensor> tensors, const Precision& precision,
              const StepArgs& args, Check check, Fill fill, Finish finish = nullptr) {
  struct SlotsTag;
  std::vector<kernels::Slot>& slots = core::ScratchOfSize<kernels::Slot, SlotsTag>(tensors.size());
  std::vector<ScalarTable<Scalars>> tables(static_cast<size_t>(core::RunsFor(tensors.size())));
  core::ParallelRuns(tensors.size(), [&](size_t begin, size_t end, int run) {
    ScalarTable<Scalars>& scalars = tables[static_cast<size_t>(run)];
    // Checked and described in one loop (one pass over the tensors' descriptions, which for thousands of
    // tensors do not stay in cache from one loop to the next): the slots are the call's own, so a check
    // that fails after some were filled leaves nothing changed.
    for (size_t i = begin; i < end; ++i) {
      check(i, tensors[i]);
      // The loss scaler found an inf or NaN: nothing changes once the input is checked, not even mu_product.
      if (args.found_inf) continue;
      kernels::Slot& slot = slots[i];
      slot = BaseSlot(tensors[i], i, StreamStep(tensors[i]), precision);
      slot.grad_scale = args.grad_scale;
      fill(tensors[i], slot, scalars);
    }
  });
  if (args.found_inf) return;
  core::ForEachPiece(fn, modes, slots);
  if constexpr (!std::is_same_v<Finish, std::nullptr_t>) {
    core::ParallelRuns(tensors.size(), [&](size_t begin, size_t end, int) {
      for (size_t i = begin; i < end; ++i) finish(i, tensors[i]);
    });
  }
}

double BiasCorrection(double beta, int64_t step, bool enabled) {
  return enabled ? 1.0 - std::pow(beta, static_cast<double>(step)) : 1.0;
}

template <typename T>
T Sign(bool maximize) {
  return maximize ? T(-1) : T(1);
}

}  // namespace

void Adam(std::span<const AdamTensor> tensors, const AdamOptions& o, const Precision& precision,
          const StepArgs& args) {
  Validate(o);
  ValidateStepArgs(args);
  const auto check = [&](size_t i, const AdamTensor& t) {
    CheckTensor("adam", i, t.param, t.master,
                {{"exp_avg", t.exp_avg},
                 {"exp_avg_sq", t.exp_avg_sq},
                 {"max_exp_avg_sq", t.max_exp_avg_sq, o.amsgrad}});
    CheckStep("adam", i, t.step);
  };
  const bool decoupled = o.decoupled_weight_decay && o.weight_decay != 0;
  const kernels::AdamModes modes{!o.decoupled_weight_decay && o.weight_decay != 0, o.amsgrad,
                                 o.eps_mode == EpsMode::kTensorFlow};
  RunSlots<rules::AdamScalars>(kernels::Active().adam, &modes, tensors, precision, args, check,
                            [&](const AdamTensor& t, kernels::Slot& slot, auto& scalars) {
    slot.state[0] = t.exp_avg;
    slot.state[1] = t.exp_avg_sq;
    slot.state[2] = t.max_exp_avg_sq;
    slot.scalars = scalars.Get(t.param.dtype, t.step, true, [&](auto zero) {
      using T = decltype(zero);
      const double bc1 = BiasCorrection(o.betas[0], t.step, o.bias_correction);
      const double bc2 = BiasCorrection(o.betas[1], t.step, o.bias_correction);
      const double bc2_sqrt = std::sqrt(bc2);
      const double step_size = modes.eps_hat ? o.lr * bc2_sqrt / bc1 : o.lr / bc1;
      return rules::AdamScalars<T>{Sign<T>(o.maximize),
                                   static_cast<T>(o.weight_decay),
                                   static_cast<T>(decoupled ? 1.0 - o.lr * o.weight_decay : 1.0),
                                   rules::MakeLerp<T>(1.0 - o.betas[0]),
                                   static_cast<T>(o.betas[1]),
                                   static_cast<T>(1.0 - o.betas[1]),
                                   rules::MakeDivisor<T>(bc2_sqrt),
                                   static_cast<T>(-step_size),
                                   static_cast<T>(o.eps)};
    });
  });
}

void Adamax(std::span<const AdamaxTensor> tensors, const AdamaxOptions& o, const Precision& precision,
            const StepArgs& args) {
  Validate(o);
  ValidateStepArgs(args);
  const auto check = [&](size_t i, const AdamaxTensor& t) {
    CheckTensor("adamax", i, t.param, t.master,
                {{"exp_avg", t.exp_avg}, {"exp_inf", t.exp_inf}});
    CheckStep("adamax", i, t.step);
  };
  const kernels::AdamaxModes modes{o.weight_decay != 0, o.eps_mode == EpsMode::kTensorFlow};
  RunSlots<rules::AdamaxScalars>(kernels::Active().adamax, &modes, tensors, precision, args, check,
                            [&](const AdamaxTensor& t, kernels::Slot& slot, auto& scalars) {
    slot.state[0] = t.exp_avg;
    slot.state[1] = t.exp_inf;
    slot.scalars = scalars.Get(t.param.dtype, t.step, true, [&](auto zero) {
      using T = decltype(zero);
      const double clr = o.lr / BiasCorrection(o.betas[0], t.step, o.bias_correction);
      return rules::AdamaxScalars<T>{Sign<T>(o.maximize), static_cast<T>(o.weight_decay),
                                     rules::MakeLerp<T>(1.0 - o.betas[0]), static_cast<T>(o.betas[1]),
                                     static_cast<T>(o.eps), static_cast<T>(-clr)};
    });
  });
}

void NAdam(std::span<const NAdamTensor> tensors, const NAdamOptions& o, const Precision& precision,
           const StepArgs& args) {
  Validate(o);
  ValidateStepArgs(args);
  const auto check = [&](size_t i, const NAdamTensor& t) {
    CheckTensor("nadam", i, t.param, t.master, {{"exp_avg", t.exp_avg}, {"exp_avg_sq", t.exp_avg_sq}});
    CheckStep("nadam", i, t.step);
    if (t.mu_product == nullptr) Fail("nadam", i, "mu_product is null");
  };
  const bool decoupled = o.decoupled_weight_decay && o.weight_decay != 0;
  const kernels::NAdamModes modes{!o.decoupled_weight_decay && o.weight_decay != 0,
                                  o.eps_mode == EpsMode::kTensorFlow};
  const double beta1 = o.betas[0];
  // The momentum coefficient mu_step (Dozat's momentum schedule, PyTorch's momentum_decay).
  const auto mu_at = [&](double step) { return beta1 * (1.0 - 0.5 * std::pow(0.96, step * o.momentum_decay)); };
  // mu_product differs between tensors that took different paths: no caching by step. It is advanced once
  // the pass has run (finish), even for an empty tensor, as in PyTorch.
  RunSlots<rules::NAdamScalars>(kernels::Active().nadam, &modes, tensors, precision, args, check,
                            [&](const NAdamTensor& t, kernels::Slot& slot, auto& scalars) {
    const double step = static_cast<double>(t.step);
    const double mu = mu_at(step);
    const double mu_next = mu_at(step + 1.0);
    const double mu_product = *t.mu_product * mu;
    slot.state[0] = t.exp_avg;
    slot.state[1] = t.exp_avg_sq;
    slot.scalars = scalars.Get(t.param.dtype, t.step, false, [&](auto zero) {
      using T = decltype(zero);
      const double bc2 = BiasCorrection(o.betas[1], t.step, o.bias_correction);
      double grad_coeff = -o.lr * (1.0 - mu);
      double avg_coeff = -o.lr * mu_next;
      if (o.bias_correction) {
        grad_coeff /= 1.0 - mu_product;
        avg_coeff /= 1.0 - mu_product * mu_next;
      }
      if (modes.eps_hat) {
        grad_coeff *= std::sqrt(bc2);
        avg_coeff *= std::sqrt(bc2);
      }
      return rules::NAdamScalars<T>{Sign<T>(o.maximize),
                                    static_cast<T>(o.weight_decay),
                                    static_cast<T>(decoupled ? 1.0 - o.lr * o.weight_decay : 1.0),
                                    rules::MakeLerp<T>(1.0 - beta1),
                                    static_cast<T>(o.betas[1]),
                                    static_cast<T>(1.0 - o.betas[1]),
                                    rules::MakeStepDivisor<T>(bc2),
                                    static_cast<T>(o.eps),
                                    static_cast<T>(grad_coeff),
                                    static_cast<T>(avg_coeff)};
    });
  }, [&](size_t, const NAdamTensor& t) { *t.mu_product *= mu_at(static_cast<double>(t.step)); });
}

void RAdam(std::span<const RAdamTensor> tensors, const RAdamOptions& o, const Precision& precision,
           const StepArgs& args) {
  Validate(o);
  ValidateStepArgs(args);
  const auto check = [&](size_t i, const RAdamTensor& t) {
    CheckTensor("radam", i, t.param, t.master,
                {{"exp_avg", t.exp_avg}, {"exp_avg_sq", t.exp_avg_sq}});
    CheckStep("radam", i, t.step);
  };
  const bool decoupled = o.decoupled_weight_decay && o.weight_decay != 0;
  const kernels::RAdamModes modes{!o.decoupled_weight_decay && o.weight_decay != 0};
  RunSlots<rules::RAdamScalars>(kernels::Active().radam, &modes, tensors, precision, args, check,
                            [&](const RAdamTensor& t, kernels::Slot& slot, auto& scalars) {
    const double step = static_cast<double>(t.step);
    const double beta2 = o.betas[1];
    const double bc2 = 1.0 - std::pow(beta2, step);
    // The length of the approximated simple moving average decides, for the whole tensor, whether the
    // variance is tractable enough to rectify (PyTorch: rho_t > 5).
    const double rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    const double rho_t = rho_inf - 2.0 * step * std::pow(beta2, step) / bc2;
    slot.state[0] = t.exp_avg;
    slot.state[1] = t.exp_avg_sq;
    slot.flag = rho_t > 5.0;
    slot.scalars = scalars.Get(t.param.dtype, t.step, true, [&](auto zero) {
      using T = decltype(zero);
      const double rect =
          slot.flag ? std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                    : 0.0;
      const double bc1 = BiasCorrection(o.betas[0], t.step, o.bias_correction);
      const double bc2_sqrt = o.bias_correction ? std::sqrt(bc2) : 1.0;
      return rules::RAdamScalars<T>{Sign<T>(o.maximize),
                                    static_cast<T>(o.weight_decay),
                                    static_cast<T>(decoupled ? 1.0 - o.lr * o.weight_decay : 1.0),
                                    rules::MakeLerp<T>(1.0 - o.betas[0]),
                                    static_cast<T>(beta2),
                                    static_cast<T>(1.0 - beta2),
                                    rules::MakeStepDivisor<T>(bc1),
                                    static_cast<T>(o.lr),
                                    static_cast<T>(bc2_sqrt),
                                    static_cast<T>(o.eps),
                                    static_cast<T>(rect)};
    });
  });
}

void Adagrad(std::span<const AdagradTensor> tensors, const AdagradOptions& o, const Precision& precision,
             const StepArgs& args) {
  Validate(o);
  ValidateStepArgs(args);
  const auto check = [&](size_t i, const AdagradTensor& t) {
    CheckTensor("adagrad", i, t.param, t.master, {{"sum", t.sum}});
    CheckStep("adagrad", i, t.step);
  };
  const kernels::AdagradModes modes{o.weight_decay != 0};
  RunSlots<rules::AdagradScalars>(kernels::Active().adagrad, &modes, tensors, precision, args, check,
                            [&](const AdagradTensor& t, kernels::Slot& slot, auto& scalars) {
    slot.state[0] = t.sum;
    slot.scalars = scalars.Get(t.param.dtype, t.step, true, [&](auto zero) {
      using T = decltype(zero);
      const double clr = o.lr / (1.0 + (static_cast<double>(t.step) - 1.0) * o.lr_decay);
      return rules::AdagradScalars<T>{Sign<T>(o.maximize), static_cast<T>(o.weight_decay), static_cast<T>(o.eps),
                                      static_cast<T>(-clr)};
    });
  });
}

void RMSprop(std::span<const RMSpropTensor> tensors, const RMSpropOptions& o, const Precision& precision,
             const StepArgs& args) {
  Validate(o);
  ValidateStepArgs(args);
  const bool momentum = o.momentum > 0;
  const auto check = [&](size_t i, const RMSpropTensor& t) {
    CheckTensor("rmsprop", i, t.param, t.master,
                {{"square_avg", t.square_avg},
                 {"momentum_buffer", t.momentum_buffer, momentum},
                 {"grad_avg", t.grad_avg, o.centered}});
    CheckStep("rmsprop", i, t.step);
  };
  const kernels::RMSpropModes modes{o.weight_decay != 0, o.centered, momentum};
  RunSlots<rules::RMSpropScalars>(kernels::Active().rmsprop, &modes, tensors, precision, args, check,
                            [&](const RMSpropTensor& t, kernels::Slot& slot, auto& scalars) {
    slot.state[0] = t.square_avg;
    slot.state[1] = t.momentum_buffer;
    slot.state[2] = t.grad_avg;
    slot.scalars = scalars.Get(t.param.dtype, 0, true, [&](auto zero) {  // nothing depends on the step
      using T = decltype(zero);
      return rules::RMSpropScalars<T>{Sign<T>(o.maximize),        static_cast<T>(o.weight_decay),
                                      static_cast<T>(o.alpha),        static_cast<T>(1.0 - o.alpha),
                                      rules::MakeLerp<T>(1.0 - o.alpha), static_cast<T>(o.eps),
                                      static_cast<T>(o.momentum),     static_cast<T>(-o.lr)};
    });
  });
}

void Adadelta(std::span<const AdadeltaTensor> tensors, const AdadeltaOptions& o, const Precision& precision,
              const StepArgs& args) {
  Validate(o);
  ValidateStepArgs(args);
  const auto check = [&](size_t i, const AdadeltaTensor& t) {
    CheckTensor("adadelta", i, t.param, t.master,
                {{"square_avg", t.square_avg}, {"acc_delta", t.acc_delta}});
    CheckStep("adadelta", i, t.step);
  };
  const kernels::AdadeltaModes modes{o.weight_decay != 0};
  RunSlots<rules::AdadeltaScalars>(kernels::Active().adadelta, &modes, tensors, precision, args, check,
                            [&](const AdadeltaTensor& t, kernels::Slot& slot, auto& scalars) {
    slot.state[0] = t.square_avg;
    slot.state[1] = t.acc_delta;
    slot.scalars = scalars.Get(t.param.dtype, 0, true, [&](auto zero) {
      using T = decltype(zero);
      return rules::AdadeltaScalars<T>{Sign<T>(o.maximize), static_cast<T>(o.weight_decay), static_cast<T>(o.rho),
                                       static_cast<T>(1.0 - o.rho), static_cast<T>(o.eps), static_cast<T>(-o.lr)};
    });
  });
}

void SGD(std::span<const SGDTensor> tensors, const SGDOptions& o, const Precision& precision,
         const StepArgs& args) {
  Validate(o);
  ValidateStepArgs(args);
  const bool momentum = o.momentum != 0;
  const auto check = [&](size_t i, const SGDTensor& t) {
    CheckTensor("sgd", i, t.param, t.master,
                {{"momentum_buffer", t.momentum_buffer, momentum}});
  };
  const kernels::SGDModes modes{o.weight_decay != 0, momentum, o.nesterov};
  RunSlots<rules::SGDScalars>(kernels::Active().sgd, &modes, tensors, precision, args, check,
                            [&](const SGDTensor& t, kernels::Slot& slot, auto& scalars) {
    slot.state[0] = t.momentum_buffer;
    slot.flag = !t.momentum_buffer_initialized;
    slot.scalars = scalars.Get(t.param.dtype, 0, true, [&](auto zero) {
      using T = decltype(zero);
      return rules::SGDScalars<T>{Sign<T>(o.maximize), static_cast<T>(o.weight_decay), static_cast<T>(o.momentum),
                                  static_cast<T>(1.0 - o.dampening), static_cast<T>(-o.lr)};
    });
  });
}

std::optional<size_t> FirstNonFinite(std::span<const ParamView> params, double grad_scale) {
  ValidateStepArgs({grad_scale, false});
  struct SlotsTag;
  struct PositionsTag;
  std::vector<kernels::Slot>& slots = core::Scratch<kernels::Slot, SlotsTag>();
  std::vector<size_t>& positions = core::Scratch<size_t, PositionsTag>();
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamView& p = params[i];
    if (p.grad == nullptr) continue;
    if (p.numel < 0) Fail("nonfinite check", i, "negative element count " + std::to_string(p.numel));
    if (p.dtype != DType::kFloat32 && p.dtype != DType::kFloat64 && !IsHalf(p.dtype)) {
      Fail("nonfinite check", i, "unsupported dtype (supported: float32, float64, bfloat16, float16)");
    }
    if (p.numel == 0) continue;
    kernels::Slot slot;
    slot.grad = p.grad;
    slot.numel = p.numel;
    slot.storage = core::StorageOf(p.dtype);
    slot.grad_scale = grad_scale;
    slots.push_back(slot);
    positions.push_back(i);
  }
  const int64_t k = core::FirstFailingSlot(kernels::Active().all_finite, slots);
  if (k < 0) return std::nullopt;
  return positions[static_cast<size_t>(k)];
}

}  // namespace adamant::functional
