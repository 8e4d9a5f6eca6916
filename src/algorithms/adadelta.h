// Adadelta, the descriptor (algorithms/descriptor.h).
#ifndef ADAMANT_ALGORITHMS_ADADELTA_H_
#define ADAMANT_ALGORITHMS_ADADELTA_H_

#include <array>
#include <string_view>

#include "adamant/options/adadelta.h"
#include "algorithms/descriptor.h"
#include "rules/adadelta_rule.h"

namespace adamant::algorithms {

struct Adadelta : DescriptorDefaults {
  using Options = AdadeltaOptions;
  template <class T>
  using Scalars = rules::AdadeltaScalars<T>;
  static constexpr std::string_view kName = "adadelta";
  static constexpr std::array<StateSpec, 2> kState = {{{"square_avg", kNonNegative}, {"acc_delta", kNonNegative}}};

  enum Mode { kL2, kNumModes };

  static ModeBits ModesOf(const Options& o) { return ModeBits{}.With(kL2, o.weight_decay != 0); }

  // Nothing depends on the step.
  template <class T>
  static Scalars<T> Prepare(const Options& o, ModeBits&, const TensorStep&) {
    return {.grad_sign = GradSign<T>(o.maximize),
            .weight_decay = static_cast<T>(o.weight_decay),
            .rho = static_cast<T>(o.rho),
            .one_minus_rho = static_cast<T>(1.0 - o.rho),
            .eps = static_cast<T>(o.eps),
            .neg_lr = static_cast<T>(-o.lr)};
  }

  template <ModeBits kM, class Ops, class T>
  static ADAMANT_RULE_INLINE void Update(const Scalars<T>& s, T& p, T g, T& square_avg, T& acc_delta) {
    rules::AdadeltaUpdate<kM[kL2]>(s, p, g, square_avg, acc_delta);
  }
};

}  // namespace adamant::algorithms

#endif  // ADAMANT_ALGORITHMS_ADADELTA_H_
