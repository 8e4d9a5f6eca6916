// The seeds of stochastic rounding's streams, derived in one place for every front end.
#include "adamant/precision.h"

#include "core/mix.h"

namespace adamant {

uint64_t StreamSeed(uint64_t seed, uint64_t steps_taken, uint64_t group) {
  return core::Mix(seed ^ core::Mix(steps_taken ^ core::Mix(group)));
}

uint64_t MixSeed(uint64_t x) { return core::Mix(x); }

}  // namespace adamant
