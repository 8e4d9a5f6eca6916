// The stateless layer: checks its input, computes each step's scalars in double on the host (rounded once
// to the compute type: the descriptor's Prepare), describes each tensor as a kernel slot, and runs one
// fused pass over all of them. One generic step (StepOf) serves every algorithm of the list.
#include "adamant/functional.h"

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "core/layout.h"
#include "core/mix.h"
#include "core/parallel.h"
#include "core/scratch.h"
#include "core/step_plan.h"
#include "core/storage_of.h"
#include "kernels/kernels.h"
#include "algorithms/all.h"

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
  StateStorage storage = StateStorage::kFull;
  const float* absmax = nullptr;  // kInt8: the block maxima
};

// The bytes [begin, begin + size) of one buffer of a tensor, for the overlap check.
struct Region {
  const char* name;
  uintptr_t begin;
  uintptr_t size;
  bool absmax = false;  // the block maxima of int8 buffer `name`

  std::string Name() const { return std::string(name) + (absmax ? "_absmax" : ""); }
};

// No two buffers of a tensor may share memory: the kernels read and write them through restrict pointers
// in one pass, so a gradient aliasing its parameter (or a state buffer aliasing either) would give results
// that depend on the order of the loads and stores, and differ from PyTorch's.
void CheckNoOverlap(std::string_view algorithm, size_t index, std::span<const Region> regions) {
  for (size_t a = 0; a < regions.size(); ++a) {
    if (regions[a].size > std::numeric_limits<uintptr_t>::max() - regions[a].begin) {
      Fail(algorithm, index, regions[a].Name() + " runs past the end of the address space");
    }
    for (size_t b = 0; b < a; ++b) {
      const Region& x = regions[b];
      const Region& y = regions[a];
      if (x.begin < y.begin + y.size && y.begin < x.begin + x.size) {
        Fail(algorithm, index,
             x.Name() + " and " + y.Name() + " overlap in memory" +
                 (x.begin == y.begin ? " (the same pointer)" : "") + ": each must be a buffer of its own");
      }
    }
  }
}

// The checks every algorithm shares; `state` lists the buffers of the tensor.
void CheckTensor(std::string_view algorithm, size_t index, const ParamView& p, const float* master,
                 std::span<const StateArg> state) {
  if (p.numel < 0) Fail(algorithm, index, "negative element count " + std::to_string(p.numel));
  if (p.layout != nullptr) {
    if (const std::string error = core::LayoutError(p); !error.empty()) Fail(algorithm, index, error);
  }
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
    if (s.used && s.storage != StateStorage::kFull && p.dtype == DType::kFloat64) {
      Fail(algorithm, index,
           std::string(s.name) + ": " + std::string(StateStorageName(s.storage)) + " state is not for float64 parameters");
    }
    if (s.used && s.storage == StateStorage::kInt8 && s.absmax == nullptr) {
      Fail(algorithm, index, std::string(s.name) + ": int8 state needs its block maxima (state_absmax)");
    }
  }
  // 8 bytes per element at most: a count beyond this cannot be the size of any buffer.
  if (static_cast<uint64_t>(p.numel) > std::numeric_limits<uintptr_t>::max() / 8) {
    Fail(algorithm, index, "element count " + std::to_string(p.numel) + " is too large");
  }
  const auto n = static_cast<uintptr_t>(p.numel);
  const auto at = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); };
  Region regions[12];
  size_t count = 0;
  regions[count++] = {"param data", at(p.data), static_cast<uintptr_t>(core::DataSpan(p)) * SizeOf(p.dtype)};
  regions[count++] = {"grad", at(p.grad), n * SizeOf(p.dtype)};
  for (const StateArg& s : state) {
    if (s.used && count < std::size(regions)) {
      regions[count++] = {s.name, at(s.ptr), n * SizeOf(StateDType(p.dtype, s.storage))};
    }
    if (s.used && s.storage == StateStorage::kInt8 && count < std::size(regions)) {
      regions[count++] = {s.name, at(s.absmax),
                          static_cast<uintptr_t>((p.numel + kernels::kStateBlock - 1) / kernels::kStateBlock) * sizeof(float),
                          true};
    }
  }
  if (master != nullptr && count < std::size(regions)) regions[count++] = {"master", at(master), n * sizeof(float)};
  CheckNoOverlap(algorithm, index, std::span<const Region>(regions, count));
}

void CheckStep(std::string_view algorithm, size_t index, int64_t step) {
  if (step < 1) Fail(algorithm, index, "step must be >= 1, got " + std::to_string(step));
}


// Every check of tensor i of a step of algorithm A in `modes`; throws naming it.
template <class A>
void CheckTensorOf(size_t i, const Tensor& t, algorithms::ModeBits modes) {
  constexpr std::string_view kName = A::kName;
  constexpr int kBuffers = static_cast<int>(A::kState.size());
  StateArg state[kBuffers];
  for (int k = 0; k < kBuffers; ++k) {
    state[k] = {A::kState[k].name.data(), t.state[k], A::Uses(modes, k), t.state_storage[k], t.state_absmax[k]};
    if (static_cast<uint8_t>(t.state_storage[k]) > static_cast<uint8_t>(StateStorage::kInt8)) {
      Fail(kName, i, std::string(A::kState[k].name) + ": unknown state storage");
    }
  }
  CheckTensor(kName, i, t.param, t.master, state);
  for (int k = 0; k < kBuffers; ++k) {
    if (!state[k].used || t.state_storage[k] != StateStorage::kInt8) continue;
    if (t.offset % kernels::kStateBlock != 0) {
      Fail(kName, i, std::string(A::kState[k].name) + ": an int8 slice starts on a block boundary (offset a multiple of " +
                         std::to_string(kernels::kStateBlock) + "), not at " + std::to_string(t.offset));
    }
    if (core::IsStrided(t.param)) Fail(kName, i, std::string(A::kState[k].name) + ": int8 state is for contiguous parameters");
  }
  if constexpr (A::kCountsSteps) CheckStep(kName, i, t.step);
  if (t.offset < 0) Fail(kName, i, "negative offset " + std::to_string(t.offset));
  if (t.position < -1) Fail(kName, i, "position " + std::to_string(t.position) + " is not -1 or an index");
  if constexpr (!A::kScalarState.empty()) {
    if (t.scalar_state == nullptr) Fail(kName, i, std::string(A::kScalarState) + " is null");
  }
}

// A slot's rounding: its stochastic-rounding streams are keyed by (seed, step, position): the parameter's
// when Precision::rounding asks for it, the state's when a buffer is kBFloat16Stochastic (another stream,
// so that the parameter and its state do not draw the same bits).
void SetRounding(kernels::Slot& slot, size_t position, uint64_t step, const Precision& precision) {
  bool stochastic_state = false;
  for (const kernels::StateStorage s : slot.state_storage) {
    stochastic_state = stochastic_state || s == kernels::StateStorage::kBFloat16Stochastic;
  }
  slot.state_stream = stochastic_state ? core::Mix(core::Mix(precision.seed ^ core::Mix(step ^ core::Mix(position))) + 1) : 0;
  // With a master copy the parameter is its nearest rounding; stochastic rounding applies without one.
  if (precision.rounding == Rounding::kStochastic) {
    slot.rounding = kernels::Rounding::kStochastic;
    slot.random_stream = core::Mix(precision.seed ^ core::Mix(step ^ core::Mix(position)));
  } else {
    slot.rounding = kernels::Rounding::kNearestEven;
    slot.random_stream = 0;
  }
}

// A slot's pointers, storages and rounding; `uses[k]`: the call's modes use buffer k.
void FillSlot(kernels::Slot& slot, const Tensor& t, std::span<const bool> uses, std::span<const StateValues> signs,
              size_t position, uint64_t step, const Precision& precision) {
  slot.param = t.param.data;
  slot.grad = t.param.grad;
  slot.master = t.master;
  slot.numel = t.param.numel;
  slot.storage = core::StorageOf(t.param.dtype);
  for (size_t k = 0; k < uses.size(); ++k) {
    slot.state[k] = uses[k] ? t.state[k] : nullptr;
    slot.state_storage[k] = uses[k] ? core::StorageOf(t.state_storage[k], signs[k]) : kernels::StateStorage::kCompute;
    slot.state_absmax[k] = uses[k] && t.state_storage[k] == StateStorage::kInt8 ? t.state_absmax[k] : nullptr;
  }
  SetRounding(slot, position, step, precision);
}

// Per-tensor scalars (and modes), computed once per distinct (step, scalar state, fresh) in a row for
// each compute type: Prepare depends on nothing else, so a call over thousands of tensors at the same step
// computes them once. A deque, so the pointers in the slots stay valid as it grows.
template <class A>
class ScalarTable {
 public:
  template <class T>
  struct Entry {
    typename A::template Scalars<T> scalars;
    algorithms::ModeBits modes;
  };

  // Points the slot (its storage set) at the scalars of its step in its compute type, and sets its modes.
  void SetScalars(kernels::StepSlot<A>& slot, const typename A::Options& o, algorithms::ModeBits modes,
                  const algorithms::TensorStep& t) {
    if (slot.storage == kernels::Storage::kFloat64) {
      const auto& e = Get<double>(o, modes, t);
      slot.scalars64 = &e.scalars;
      slot.modes = e.modes;
    } else {
      const auto& e = Get<float>(o, modes, t);
      slot.scalars32 = &e.scalars;
      slot.modes = e.modes;
    }
  }

  // The scalars and modes of a tensor's step in compute type T.
  template <class T>
  const Entry<T>& Get(const typename A::Options& o, algorithms::ModeBits modes, const algorithms::TensorStep& t) {
    auto& entries = Entries<T>();
    std::optional<Key>& last = Last<T>();
    const Key key{t.step, std::bit_cast<uint64_t>(t.scalar_state), t.fresh};
    if (!entries.empty() && last == key) return entries.back();
    algorithms::ModeBits m = modes;
    const auto scalars = A::template Prepare<T>(o, m, t);
    entries.push_back(Entry<T>{scalars, m});
    last = key;
    return entries.back();
  }

 private:
  template <class T>
  std::deque<Entry<T>>& Entries() {
    if constexpr (std::is_same_v<T, double>) {
      return d_;
    } else {
      return f_;
    }
  }
  // Fields, not an arithmetic combination: a step read from a checkpoint may be any positive int64. The
  // scalar state by its bits, so that a NaN matches itself.
  struct Key {
    int64_t step;
    uint64_t scalar_state;
    bool fresh;
    bool operator==(const Key&) const = default;
  };
  template <class T>
  std::optional<Key>& Last() {
    return std::is_same_v<T, double> ? last_d_ : last_f_;
  }
  std::deque<Entry<float>> f_;
  std::deque<Entry<double>> d_;
  std::optional<Key> last_f_;
  std::optional<Key> last_d_;
};

// Advances the scalar state of tensors in a row by A::Finish, computed once per distinct (step, scalar
// state) in a row, as ScalarTable does for Prepare.
template <class A>
class Finisher {
 public:
  void Finish(const typename A::Options& o, const algorithms::TensorStep& t, double& scalar_state) {
    const uint64_t in = std::bit_cast<uint64_t>(scalar_state);
    if (!last_ || last_step_ != t.step || last_in_ != in || last_fresh_ != t.fresh) {
      double out = scalar_state;
      A::Finish(o, t, out);
      last_ = true, last_step_ = t.step, last_in_ = in, last_fresh_ = t.fresh, last_out_ = out;
    }
    scalar_state = last_out_;
  }

 private:
  bool last_ = false;
  int64_t last_step_ = 0;
  uint64_t last_in_ = 0;
  bool last_fresh_ = false;
  double last_out_ = 0.0;
};

// One fused pass of algorithm A: each tensor is checked (throwing before anything changes) and described
// as a kernel slot (pointers, storage, rounding, its modes and scalars), the kernel runs over all of
// them, and the algorithm's scalar state (NAdam's mu_product) is advanced for each tensor. The per-tensor
// work is spread over the threads in runs (core::ParallelRuns), each with a scalar table of its own; the
// tables outlive the pass, so the slots' pointers into them stay valid. Nothing the caller can see changes
// before every tensor is checked.
// With `keep`, the slots and their positions are kept there (StepKeeping).
template <class A>
void StepOf(std::span<const Tensor> tensors, const typename A::Options& o, const Precision& precision,
            const StepArgs& args, core::StepPlanOf<A>* keep = nullptr) {
  Validate(o);
  ValidateStepArgs(args);
  constexpr int kBuffers = static_cast<int>(A::kState.size());
  constexpr bool kScalarState = !A::kScalarState.empty();
  const algorithms::ModeBits modes = A::ModesOf(o);
  using Slot = kernels::StepSlot<A>;
  std::array<bool, kBuffers> uses{};
  std::array<StateValues, kBuffers> signs{};
  for (int k = 0; k < kBuffers; ++k) {
    uses[static_cast<size_t>(k)] = A::Uses(modes, k);
    signs[static_cast<size_t>(k)] = A::kState[k].values;
  }
  struct SlotsTag;
  std::vector<Slot>& slots = core::ScratchOfSize<Slot, SlotsTag>(tensors.size());
  std::vector<ScalarTable<A>> tables(static_cast<size_t>(core::RunsFor(tensors.size())));
  if (keep != nullptr) keep->positions.resize(tensors.size());
  core::ParallelRuns(tensors.size(), [&](size_t begin, size_t end, int run) {
    ScalarTable<A>& scalars = tables[static_cast<size_t>(run)];
    // Checked and described in one loop (one pass over the tensors' descriptions, which for thousands of
    // tensors do not stay in cache from one loop to the next): the slots are the call's own, so a check
    // that fails after some were filled leaves nothing changed.
    for (size_t i = begin; i < end; ++i) {
      const Tensor& t = tensors[i];
      CheckTensorOf<A>(i, t, modes);
      // The loss scaler found an inf or NaN: nothing changes once the input is checked, not even mu_product.
      if (args.found_inf) continue;
      Slot& slot = slots[i];
      slot = Slot{};
      const size_t position = t.position >= 0 ? static_cast<size_t>(t.position) : i;
      if (keep != nullptr) keep->positions[i] = position;
      FillSlot(slot, t, uses, signs, position, A::kCountsSteps ? static_cast<uint64_t>(t.step) : 0, precision);
      slot.element_offset = t.offset;
      slot.grad_scale = args.grad_scale;
      const algorithms::TensorStep step{.step = A::kCountsSteps ? t.step : 0,
                                        .scalar_state = kScalarState ? *t.scalar_state : 1.0,
                                        .fresh = t.fresh};
      scalars.SetScalars(slot, o, modes, step);
    }
  });
  if (args.found_inf) return;
  const kernels::StepFn<A> fn = kernels::Active().Step<A>();
  core::ForEachPiece(std::span<const Slot>(slots), fn);
  if (keep != nullptr) keep->slots.assign(slots.begin(), slots.end());
  if constexpr (kScalarState) {
    core::ParallelRuns(tensors.size(), [&](size_t begin, size_t end, int) {
      Finisher<A> finisher;
      for (size_t i = begin; i < end; ++i) {
        const Tensor& t = tensors[i];
        finisher.Finish(o, algorithms::TensorStep{.step = t.step, .scalar_state = *t.scalar_state, .fresh = t.fresh},
                        *t.scalar_state);
      }
    });
  }
}

bool HasLayouts(std::span<const Tensor> tensors) {
  for (const Tensor& t : tensors) {
    if (t.param.layout != nullptr) return true;
  }
  return false;
}

// StepOf for tensors of which some have a layout (adamant/param.h): each is checked whole, and a strided
// one is then stepped as its contiguous runs, each a slice of the tensor (its elements' row-major indices
// as the offset, the tensor's position), so that stochastic rounding draws as for the tensor laid out
// contiguously. A scalar state (NAdam's mu_product) is advanced once per tensor.
template <class A>
void StepWithLayouts(std::span<const Tensor> tensors, const typename A::Options& o, const Precision& precision,
                     const StepArgs& args) {
  Validate(o);
  ValidateStepArgs(args);
  constexpr int kBuffers = static_cast<int>(A::kState.size());
  constexpr bool kScalarState = !A::kScalarState.empty();
  const algorithms::ModeBits modes = A::ModesOf(o);
  std::vector<Tensor> runs;
  std::vector<size_t> first_run(tensors.size());
  std::deque<double> scalar_states;  // a copy per run: pointers into a deque stay valid as it grows
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    CheckTensorOf<A>(i, t, modes);
    first_run[i] = runs.size();
    Tensor whole = t;
    whole.param.layout = nullptr;
    if (whole.position < 0) whole.position = static_cast<int64_t>(i);
    if (!core::IsStrided(t.param) || t.param.numel == 0) {
      if constexpr (kScalarState) whole.scalar_state = &scalar_states.emplace_back(*t.scalar_state);
      runs.push_back(whole);
      continue;
    }
    const size_t size = SizeOf(t.param.dtype);
    core::ForEachRun(*t.param.layout, [&](int64_t data_offset, int64_t index, int64_t length) {
      Tensor r = whole;
      r.param.data = static_cast<char*>(t.param.data) + data_offset * static_cast<int64_t>(size);
      r.param.grad = static_cast<char*>(t.param.grad) + index * static_cast<int64_t>(size);
      r.param.numel = length;
      for (int k = 0; k < kBuffers; ++k) {
        const size_t state_size = SizeOf(StateDType(t.param.dtype, t.state_storage[k]));
        if (r.state[k] != nullptr) r.state[k] = static_cast<char*>(r.state[k]) + index * static_cast<int64_t>(state_size);
      }
      if (r.master != nullptr) r.master += index;
      r.offset = t.offset + index;
      // Each run steps from a copy of the tensor's scalar state; the first run's result is the tensor's.
      if constexpr (kScalarState) r.scalar_state = &scalar_states.emplace_back(*t.scalar_state);
      runs.push_back(r);
    });
  }
  StepOf<A>(runs, o, precision, args);
  if constexpr (kScalarState) {
    for (size_t i = 0; i < tensors.size(); ++i) *tensors[i].scalar_state = *runs[first_run[i]].scalar_state;
  }
}

// StepAgain (core/step_plan.h): the per-tensor part of StepOf without its checks, on the kept slots.
template <class A>
void StepAgainOf(core::StepPlanOf<A>& plan, const typename A::Options& o, const Precision& precision,
                 const StepArgs& args, std::span<const int64_t> steps, std::span<double* const> scalar_states) {
  constexpr bool kScalarState = !A::kScalarState.empty();
  const algorithms::ModeBits modes = A::ModesOf(o);
  std::vector<kernels::StepSlot<A>>& slots = plan.slots;
  std::vector<ScalarTable<A>> tables(static_cast<size_t>(core::RunsFor(slots.size())));
  core::ParallelRuns(slots.size(), [&](size_t begin, size_t end, int run) {
    ScalarTable<A>& scalars = tables[static_cast<size_t>(run)];
    for (size_t j = begin; j < end; ++j) {
      kernels::StepSlot<A>& slot = slots[j];
      const int64_t step_count = A::kCountsSteps ? steps[j] : 0;
      SetRounding(slot, plan.positions[j], static_cast<uint64_t>(step_count), precision);
      slot.grad_scale = args.grad_scale;
      const algorithms::TensorStep step{.step = step_count,
                                        .scalar_state = kScalarState ? *scalar_states[j] : 1.0};
      scalars.SetScalars(slot, o, modes, step);
    }
  });
  const kernels::StepFn<A> fn = kernels::Active().Step<A>();
  core::ForEachPiece(std::span<const kernels::StepSlot<A>>(slots), fn);
  if constexpr (kScalarState) {
    core::ParallelRuns(slots.size(), [&](size_t begin, size_t end, int) {
      Finisher<A> finisher;
      for (size_t j = begin; j < end; ++j) {
        finisher.Finish(o, algorithms::TensorStep{.step = steps[j], .scalar_state = *scalar_states[j]},
                        *scalar_states[j]);
      }
    });
  }
}

}  // namespace

namespace internal {

template <class A>
bool StepKeeping(std::span<const Tensor> tensors, const typename A::Options& options, const Precision& precision,
                 const StepArgs& args, core::StepPlanOf<A>& plan) {
  if (HasLayouts(tensors)) {
    StepWithLayouts<A>(tensors, options, precision, args);
    return false;
  }
  StepOf<A>(tensors, options, precision, args, &plan);
  return true;
}

template <class A>
void StepAgain(core::StepPlanOf<A>& plan, const typename A::Options& options, const Precision& precision,
               const StepArgs& args, std::span<const int64_t> steps, std::span<double* const> scalar_states) {
  StepAgainOf<A>(plan, options, precision, args, steps, scalar_states);
}

#define ADAMANT_INSTANTIATE_PLANNED(Class, name)                                                              \
  template bool StepKeeping<algorithms::Class>(std::span<const Tensor>, const Class##Options&, const Precision&, \
                                               const StepArgs&, core::StepPlanOf<algorithms::Class>&);        \
  template void StepAgain<algorithms::Class>(core::StepPlanOf<algorithms::Class>&, const Class##Options&,      \
                                             const Precision&, const StepArgs&, std::span<const int64_t>,      \
                                             std::span<double* const>);
ADAMANT_OPTIMIZERS(ADAMANT_INSTANTIATE_PLANNED, ADAMANT_SKIP_VARIANT)
#undef ADAMANT_INSTANTIATE_PLANNED

}  // namespace internal

#define ADAMANT_DEFINE_STEP(Class, name)                                                                  \
  void Step(std::span<const Tensor> tensors, const Class##Options& options, const Precision& precision, \
            const StepArgs& args) {                                                                       \
    if (HasLayouts(tensors)) return StepWithLayouts<algorithms::Class>(tensors, options, precision, args); \
    StepOf<algorithms::Class>(tensors, options, precision, args);                                         \
  }
ADAMANT_OPTIMIZERS(ADAMANT_DEFINE_STEP, ADAMANT_SKIP_VARIANT)
#undef ADAMANT_DEFINE_STEP

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
