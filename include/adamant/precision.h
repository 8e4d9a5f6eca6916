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

// The seed of param group `group`'s stochastic rounding on the step that follows `steps_taken` steps:
// `seed` mixed with both, so that every step draws new bits (SGD keeps no step count of its own) and no
// two groups share theirs. The optimizers use it, and the Python drop-ins call it through their
// extension, so both front ends draw the same bits.
uint64_t StreamSeed(uint64_t seed, uint64_t steps_taken, uint64_t group);

// splitmix64's finalizer, a bijection whose outputs for nearby inputs look unrelated: for deriving further
// seeds from one.
uint64_t MixSeed(uint64_t x);

}  // namespace adamant

#endif  // ADAMANT_PRECISION_H_
