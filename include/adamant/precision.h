// Mixed precision: how bf16 and fp16 parameters are updated.
#ifndef ADAMANT_PRECISION_H_
#define ADAMANT_PRECISION_H_

#include <cstdint>

namespace adamant {

enum class Rounding {
  kNearestEven,  // as PyTorch's conversions (the default)
  kStochastic,   // round up with probability equal to the distance from the lower neighbour
};

// bf16/fp16 parameters are updated in float32 (their optimizer state is float32) and written back:
//  - master_weights: the optimizer keeps a float32 copy of each such parameter (state "master_param"),
//    the rule updates the copy, and the parameter receives its rounding to nearest even. The copy's
//    trajectory is then exactly that of a float32 parameter.
//  - otherwise the parameter itself is widened, updated and rounded back with `rounding`. Stochastic
//    rounding draws from a counter-based generator keyed by (seed, step, tensor, element): reproducible
//    for a seed, whatever the number of threads.
// float32 and float64 parameters ignore these settings.
struct Precision {
  bool master_weights = false;
  Rounding rounding = Rounding::kNearestEven;
  uint64_t seed = 0;
};

}  // namespace adamant

#endif  // ADAMANT_PRECISION_H_
