// Turns runtime mode flags into compile-time constants, so that each combination of modes gets its own
// loop with no per-element branch.
#ifndef ADAMANT_KERNELS_DISPATCH_H_
#define ADAMANT_KERNELS_DISPATCH_H_

#include <type_traits>

#include "rules/common.h"

namespace adamant::kernels {

template <bool kValue>
using Bool = std::bool_constant<kValue>;

// f(Bool<b1>, Bool<b2>, ...) for the runtime values b1, b2, ...
template <class F>
void DispatchBools(F&& f) {
  f();
}
template <class F, class... Rest>
void DispatchBools(F&& f, bool b, Rest... rest) {
  if (b) {
    DispatchBools([&](auto... k) { f(std::true_type{}, k...); }, rest...);
  } else {
    DispatchBools([&](auto... k) { f(std::false_type{}, k...); }, rest...);
  }
}

template <rules::WeightDecay kWd>
using WdConstant = std::integral_constant<rules::WeightDecay, kWd>;

template <class F>
void DispatchWeightDecay(rules::WeightDecay wd, F&& f) {
  switch (wd) {
    case rules::WeightDecay::kNone:
      return f(WdConstant<rules::WeightDecay::kNone>{});
    case rules::WeightDecay::kL2:
      return f(WdConstant<rules::WeightDecay::kL2>{});
    case rules::WeightDecay::kDecoupled:
      return f(WdConstant<rules::WeightDecay::kDecoupled>{});
  }
}

}  // namespace adamant::kernels

#endif  // ADAMANT_KERNELS_DISPATCH_H_
