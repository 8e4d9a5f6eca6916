// Kernels: apply one algorithm's rule to a range of one tensor's elements, for every storage type, on the
// best SIMD target of the machine.
//
// The core layer describes each tensor as a Slot (pointers, storage type, its step's scalars) and calls
// the algorithm's kernel on element ranges, from as many threads as it likes (threads live in core, not
// here). Kernels assume valid input: the core layer has checked every pointer and size.
//
// Each kernel source is compiled once per target (kernels/target.h) with -ffp-contract=off; the rules use
// fma only where PyTorch fuses and IEEE operations elsewhere, so every target gives the same bits. The one
// exception IEEE 754 itself leaves open: the sign and payload of a NaN result (a compiler may move a
// negation into a library fma call on the baseline target). A NaN is a NaN on every target.
#ifndef ADAMANT_KERNELS_KERNELS_H_
#define ADAMANT_KERNELS_KERNELS_H_

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "adamant/algorithms.h"
#include "algorithms/descriptor.h"

namespace adamant::algorithms {
#define ADAMANT_DECLARE_DESCRIPTOR(Class, name) struct Class;
ADAMANT_OPTIMIZERS(ADAMANT_DECLARE_DESCRIPTOR, ADAMANT_SKIP_VARIANT)
#undef ADAMANT_DECLARE_DESCRIPTOR
}  // namespace adamant::algorithms

namespace adamant::kernels {

// How a tensor's parameter and gradient are stored. The compute type is float for every storage but
// kFloat64 (double); state is stored in it unless the slot's StateStorage says otherwise.
enum class Storage : uint8_t { kFloat32, kFloat64, kBFloat16, kFloat16 };

// How a state buffer is stored. The rule always sees the compute type: a buffer stored otherwise is
// widened into it for a stage of elements before the rule runs, and stored back after (Loop, loop.h, for
// float32 parameters; StepStaged, step-inl.h, for the others), so that the rule is the same for every
// storage (later storages: a block of codes plus its scale).
enum class StateStorage : uint8_t {
  kCompute,             // in the compute type (float; double for kFloat64 parameters)
  kBFloat16,            // bf16 patterns, rounded to nearest even when stored; float compute types only
  kBFloat16Stochastic,  // bf16 patterns, rounded stochastically (Slot::state_stream) when stored
  // Block-wise 8-bit (code_maps.h): per block of kStateBlock elements of the tensor, a float maximum
  // (Slot::state_absmax) and per element the code of the nearest value of the signed or unsigned map.
  kInt8Signed,
  kInt8Unsigned,
};
// The block of int8 state, and the alignment of state stages to the tensor's element index.
inline constexpr int64_t kStateBlock = 256;
constexpr bool IsInt8(StateStorage s) { return s == StateStorage::kInt8Signed || s == StateStorage::kInt8Unsigned; }

// How a bf16/fp16 parameter is written back.
enum class Rounding : uint8_t {
  kNearestEven,
  kStochastic,  // seeded, reproducible; see storage.h
};

// One tensor as the kernels see it: where its arrays are and how they are stored.
struct Slot {
  void* param = nullptr;
  void* grad = nullptr;  // read; also written (the unscaled gradient) when grad_scale != 1
  // The algorithm's element buffers, in the order of its descriptor's kState; null where the modes do
  // not use one.
  void* state[kMaxStateBuffers] = {};
  StateStorage state_storage[kMaxStateBuffers] = {};  // how each of them is stored
  // int8 buffers: the block maxima, one float per block of kStateBlock elements of the tensor; the block
  // of element e of these arrays is (element_offset + e) / kStateBlock - element_offset / kStateBlock. A slice with int8
  // state starts on a block boundary and ends on one or at the tensor's end, and so does every range a
  // step is called with, so that each block is requantized whole.
  float* state_absmax[kMaxStateBuffers] = {};
  float* master = nullptr;  // bf16/fp16 only: fp32 master weights; the rule updates these, param = round(master)
  uint64_t random_stream = 0;  // stochastic rounding: mixes seed, step and tensor
  // Stochastic rounding of kBFloat16Stochastic state: buffer j draws from state_stream + j * kStreamStep.
  uint64_t state_stream = 0;
  // The index of element 0 of these arrays in the whole tensor, when they are a slice of it (a shard):
  // stochastic rounding draws by that index, so a slice rounds as the whole tensor would.
  int64_t element_offset = 0;
  double grad_scale = 1.0;     // loss scaling: the rule sees grad / grad_scale (in the compute type)
  int64_t numel = 0;
  Storage storage = Storage::kFloat32;
  Rounding rounding = Rounding::kNearestEven;
};

// One tensor's share of a step of algorithm A (a descriptor, algorithms/descriptor.h): the slot, the
// modes of this tensor's step, and its scalars in the compute type of its storage.
template <class A>
struct StepSlot : Slot {
  algorithms::ModeBits modes;
  const typename A::template Scalars<float>* scalars32 = nullptr;   // float32, bfloat16 and float16 storage
  const typename A::template Scalars<double>* scalars64 = nullptr;  // float64 storage
};

// Updates elements [begin, end) of the slot's tensor.
template <class A>
using StepFn = void (*)(const StepSlot<A>& slot, int64_t begin, int64_t end);

// Gradient-only kernels: they read (and, for scaling and clamping, write) slot.grad, of slot.storage,
// and ignore the other fields but grad_scale.

// True if every gradient element of [begin, end), divided by slot.grad_scale in the compute type, is
// finite. Read only.
using FiniteFn = bool (*)(const Slot& slot, int64_t begin, int64_t end);

// What NormFn accumulates over the elements x of a range, in double (x widened exactly):
enum class NormKind : uint8_t {
  kTwo,     // sum of x*x
  kOne,     // sum of |x|
  kInf,     // max |x| (NaN if any x is NaN)
  kNegInf,  // min |x| (NaN if any x is NaN)
  kZero,    // count of x != 0
  kP,       // sum of |x|^p
};
// The range's partial, combined by the caller in a fixed order. Sums use 16 interleaved accumulators
// added up in a fixed order at the end, so every target (and the scalar baseline) gives the same bits.
using NormFn = double (*)(const Slot& slot, int64_t begin, int64_t end, NormKind kind, double p);

// grad *= factor (ScaleFn) and grad = min(max(grad, lo), hi) (ClampFn) on elements [begin, end), each in
// the compute type, rounded back to nearest even for bf16/fp16; NaN stays NaN.
using ScaleFn = void (*)(double factor, const Slot& slot, int64_t begin, int64_t end);
using ClampFn = void (*)(double lo, double hi, const Slot& slot, int64_t begin, int64_t end);

// One target's kernels: a step per algorithm (a member named after it, filled from the list of
// algorithms by name, never by position: dispatch.cc), and the gradient-only kernels.
struct KernelTable {
  std::string_view target;  // "avx512", "avx2", "baseline"
#define ADAMANT_STEP_MEMBER(Class, name) StepFn<algorithms::Class> Class = nullptr;
  ADAMANT_OPTIMIZERS(ADAMANT_STEP_MEMBER, ADAMANT_SKIP_VARIANT)
#undef ADAMANT_STEP_MEMBER
  FiniteFn all_finite = nullptr;
  NormFn grad_norm = nullptr;
  ScaleFn scale_grad = nullptr;
  ClampFn clamp_grad = nullptr;

  // The step of algorithm A.
  template <class A>
  StepFn<A> Step() const {
#define ADAMANT_STEP_OF(Class, name) \
  if constexpr (std::is_same_v<A, algorithms::Class>) return Class;
    ADAMANT_OPTIMIZERS(ADAMANT_STEP_OF, ADAMANT_SKIP_VARIANT)
#undef ADAMANT_STEP_OF
  }
};

// The table for the best target this CPU supports, or the one forced with SetTarget() or the
// ADAMANT_TARGET environment variable (read once).
const KernelTable& Active();

// Targets compiled into this build and supported by this CPU, best first.
int NumAvailableTargets();
const KernelTable& AvailableTarget(int i);

// Forces a target by name ("" restores automatic choice). Throws std::invalid_argument if it is not
// available on this machine.
void SetTarget(std::string_view name);

}  // namespace adamant::kernels

#endif  // ADAMANT_KERNELS_KERNELS_H_
