// A 64-bit mixing function, for deriving independent random streams from (seed, step, tensor).
#ifndef ADAMANT_CORE_MIX_H_
#define ADAMANT_CORE_MIX_H_

#include <cstdint>

namespace adamant::core {

// splitmix64's finalizer: a bijection whose outputs for nearby inputs look unrelated.
inline uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace adamant::core

#endif  // ADAMANT_CORE_MIX_H_
