// Adagrad, the descriptor (algorithms/descriptor.h).
#ifndef ADAMANT_ALGORITHMS_ADAGRAD_H_
#define ADAMANT_ALGORITHMS_ADAGRAD_H_

#include <array>
#include <string_view>

#include "adamant/options/adagrad.h"
#include "algorithms/descriptor.h"
#include "rules/adagrad_rule.h"

namespace adamant::algorithms {

struct Adagrad : DescriptorDefaults {
  using Options = AdagradOptions;
  template <class T>
  using Scalars = rules::AdagradScalars<T>;
  static constexpr std::string_view kName = "adagrad";
  static constexpr std::array<StateSpec, 1> kState = {{{"sum", kNonNegative}}};

  enum Mode { kL2, kNumModes };
  static double Init(const Options& o, int) { return o.initial_accumulator_value; }

  static ModeBits ModesOf(const Options& o) { return ModeBits{}.With(kL2, o.weight_decay != 0); }

  template <class T>
  static Scalars<T> Prepare(const Options& o, ModeBits&, const TensorStep& t) {
    const double clr = o.lr / (1.0 + (static_cast<double>(t.step) - 1.0) * o.lr_decay);
    return {.grad_sign = GradSign<T>(o.maximize),
            .weight_decay = static_cast<T>(o.weight_decay),
            .eps = static_cast<T>(o.eps),
            .neg_clr = static_cast<T>(-clr)};
  }

  template <ModeBits kM, class Ops, class T>
  static ADAMANT_RULE_INLINE void Update(const Scalars<T>& s, T& p, T g, T& sum) {
    rules::AdagradUpdate<kM[kL2]>(s, p, g, sum);
  }
};

}  // namespace adamant::algorithms

#endif  // ADAMANT_ALGORITHMS_ADAGRAD_H_
