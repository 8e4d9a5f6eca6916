// Software prefetch for the streaming loops: the kernels' (loop.h, in the AVX-512 copy only) and the
// bench's same-pattern probe, which must prefetch alike to stay the pattern's best case.
//
// The hardware prefetchers keep too short a lead on loops with this much arithmetic per element (square
// roots, divisions, bf16 conversions; docs/performance.md, "Measurements behind the code", has what
// prefetching gained on the AVX-512 development machine). Before each block of kBlock elements, the lines
// of every stream kPrefetchAhead elements ahead are requested into L2, with write intent for the streams
// the loop stores to (the line is owned before the store comes). The distance was chosen by
// measurement: 384 to 768 elements do equally well on the development machine. Ranges shorter than
// kPrefetchMin are left to the hardware (many small tensors: a block loop would only add overhead).
#ifndef ADAMANT_KERNELS_PREFETCH_H_
#define ADAMANT_KERNELS_PREFETCH_H_

#include <cstdint>

namespace adamant::kernels {

inline constexpr int64_t kPrefetchAhead = 512;
inline constexpr int64_t kBlock = 64;
inline constexpr int64_t kPrefetchMin = 2048;

// Every 64-byte line of the kBlock elements from x, into L2 (locality 2); kWrite: with write intent.
template <bool kWrite, class T>
inline __attribute__((always_inline)) void PrefetchBlock(const T* x) {
  for (int64_t offset = 0; offset < kBlock; offset += 64 / static_cast<int64_t>(sizeof(T))) {
    __builtin_prefetch(x + offset, kWrite ? 1 : 0, 2);
  }
}

}  // namespace adamant::kernels

#endif  // ADAMANT_KERNELS_PREFETCH_H_
