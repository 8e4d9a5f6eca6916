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

namespace adamant::kernels {

// How a tensor's parameter and gradient are stored. State is float for every storage but kFloat64.
enum class Storage : uint8_t { kFloat32, kFloat64, kBFloat16, kFloat16 };

// How a bf16/fp16 parameter is written back.
enum class Rounding : uint8_t {
  kNearestEven,
  kStochastic,  // seeded, reproducible; see storage.h
};

// One tensor's share of a step.
struct Slot {
  void* param = nullptr;
  void* grad = nullptr;  // read; also written (the unscaled gradient) when grad_scale != 1
  void* state[3] = {nullptr, nullptr, nullptr};  // the algorithm's buffers, in the order its kernel documents
  float* master = nullptr;  // bf16/fp16 only: fp32 master weights; the rule updates these, param = round(master)
  const void* scalars = nullptr;  // rules::<Algo>Scalars<float>, or <double> for kFloat64
  uint64_t random_stream = 0;     // stochastic rounding: mixes seed, step and tensor
  double grad_scale = 1.0;        // loss scaling: the rule sees grad / grad_scale (in the compute type)
  int64_t numel = 0;
  Storage storage = Storage::kFloat32;
  Rounding rounding = Rounding::kNearestEven;
  bool flag = false;  // per-tensor mode: RAdam's rectification, SGD's first step (buffer := gradient)
};

// Call-wide modes of each algorithm (the same for every tensor of a call).
struct AdamModes { bool l2, amsgrad, eps_hat; };          // state: exp_avg, exp_avg_sq, max_exp_avg_sq
struct AdamaxModes { bool l2, eps_outside; };             // state: exp_avg, exp_inf
struct NAdamModes { bool l2, eps_hat; };                  // state: exp_avg, exp_avg_sq
struct RAdamModes { bool l2; };                           // state: exp_avg, exp_avg_sq; flag: rectified
struct AdagradModes { bool l2; };                         // state: sum
struct RMSpropModes { bool l2, centered, momentum; };     // state: square_avg, momentum_buffer, grad_avg
struct AdadeltaModes { bool l2; };                        // state: square_avg, acc_delta
struct SGDModes { bool l2, momentum, nesterov; };         // state: momentum_buffer; flag: first step

// Updates elements [begin, end) of the slot's tensor. `modes` points at the algorithm's *Modes struct.
using KernelFn = void (*)(const void* modes, const Slot& slot, int64_t begin, int64_t end);

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

// For ForEachPiece: grad *= factor (ScaleArgs) and grad = min(max(grad, lo), hi) (ClampArgs), each in
// the compute type, rounded back to nearest even for bf16/fp16; NaN stays NaN.
struct ScaleArgs { double factor; };
struct ClampArgs { double lo, hi; };

struct KernelTable {
  std::string_view target;  // "avx512", "avx2", "baseline"
  KernelFn adam, adamax, nadam, radam, adagrad, rmsprop, adadelta, sgd;
  FiniteFn all_finite;
  NormFn grad_norm;
  KernelFn scale_grad, clamp_grad;  // `modes` points at ScaleArgs / ClampArgs
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
