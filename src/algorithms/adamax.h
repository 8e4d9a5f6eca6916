// Adamax, the descriptor (algorithms/descriptor.h).
#ifndef ADAMANT_ALGORITHMS_ADAMAX_H_
#define ADAMANT_ALGORITHMS_ADAMAX_H_

#include <array>
#include <string_view>

#include "adamant/options/adamax.h"
#include "algorithms/descriptor.h"
#include "rules/adamax_rule.h"

namespace adamant::algorithms {

struct Adamax : DescriptorDefaults {
  using Options = AdamaxOptions;
  template <class T>
  using Scalars = rules::AdamaxScalars<T>;
  static constexpr std::string_view kName = "adamax";
  static constexpr std::array<StateSpec, 2> kState = {{{"exp_avg", kSigned}, {"exp_inf", kNonNegative}}};

  enum Mode { kL2, kEpsOutside, kNumModes };

  static ModeBits ModesOf(const Options& o) {
    return ModeBits{}.With(kL2, o.weight_decay != 0).With(kEpsOutside, o.eps_mode == EpsMode::kTensorFlow);
  }

  template <class T>
  static Scalars<T> Prepare(const Options& o, ModeBits&, const TensorStep& t) {
    const double clr = o.lr / BiasCorrection(o.betas[0], t.step, o.bias_correction);
    return {.grad_sign = GradSign<T>(o.maximize),
            .weight_decay = static_cast<T>(o.weight_decay),
            .lerp1 = rules::MakeLerp<T>(1.0 - o.betas[0]),
            .beta2 = static_cast<T>(o.betas[1]),
            .eps = static_cast<T>(o.eps),
            .neg_clr = static_cast<T>(-clr)};
  }

  template <ModeBits kM, class Ops, class T>
  static ADAMANT_RULE_INLINE void Update(const Scalars<T>& s, T& p, T g, T& m, T& u) {
    rules::AdamaxUpdate<kM[kL2], kM[kEpsOutside]>(s, p, g, m, u);
  }
};

}  // namespace adamant::algorithms

#endif  // ADAMANT_ALGORITHMS_ADAMAX_H_
