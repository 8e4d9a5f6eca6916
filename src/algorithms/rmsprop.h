// RMSprop, the descriptor (algorithms/descriptor.h).
#ifndef ADAMANT_ALGORITHMS_RMSPROP_H_
#define ADAMANT_ALGORITHMS_RMSPROP_H_

#include <array>
#include <string_view>

#include "adamant/options/rmsprop.h"
#include "algorithms/descriptor.h"
#include "rules/rmsprop_rule.h"

namespace adamant::algorithms {

struct RMSprop : DescriptorDefaults {
  using Options = RMSpropOptions;
  template <class T>
  using Scalars = rules::RMSpropScalars<T>;
  static constexpr std::string_view kName = "rmsprop";
  static constexpr std::array<StateSpec, 3> kState = {{
      {"square_avg", kNonNegative},
      {"momentum_buffer", kSigned},
      {"grad_avg", kSigned}}};

  enum Mode { kL2, kCentered, kMomentum, kNumModes };
  static constexpr bool Uses(ModeBits m, int buffer) {
    return buffer == 0 || (buffer == 1 && m[kMomentum]) || (buffer == 2 && m[kCentered]);
  }

  static ModeBits ModesOf(const Options& o) {
    return ModeBits{}.With(kL2, o.weight_decay != 0).With(kCentered, o.centered).With(kMomentum, o.momentum > 0);
  }

  // Nothing depends on the step.
  template <class T>
  static Scalars<T> Prepare(const Options& o, ModeBits&, const TensorStep&) {
    return {.grad_sign = GradSign<T>(o.maximize),
            .weight_decay = static_cast<T>(o.weight_decay),
            .alpha = static_cast<T>(o.alpha),
            .one_minus_alpha = static_cast<T>(1.0 - o.alpha),
            .lerp = rules::MakeLerp<T>(1.0 - o.alpha),
            .eps = static_cast<T>(o.eps),
            .momentum = static_cast<T>(o.momentum),
            .neg_lr = static_cast<T>(-o.lr)};
  }

  template <ModeBits kM, class Ops, class T>
  static ADAMANT_RULE_INLINE void Update(const Scalars<T>& s, T& p, T g, T& square_avg, T& buf, T& grad_avg) {
    rules::RMSpropUpdate<kM[kL2], kM[kCentered], kM[kMomentum]>(s, p, g, square_avg, buf, grad_avg);
  }
};

}  // namespace adamant::algorithms

#endif  // ADAMANT_ALGORITHMS_RMSPROP_H_
