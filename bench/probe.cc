#include "probe.h"

#include <omp.h>

#include <bit>
#include <stdexcept>

#include "kernels/prefetch.h"

namespace adamant_bench {
namespace {

// Trivial arithmetic on every array: s = s/2 + g, p -= 1e-6 * (g + sum s). Values stay bounded.
constexpr float kDecay = 0.5f;
constexpr float kRate = 1e-6f;

inline float Bf16ToFloat(uint16_t x) { return std::bit_cast<float>(static_cast<uint32_t>(x) << 16); }
inline uint16_t FloatToBf16Rne(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// A byte of state (int8) as a fixed-point value; the bytes, not the code map, are what the probe is about.
constexpr float kByteScale = 16.0f;

template <class T>
inline float Load(const T* p, int64_t i) {
  if constexpr (sizeof(T) == 1) {
    return static_cast<float>(static_cast<int8_t>(p[i])) * (1.0f / kByteScale);
  } else if constexpr (sizeof(T) == 2) {
    return Bf16ToFloat(p[i]);
  } else {
    return p[i];
  }
}
template <class T>
inline void Store(T* p, int64_t i, float x) {
  if constexpr (sizeof(T) == 1) {
    p[i] = static_cast<T>(static_cast<int32_t>(x * kByteScale) & 0xFF);
  } else if constexpr (sizeof(T) == 2) {
    p[i] = FloatToBf16Rne(x);
  } else {
    p[i] = x;
  }
}

template <class T, class U, int S>
__attribute__((always_inline)) inline void Elements(int64_t n, T* __restrict p, const T* __restrict g,
                                                    U* __restrict s0, U* __restrict s1, U* __restrict s2) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = Load(g, i);
    float acc = gi;
    if constexpr (S > 0) {
      const float x = kDecay * Load(s0, i) + gi;
      Store(s0, i, x);
      acc += x;
    }
    if constexpr (S > 1) {
      const float x = kDecay * Load(s1, i) + gi;
      Store(s1, i, x);
      acc += x;
    }
    if constexpr (S > 2) {
      const float x = kDecay * Load(s2, i) + gi;
      Store(s2, i, x);
      acc += x;
    }
    Store(p, i, Load(p, i) - kRate * acc);
  }
}

// Prefetched as the library's loop prefetches (src/kernels/prefetch.h: the same distance, blocks, cache
// level and write intent, from the same range length) where the library does (ProbeStep's `prefetch`), so
// that the probe stays the pattern's best case: without it the bf16 probe was about 20% slower than the
// library's step on the AVX-512 development machine.
using adamant::kernels::kBlock;
using adamant::kernels::kPrefetchAhead;
using adamant::kernels::kPrefetchMin;
using adamant::kernels::PrefetchBlock;

template <class T, class U, int S, bool kPrefetch>
__attribute__((always_inline)) inline void Body(int64_t n, T* __restrict p, const T* __restrict g,
                                                U* __restrict s0, U* __restrict s1, U* __restrict s2) {
  int64_t b = 0;
  if constexpr (kPrefetch) {
    for (; n >= kPrefetchMin && n - b >= kPrefetchAhead + kBlock; b += kBlock) {
      const int64_t ahead = b + kPrefetchAhead;
      PrefetchBlock<false>(g + ahead);
      PrefetchBlock<true>(p + ahead);
      if constexpr (S > 0) PrefetchBlock<true>(s0 + ahead);
      if constexpr (S > 1) PrefetchBlock<true>(s1 + ahead);
      if constexpr (S > 2) PrefetchBlock<true>(s2 + ahead);
      Elements<T, U, S>(kBlock, p + b, g + b, S > 0 ? s0 + b : nullptr, S > 1 ? s1 + b : nullptr,
                        S > 2 ? s2 + b : nullptr);
    }
  }
  Elements<T, U, S>(n - b, p + b, g + b, S > 0 ? s0 + b : nullptr, S > 1 ? s1 + b : nullptr,
                    S > 2 ? s2 + b : nullptr);
}

// One non-template function per layout, cloned per target and dispatched at load time (x86-64-v4: AVX-512
// F, BW, DQ, VL, so that the bf16 conversions get 512-bit integer ops too; avx512f alone would not).
// Each layout twice: prefetching (P = true, the counterpart of the library's AVX-512 copy) and not. T is the
// parameter's and gradient's type, U the state's.
#define ADAMANT_BENCH_PROBE_KERNEL(Name, T, U, S, P)                                                      \
  __attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void Name(                        \
      int64_t n, T* __restrict p, const T* __restrict g, void* s0, void* s1, void* s2) {                \
    Body<T, U, S, P>(n, p, g, static_cast<U*>(s0), static_cast<U*>(s1), static_cast<U*>(s2));           \
  }
ADAMANT_BENCH_PROBE_KERNEL(ProbeF32S0, float, float, 0, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeF32S1, float, float, 1, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeF32S2, float, float, 2, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeF32S3, float, float, 3, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeBf16S0, uint16_t, float, 0, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeBf16S1, uint16_t, float, 1, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeBf16S2, uint16_t, float, 2, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeBf16S3, uint16_t, float, 3, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeF32Bf16StateS1, float, uint16_t, 1, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeF32Bf16StateS2, float, uint16_t, 2, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeF32Bf16StateS3, float, uint16_t, 3, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeF32Int8StateS1, float, uint8_t, 1, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeF32Int8StateS2, float, uint8_t, 2, false)
ADAMANT_BENCH_PROBE_KERNEL(ProbeF32Int8StateS3, float, uint8_t, 3, false)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeF32S0, float, float, 0, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeF32S1, float, float, 1, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeF32S2, float, float, 2, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeF32S3, float, float, 3, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeBf16S0, uint16_t, float, 0, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeBf16S1, uint16_t, float, 1, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeBf16S2, uint16_t, float, 2, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeBf16S3, uint16_t, float, 3, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeF32Bf16StateS1, float, uint16_t, 1, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeF32Bf16StateS2, float, uint16_t, 2, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeF32Bf16StateS3, float, uint16_t, 3, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeF32Int8StateS1, float, uint8_t, 1, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeF32Int8StateS2, float, uint8_t, 2, true)
ADAMANT_BENCH_PROBE_KERNEL(PrefetchingProbeF32Int8StateS3, float, uint8_t, 3, true)
#undef ADAMANT_BENCH_PROBE_KERNEL

template <class T>
using Kernel = void (*)(int64_t, T*, const T*, void*, void*, void*);

template <class T>
void Run(Kernel<T> kernel, const std::vector<ProbeTensor>& tensors, const Partition& partition, int threads,
         int state_bytes) {
#pragma omp parallel num_threads(threads)
  // Part k to thread k; a smaller team than asked for (OMP_THREAD_LIMIT) still covers every part.
  for (int part = omp_get_thread_num(); part < partition.parts(); part += omp_get_num_threads()) {
    partition.ForEach(part, [&](size_t t, int64_t b, int64_t e) {
      const ProbeTensor& x = tensors[t];
      auto at = [&](void* s) { return s == nullptr ? nullptr : static_cast<char*>(s) + b * state_bytes; };
      kernel(e - b, static_cast<T*>(x.param) + b, static_cast<const T*>(x.grad) + b, at(x.state[0]),
             at(x.state[1]), at(x.state[2]));
    });
  }
}

}  // namespace

void ProbeStep(bool bf16, int states, int state_bytes, const std::vector<ProbeTensor>& tensors,
               const Partition& partition, int threads, bool prefetch) {
  if (partition.parts() != threads) throw std::invalid_argument("probe: partition has the wrong part count");
  if (states < 0 || states > 3) throw std::invalid_argument("probe: 0 to 3 state arrays");
  if (state_bytes != 4 && (bf16 || states == 0)) {
    throw std::invalid_argument("probe: bf16 and int8 state are for fp32 parameters with state");
  }
  if (state_bytes == 1) {
    static constexpr Kernel<float> kKernels[] = {ProbeF32Int8StateS1, ProbeF32Int8StateS2, ProbeF32Int8StateS3};
    static constexpr Kernel<float> kPrefetching[] = {PrefetchingProbeF32Int8StateS1, PrefetchingProbeF32Int8StateS2,
                                                     PrefetchingProbeF32Int8StateS3};
    Run((prefetch ? kPrefetching : kKernels)[states - 1], tensors, partition, threads, 1);
  } else if (state_bytes == 2) {
    static constexpr Kernel<float> kKernels[] = {ProbeF32Bf16StateS1, ProbeF32Bf16StateS2, ProbeF32Bf16StateS3};
    static constexpr Kernel<float> kPrefetching[] = {PrefetchingProbeF32Bf16StateS1, PrefetchingProbeF32Bf16StateS2,
                                                     PrefetchingProbeF32Bf16StateS3};
    Run((prefetch ? kPrefetching : kKernels)[states - 1], tensors, partition, threads, 2);
  } else if (bf16) {
    static constexpr Kernel<uint16_t> kKernels[] = {ProbeBf16S0, ProbeBf16S1, ProbeBf16S2, ProbeBf16S3};
    static constexpr Kernel<uint16_t> kPrefetching[] = {PrefetchingProbeBf16S0, PrefetchingProbeBf16S1,
                                                        PrefetchingProbeBf16S2, PrefetchingProbeBf16S3};
    Run((prefetch ? kPrefetching : kKernels)[states], tensors, partition, threads, 4);
  } else {
    static constexpr Kernel<float> kKernels[] = {ProbeF32S0, ProbeF32S1, ProbeF32S2, ProbeF32S3};
    static constexpr Kernel<float> kPrefetching[] = {PrefetchingProbeF32S0, PrefetchingProbeF32S1,
                                                     PrefetchingProbeF32S2, PrefetchingProbeF32S3};
    Run((prefetch ? kPrefetching : kKernels)[states], tensors, partition, threads, 4);
  }
}

}  // namespace adamant_bench
