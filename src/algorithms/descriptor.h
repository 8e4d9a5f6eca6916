// What an algorithm's descriptor is: everything that is "Adam" (or any other algorithm), in one struct in
// src/algorithms/<name>.h, which the generic layers read instead of repeating it:
//
//   struct Adam : DescriptorDefaults {                   // the members below that it does not declare
//     using Options = AdamOptions;                        // adamant/options/adam.h: fields, visitor, Validate
//     template <class T> using Scalars = rules::AdamScalars<T>;
//     static constexpr std::string_view kName = "adam";
//     static constexpr std::array<StateSpec, 3> kState = {{{"exp_avg", kSigned}, ...}};  // PyTorch's names
//     static constexpr bool kCountsSteps = true;           // keeps `step` (all but SGD)
//     static constexpr std::string_view kScalarState = ""; // a per-tensor double kept beside (NAdam: mu_product)
//     static constexpr bool kFreshState = false;           // state set from the first gradient (SGD's buffer)
//     enum Mode { kL2, kAmsgrad, kEpsHat, kNumModes };     // compile-time modes: each combination is a loop
//     static constexpr bool Valid(ModeBits m);             // combinations worth a loop
//     static constexpr bool Uses(ModeBits m, int buffer);  // which buffers a mode reads and writes
//     static double Init(const Options& o, int buffer);   // a new buffer's value (Adagrad's sum)
//     static ModeBits ModesOf(const Options& o);           // the modes of a call
//     template <class T> static Scalars<T> Prepare(const Options&, ModeBits&, const TensorStep&);
//     template <ModeBits kM, class Ops, class T> static void Update(const Scalars<T>&, T& p, T g, T&... state);
//     static void Finish(const Options&, const TensorStep&, double& scalar_state);  // with a scalar state
//   };
//
// Prepare is the host side of a step: every scalar that depends on the step but not on the element,
// computed in double and rounded once to the compute type T, with designated initializers; it may also
// set the modes that a tensor's step decides (RAdam's rectification, SGD's first step). Update is the
// element rule (src/rules/), given the target's division policy Ops (kernels/ops.h).
//
// Header-only and free of SIMD: the core layer reads it for state, checks and scalars, and each kernel
// target instantiates its Update (kernels/step-inl.h).
#ifndef ADAMANT_ALGORITHMS_DESCRIPTOR_H_
#define ADAMANT_ALGORITHMS_DESCRIPTOR_H_

#include <cmath>
#include <cstdint>
#include <string_view>

#include "adamant/algorithm_info.h"

namespace adamant::algorithms {

// A set of an algorithm's modes: bit i is mode i of its Mode enum. A structural type, so that a kernel
// can take the modes it was compiled for as a template argument.
struct ModeBits {
  uint32_t bits = 0;

  constexpr bool operator[](int mode) const { return ((bits >> mode) & 1u) != 0; }
  constexpr ModeBits With(int mode, bool on) const {
    return {on ? (bits | (1u << mode)) : (bits & ~(1u << mode))};
  }
};

// The values of a state buffer (StateSpec, adamant/algorithm_info.h), by their short names.
inline constexpr StateValues kSigned = StateValues::kSigned;
inline constexpr StateValues kNonNegative = StateValues::kNonNegative;

// What the host knows of one tensor when it prepares the tensor's step.
struct TensorStep {
  int64_t step = 1;           // the step being taken, 1 on the first; 0 for algorithms that keep none
  double scalar_state = 1.0;  // the algorithm's per-tensor scalar before this step (NAdam's mu_product)
  bool fresh = false;         // the state buffers were created for this step (kFreshState)
};

// What most algorithms are: a descriptor derives from it and declares only where it differs (a static
// member of the same name hides the one here).
struct DescriptorDefaults {
  static constexpr bool kCountsSteps = true;           // keeps `step` (SGD does not)
  static constexpr std::string_view kScalarState = "";  // no per-tensor scalar (NAdam: "mu_product")
  static constexpr bool kFreshState = false;            // state starts from Init (SGD: from the first gradient)
  static constexpr bool Valid(ModeBits) { return true; }
  static constexpr bool Uses(ModeBits, int) { return true; }
  template <class Options>
  static double Init(const Options&, int) {
    return 0.0;
  }
};

// 1 - beta^t, or 1 without bias correction.
inline double BiasCorrection(double beta, int64_t step, bool enabled) {
  return enabled ? 1.0 - std::pow(beta, static_cast<double>(step)) : 1.0;
}

// The factor that flips the gradient's sign: -1 with maximize.
template <typename T>
T GradSign(bool maximize) {
  return maximize ? T(-1) : T(1);
}

}  // namespace adamant::algorithms

#endif  // ADAMANT_ALGORITHMS_DESCRIPTOR_H_
