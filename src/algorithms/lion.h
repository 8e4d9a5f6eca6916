// Lion, the descriptor (algorithms/descriptor.h): one buffer, no modes, decoupled weight decay.
#ifndef ADAMANT_ALGORITHMS_LION_H_
#define ADAMANT_ALGORITHMS_LION_H_

#include <array>
#include <string_view>

#include "adamant/options/lion.h"
#include "algorithms/descriptor.h"
#include "rules/lion_rule.h"

namespace adamant::algorithms {

struct Lion : DescriptorDefaults {
  using Options = LionOptions;
  template <class T>
  using Scalars = rules::LionScalars<T>;
  static constexpr std::string_view kName = "lion";
  static constexpr std::array<StateSpec, 1> kState = {{{"exp_avg", kSigned}}};

  enum Mode { kNumModes };

  static ModeBits ModesOf(const Options&) { return {}; }

  // Nothing depends on the step.
  template <class T>
  static Scalars<T> Prepare(const Options& o, ModeBits&, const TensorStep&) {
    return {.grad_sign = GradSign<T>(o.maximize),
            .decay = static_cast<T>(1.0 - o.lr * o.weight_decay),
            .beta1 = static_cast<T>(o.betas[0]),
            .one_minus_beta1 = static_cast<T>(1.0 - o.betas[0]),
            .beta2 = static_cast<T>(o.betas[1]),
            .one_minus_beta2 = static_cast<T>(1.0 - o.betas[1]),
            .neg_lr = static_cast<T>(-o.lr)};
  }

  template <ModeBits kM, class Ops, class T>
  static ADAMANT_RULE_INLINE void Update(const Scalars<T>& s, T& p, T g, T& m) {
    rules::LionUpdate(s, p, g, m);
  }
};

}  // namespace adamant::algorithms

#endif  // ADAMANT_ALGORITHMS_LION_H_
