// Adam, the descriptor (algorithms/descriptor.h): Adam and AMSGrad, with L2 or decoupled weight decay
// (AdamW is Adam with decoupled_weight_decay fixed: adamant/algorithms.h).
#ifndef ADAMANT_ALGORITHMS_ADAM_H_
#define ADAMANT_ALGORITHMS_ADAM_H_

#include <array>
#include <cmath>
#include <string_view>

#include "adamant/options/adam.h"
#include "algorithms/descriptor.h"
#include "rules/adam_rule.h"

namespace adamant::algorithms {

struct Adam : DescriptorDefaults {
  using Options = AdamOptions;
  template <class T>
  using Scalars = rules::AdamScalars<T>;
  static constexpr std::string_view kName = "adam";
  static constexpr std::array<StateSpec, 3> kState = {{
      {"exp_avg", kSigned},
      {"exp_avg_sq", kNonNegative},
      {"max_exp_avg_sq", kNonNegative}}};

  enum Mode { kL2, kAmsgrad, kEpsHat, kNumModes };
  static constexpr bool Uses(ModeBits m, int buffer) { return buffer < 2 || m[kAmsgrad]; }

  static ModeBits ModesOf(const Options& o) {
    return ModeBits{}
        .With(kL2, !o.decoupled_weight_decay && o.weight_decay != 0)
        .With(kAmsgrad, o.amsgrad)
        .With(kEpsHat, o.eps_mode == EpsMode::kTensorFlow);
  }

  template <class T>
  static Scalars<T> Prepare(const Options& o, ModeBits& m, const TensorStep& t) {
    const double bc1 = BiasCorrection(o.betas[0], t.step, o.bias_correction);
    const double bc2 = BiasCorrection(o.betas[1], t.step, o.bias_correction);
    const double bc2_sqrt = std::sqrt(bc2);
    const double step_size = m[kEpsHat] ? o.lr * bc2_sqrt / bc1 : o.lr / bc1;
    return {.moments = rules::MakeAdamMoments<T>(o.lr, o.betas[0], o.betas[1], o.weight_decay,
                                                 o.decoupled_weight_decay, o.maximize),
            .bc2_sqrt = rules::MakeDivisor<T>(bc2_sqrt),
            .neg_step_size = static_cast<T>(-step_size),
            .eps = static_cast<T>(o.eps)};
  }

  template <ModeBits kM, class Ops, class T>
  static ADAMANT_RULE_INLINE void Update(const Scalars<T>& s, T& p, T g, T& m, T& v, T& v_max) {
    rules::AdamUpdate<Ops, kM[kL2], kM[kAmsgrad], kM[kEpsHat]>(s, p, g, m, v, v_max);
  }
};

}  // namespace adamant::algorithms

#endif  // ADAMANT_ALGORITHMS_ADAM_H_
