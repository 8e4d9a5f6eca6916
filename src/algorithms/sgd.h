// SGD, the descriptor (algorithms/descriptor.h). Its exceptions: it keeps no step (as PyTorch), and its
// momentum buffer does not exist until the first step, which sets it to the gradient (kFreshState: the
// mode kFirst) rather than decaying it.
#ifndef ADAMANT_ALGORITHMS_SGD_H_
#define ADAMANT_ALGORITHMS_SGD_H_

#include <array>
#include <string_view>

#include "adamant/options/sgd.h"
#include "algorithms/descriptor.h"
#include "rules/sgd_rule.h"

namespace adamant::algorithms {

struct SGD : DescriptorDefaults {
  using Options = SGDOptions;
  template <class T>
  using Scalars = rules::SGDScalars<T>;
  static constexpr std::string_view kName = "sgd";
  static constexpr std::array<StateSpec, 1> kState = {{{"momentum_buffer", kSigned}}};
  static constexpr bool kCountsSteps = false;
  static constexpr bool kFreshState = true;

  enum Mode { kL2, kMomentum, kFirst, kNesterov, kNumModes };
  // Without momentum, neither the first step nor Nesterov's momentum apply.
  static constexpr bool Valid(ModeBits m) { return m[kMomentum] || (!m[kFirst] && !m[kNesterov]); }
  static constexpr bool Uses(ModeBits m, int) { return m[kMomentum]; }

  static ModeBits ModesOf(const Options& o) {
    const bool momentum = o.momentum != 0;
    return ModeBits{}.With(kL2, o.weight_decay != 0).With(kMomentum, momentum).With(kNesterov, momentum && o.nesterov);
  }

  // Nothing depends on the step; a tensor's first step with momentum sets its buffer.
  template <class T>
  static Scalars<T> Prepare(const Options& o, ModeBits& m, const TensorStep& t) {
    m = m.With(kFirst, m[kMomentum] && t.fresh);
    return {.grad_sign = GradSign<T>(o.maximize),
            .weight_decay = static_cast<T>(o.weight_decay),
            .momentum = static_cast<T>(o.momentum),
            .one_minus_dampening = static_cast<T>(1.0 - o.dampening),
            .neg_lr = static_cast<T>(-o.lr)};
  }

  template <ModeBits kM, class Ops, class T>
  static ADAMANT_RULE_INLINE void Update(const Scalars<T>& s, T& p, T g, T& buf) {
    rules::SGDUpdate<kM[kL2], kM[kMomentum], kM[kFirst], kM[kNesterov]>(s, p, g, buf);
  }
};

}  // namespace adamant::algorithms

#endif  // ADAMANT_ALGORITHMS_SGD_H_
