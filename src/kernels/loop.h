// The one element loop every kernel uses: load each storage type, convert to the compute type, apply the
// rule, round back, store. Compiled per target (target.h); the compiler vectorizes it. Everything here is
// in the target's namespace, so that no two targets' copies share a symbol, whatever the compiler
// decides to inline (tests/kernels/check_symbols.py checks the objects).
#ifndef ADAMANT_KERNELS_LOOP_H_
#define ADAMANT_KERNELS_LOOP_H_

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include <immintrin.h>

#include "kernels/code_maps.h"
#include "kernels/kernels.h"
#include "kernels/prefetch.h"
#include "kernels/storage.h"
#include "kernels/target.h"

namespace adamant::kernels::ADAMANT_TARGET {

// P: how the parameter and gradient are stored (float, double, or the 16-bit pattern of bf16/fp16);
// S: the compute and state type. kFormat says which 16-bit format P holds. kMaster: the rule updates the
// fp32 master copy and the parameter is its rounding; kStochastic: the parameter is rounded
// stochastically (without a master copy); kUnscale: loss scaling, the rule sees grad / grad_scale and the
// quotient is written back to the gradient (PyTorch's fused kernels). Without it the gradient is only
// read: a step with grad_scale 1 is the unscaled step, bit for bit, at no cost.
template <class P, class S, Storage kFormat, bool kMaster = false, bool kStochastic = false, bool kUnscaleGrad = false>
struct Variant {
  using Param = P;
  using Compute = S;
  static constexpr Storage kStorage = kFormat;
  static constexpr bool kUsesMaster = kMaster;
  static constexpr bool kUsesStochastic = kStochastic;
  static constexpr bool kUnscale = kUnscaleGrad;
};

template <bool kU, class F>
inline void ForVariantScaled(const Slot& slot, F&& f) {
  switch (slot.storage) {
    case Storage::kFloat32:
      return f(Variant<float, float, Storage::kFloat32, false, false, kU>{});
    case Storage::kFloat64:
      return f(Variant<double, double, Storage::kFloat64, false, false, kU>{});
    case Storage::kBFloat16:
      if (slot.master != nullptr) return f(Variant<Half16, float, Storage::kBFloat16, true, false, kU>{});
      if (slot.rounding == Rounding::kStochastic) {
        return f(Variant<Half16, float, Storage::kBFloat16, false, true, kU>{});
      }
      return f(Variant<Half16, float, Storage::kBFloat16, false, false, kU>{});
    case Storage::kFloat16:
      if (slot.master != nullptr) return f(Variant<Half16, float, Storage::kFloat16, true, false, kU>{});
      if (slot.rounding == Rounding::kStochastic) {
        return f(Variant<Half16, float, Storage::kFloat16, false, true, kU>{});
      }
      return f(Variant<Half16, float, Storage::kFloat16, false, false, kU>{});
  }
}

// Calls f(Variant<...>{}) for the slot's storage, rounding and loss scaling.
template <class F>
inline void ForVariant(const Slot& slot, F&& f) {
  if (slot.grad_scale != 1.0) return ForVariantScaled<true>(slot, f);
  return ForVariantScaled<false>(slot, f);
}

template <Storage kFormat>
ADAMANT_KERNEL_INLINE float Load(Half16 x) {
  if constexpr (kFormat == Storage::kBFloat16) {
    return BFloat16ToFloat(x);
  } else {
    return Float16ToFloat(x);
  }
}
template <Storage kFormat>
ADAMANT_KERNEL_INLINE Half16 Round(float x) {
  if constexpr (kFormat == Storage::kBFloat16) {
    return FloatToBFloat16(x);
  } else {
    return FloatToFloat16(x);
  }
}
template <Storage kFormat>
ADAMANT_KERNEL_INLINE Half16 RoundStochastic(float x, uint32_t random) {
  if constexpr (kFormat == Storage::kBFloat16) {
    return FloatToBFloat16Stochastic(x, random);
  } else {
    return FloatToFloat16Stochastic(x, random);
  }
}

// The gradient element i in the compute type; with loss scaling, divided by `scale` (torch's fused
// kernels: grad / grad_scale) and the quotient stored back (rounded to nearest even for bf16/fp16).
template <class V>
ADAMANT_KERNEL_INLINE typename V::Compute Grad(typename V::Param* __restrict g, int64_t i, typename V::Compute scale) {
  using P = typename V::Param;
  using S = typename V::Compute;
  if constexpr (std::is_same_v<P, S>) {
    if constexpr (V::kUnscale) {
      const S x = g[i] / scale;
      g[i] = x;
      return x;
    } else {
      return g[i];
    }
  } else {
    if constexpr (V::kUnscale) {
      const S x = Load<V::kStorage>(g[i]) / scale;
      g[i] = Round<V::kStorage>(x);
      return x;
    } else {
      return Load<V::kStorage>(g[i]);
    }
  }
}

// update(S& param, S grad, S& state...) for elements [0, n) of arrays that start at element `at` of the
// tensor (the index stochastic rounding draws from). Every array is a restrict parameter, so that GCC needs
// no aliasing checks to vectorize.
template <class V, class Update, class... State>
ADAMANT_KERNEL_INLINE void Elements(int64_t at, int64_t n, typename V::Param* __restrict p,
                                    typename V::Param* __restrict g, float* __restrict master,
                                    typename V::Compute scale, uint64_t stream, Update& update,
                                    State* __restrict... state) {
  using P = typename V::Param;
  using S = typename V::Compute;
#if !defined(__clang__)  // unknown to clang, which only the fuzz build uses
#pragma GCC ivdep
#endif
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (V::kUsesMaster) {
      S x = master[i];
      update(x, Grad<V>(g, i, scale), state[i]...);
      master[i] = x;
      p[i] = Round<V::kStorage>(x);
    } else if constexpr (std::is_same_v<P, S>) {
      S x = p[i];
      update(x, Grad<V>(g, i, scale), state[i]...);
      p[i] = x;
    } else if constexpr (V::kUsesStochastic) {
      S x = Load<V::kStorage>(p[i]);
      update(x, Grad<V>(g, i, scale), state[i]...);
      p[i] = RoundStochastic<V::kStorage>(x, RandomBits(stream, static_cast<uint64_t>(at + i)));
    } else {
      S x = Load<V::kStorage>(p[i]);
      update(x, Grad<V>(g, i, scale), state[i]...);
      p[i] = Round<V::kStorage>(x);
    }
  }
}

// Stochastic rounding of staged state: buffer j's stream is the slot's state_stream plus j of these (the
// golden ratio's odd 64-bit multiple), so that no two buffers of a tensor draw the same bits.
inline constexpr uint64_t kStreamStep = 0x9E3779B97F4A7C15ull;

// int8 state's table lookups, written with the targets' gathers: GCC 12 emulates a gather with a scalar
// load and an insert per element (its tuning avoids the instruction), which made an int8 step three
// times as slow as the float32 one. Each returns how many of the n elements it did (whole vectors); the
// scalar loop after it does the rest, with the same operations, so every target gives the same bits.
// GCC 12 warns that the intrinsics' undefined pass-through operands "may be used uninitialized" (its bug
// 105593, fixed in GCC 13): a false positive, silenced for these two functions only.
#if !defined(__clang__)  // unknown to clang, which only the fuzz build uses
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// map[c[i]] * scale into out[i].
inline int64_t DequantizeVectors([[maybe_unused]] const uint8_t* __restrict c, [[maybe_unused]] const float* map,
                                 [[maybe_unused]] float scale, [[maybe_unused]] int64_t n,
                                 [[maybe_unused]] float* __restrict out) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 s = _mm512_set1_ps(scale);
  for (; i + 16 <= n; i += 16) {
    const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i)));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_i32gather_ps(idx, map, 4), s));
  }
#elif defined(__AVX2__)
  const __m256 s = _mm256_set1_ps(scale);
  for (; i + 8 <= n; i += 8) {
    const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(c + i)));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_i32gather_ps(map, idx, 4), s));
  }
#endif
  return i;
}

// NearestCode(table, in[i] / m) into out[i] (m finite and positive): the same operations, a vector at a time.
inline int64_t NearestCodeVectors([[maybe_unused]] const CodeTable& table, [[maybe_unused]] const float* __restrict in,
                                  [[maybe_unused]] float m, [[maybe_unused]] int64_t n,
                                  [[maybe_unused]] uint8_t* __restrict out) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 vm = _mm512_set1_ps(m);
  const __m512i min_bits = _mm512_set1_epi32(static_cast<int>(kCodeMinBits));
  const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF);
  const __m512i low_mask = _mm512_set1_epi32(static_cast<int>((1u << table.shift) - 1u));
  const __m512i code_mask = _mm512_set1_epi32(0xFF);
  const __m512i half = _mm512_set1_epi32(table.half);
  const __m512i one = _mm512_set1_epi32(1);
  const __m128i shift = _mm_cvtsi32_si128(table.shift);
  for (; i + 16 <= n; i += 16) {
    __m512i u = _mm512_castps_si512(_mm512_div_ps(_mm512_loadu_ps(in + i), vm));
    __mmask16 negative = _mm512_movepi32_mask(u);
    if (!table.is_signed) {
      u = _mm512_maskz_mov_epi32(static_cast<__mmask16>(~negative), u);
      negative = 0;
    }
    const __m512i above = _mm512_sub_epi32(_mm512_max_epu32(_mm512_and_si512(u, abs_mask), min_bits), min_bits);
    const __m512i bucket = _mm512_srl_epi32(above, shift);
    const __m512i index = _mm512_mask_add_epi32(bucket, negative, bucket, half);
    const __m512i entry = _mm512_i32gather_epi32(index, table.entry, 4);
    const __mmask16 past = _mm512_cmpge_epu32_mask(_mm512_and_si512(above, low_mask), _mm512_srli_epi32(entry, 8));
    __m512i code = _mm512_and_si512(entry, code_mask);
    code = _mm512_mask_add_epi32(code, static_cast<__mmask16>(past & ~negative), code, one);
    code = _mm512_mask_sub_epi32(code, static_cast<__mmask16>(past & negative), code, one);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(code));
  }
#elif defined(__AVX2__)
  const __m256 vm = _mm256_set1_ps(m);
  const __m256i min_bits = _mm256_set1_epi32(static_cast<int>(kCodeMinBits));
  const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF);
  const __m256i low_mask = _mm256_set1_epi32(static_cast<int>((1u << table.shift) - 1u));
  const __m256i code_mask = _mm256_set1_epi32(0xFF);
  const __m256i half = _mm256_set1_epi32(table.half);
  const __m128i shift = _mm_cvtsi32_si128(table.shift);
  for (; i + 8 <= n; i += 8) {
    __m256i u = _mm256_castps_si256(_mm256_div_ps(_mm256_loadu_ps(in + i), vm));
    __m256i negative = _mm256_srai_epi32(u, 31);  // all ones where the sign is set
    if (!table.is_signed) {
      u = _mm256_andnot_si256(negative, u);
      negative = _mm256_setzero_si256();
    }
    const __m256i above = _mm256_sub_epi32(_mm256_max_epu32(_mm256_and_si256(u, abs_mask), min_bits), min_bits);
    const __m256i index = _mm256_add_epi32(_mm256_srl_epi32(above, shift), _mm256_and_si256(negative, half));
    const __m256i entry = _mm256_i32gather_epi32(reinterpret_cast<const int*>(table.entry), index, 4);
    // All ones where the low bits are at least the entry's (max_epu32: an unsigned comparison).
    const __m256i low = _mm256_and_si256(above, low_mask);
    const __m256i past = _mm256_cmpeq_epi32(_mm256_max_epu32(low, _mm256_srli_epi32(entry, 8)), low);
    // code + 1 where past (positive q), code - 1 (negative q): code - (past ^ negative) + negative.
    const __m256i code = _mm256_add_epi32(
        _mm256_sub_epi32(_mm256_and_si256(entry, code_mask), _mm256_xor_si256(past, negative)), negative);
    // The 8 low bytes of the 8 codes (each < 256): pack to 16 bits, then to 8.
    const __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(code), _mm256_extracti128_si256(code, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(words, words));
  }
#endif
  return i;
}

#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// The code table of an int8 storage: the signed map's or the unsigned one's.
inline const CodeTable& CodeTableOf(StateStorage storage) {
  return storage == StateStorage::kInt8Signed ? SignedCodeTable() : UnsignedCodeTable();
}

// A state buffer stored otherwise than in the compute type, for n elements: widened into `out` before the
// rule runs (Stage) and stored back from it after (Unstage). Not inlined: inlined into every variant's loop,
// they made the kernels take 2.5 times as long to compile. `absmax`: int8 storage's maximum of the block
// these n elements are (a stage of int8 state is always one whole block).
template <class S>
__attribute__((noinline)) void Stage(StateStorage storage, const void* __restrict in, int64_t n, S* __restrict out,
                                     const float* absmax) {
  if (IsInt8(storage)) {
    const uint8_t* c = static_cast<const uint8_t*>(in);
    const float* map = CodeTableOf(storage).map;
    const float scale = *absmax;
    int64_t i = 0;
    if constexpr (std::is_same_v<S, float>) i = DequantizeVectors(c, map, scale, n, out);
    for (; i < n; ++i) out[i] = static_cast<S>(map[c[i]] * scale);
    return;
  }
  const Half16* h = static_cast<const Half16*>(in);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<S>(BFloat16ToFloat(h[i]));
}

// int8: the block's new maximum |x| (NaN if any x is NaN), then each code. A block whose maximum is 0
// stores the zero code everywhere; one whose maximum is not finite too, so that it reads back as NaN
// (0 * inf and 0 * NaN): never as a silent zero.
template <class S>
ADAMANT_KERNEL_INLINE void Quantize(const CodeTable& table, const S* __restrict in, int64_t n, uint8_t* __restrict out,
                                    float* absmax) {
  const float m = BlockAbsMax(in, n);
  *absmax = m;
  if (!Quantizable(m)) {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(table.zero_code);
    return;
  }
  int64_t i = 0;
  if constexpr (std::is_same_v<S, float>) i = NearestCodeVectors(table, in, m, n, out);
  for (; i < n; ++i) out[i] = NearestCode(table, static_cast<float>(in[i]) / m);
}

// `at`: the tensor's index of element 0 (stochastic rounding draws by it, as for parameters).
template <class S>
__attribute__((noinline)) void Unstage(StateStorage storage, const S* __restrict in, int64_t n, void* __restrict out,
                                       uint64_t stream, int64_t at, float* absmax) {
  if (IsInt8(storage)) {
    return Quantize(CodeTableOf(storage), in, n, static_cast<uint8_t*>(out), absmax);
  }
  Half16* h = static_cast<Half16*>(out);
  if (storage == StateStorage::kBFloat16Stochastic) {
    for (int64_t i = 0; i < n; ++i) {
      h[i] = FloatToBFloat16Stochastic(static_cast<float>(in[i]), RandomBits(stream, static_cast<uint64_t>(at + i)));
    }
  } else {
    for (int64_t i = 0; i < n; ++i) h[i] = FloatToBFloat16(static_cast<float>(in[i]));
  }
}

// The elements of a staged state buffer that one stage holds, and the alignment of stages to the
// tensor's element index (so that block-wise storages find their blocks whole, whatever the thread split).
inline constexpr int64_t kStage = kStateBlock;

// Element i of `base` (an array of `storage`), as an address.
template <class S>
ADAMANT_KERNEL_INLINE void* StateAt(S* base, StateStorage storage, int64_t i) {
  if (IsInt8(storage)) return reinterpret_cast<uint8_t*>(base) + i;
  if (storage != StateStorage::kCompute) return reinterpret_cast<Half16*>(base) + i;
  return base + i;
}

// The int8 block maximum of element i of arrays whose element 0 is the tensor's element `offset`, from
// `absmax`, the maxima of their blocks (Slot::state_absmax); null for other storages.
inline float* BlockMax(float* absmax, int64_t offset, int64_t i) {
  return absmax == nullptr ? nullptr : absmax + ((offset + i) / kStage - offset / kStage);
}

// update(S& param, S grad, S& state...) for every element of [begin, end); in the AVX-512 copy in blocks
// of kBlock, each after prefetching the streams kPrefetchAhead elements ahead (prefetch.h), then the last
// elements in one run. `storage[j]` says how state[j] is stored: in the float32-parameter variants, when any
// is not the compute type, the elements go in stages of at most kStage, each such buffer widened into a
// stack array for the rule and stored back after it; the rule and its loop are the same either way. The
// other variants are compiled without this (it costs every loop it is in a sixth more code and compile
// time): their slots are staged outside the loop (StepStaged, step-inl.h).
// Never inlined, so that each variant's loop is compiled as a function of its own: inlined into the
// dispatching function beside dozens of siblings, some were left scalar by GCC 12 ("control flow in
// loop"), which only their speed shows; tests/kernels/check_vectorized.py checks every one. `update` must hold
// its scalars by value (capture [=]): through a reference GCC cannot tell them from the arrays the loop
// stores to, and loads and broadcasts every one of them again for each vector (on AVX2, 10 of the 37
// instructions of fp32 Adam's loop).
template <class V, class Update, size_t... kJ, class... State>
__attribute__((noinline)) void Loop(const Slot& slot, int64_t begin, int64_t end,
                                    const std::array<StateStorage, sizeof...(State)> storage,
                                    const std::array<float*, sizeof...(State)> absmax, Update update,
                                    std::index_sequence<kJ...>, State* __restrict... state) {
  using P = typename V::Param;
  using S = typename V::Compute;
  constexpr size_t kN = sizeof...(State);
  P* p = static_cast<P*>(slot.param);
  P* g = static_cast<P*>(slot.grad);
  float* master = V::kUsesMaster ? slot.master : nullptr;
  const S scale = static_cast<S>(slot.grad_scale);
  const uint64_t stream = slot.random_stream;
  const std::array<S*, kN> base = {state...};
  constexpr bool kStageable = std::is_same_v<P, float> && std::is_same_v<S, float>;
  bool staged = false;
  if constexpr (kStageable) {
    for (const StateStorage s : storage) staged |= s != StateStorage::kCompute;
  }
  alignas(64) S stage[kN > 0 ? kN : 1][kStage];
  // One call of Elements, so that every element of every range runs through the same code: the bits of a
  // NaN result may depend on the instructions (IEEE 754 leaves them open), and must not on the thread count.
#if defined(__AVX512F__)
  const bool prefetch = end - begin >= kPrefetchMin;
#else
  // Only the AVX-512 copy prefetches: that is where it was measured to pay; on the AVX2 machine it slowed
  // the loops in cache and gained nothing from memory (docs/performance.md, "Measurements behind the code").
  const bool prefetch = false;
#endif
  // Requests the lines of every stream from element `ahead` for kBlock elements.
  const auto prefetch_at = [&](int64_t ahead) {
    PrefetchBlock<V::kUnscale>(g + ahead);
    PrefetchBlock<true>(p + ahead);
    if constexpr (V::kUsesMaster) PrefetchBlock<true>(master + ahead);
    if constexpr (kStageable) {
      ((storage[kJ] == StateStorage::kCompute ? PrefetchBlock<true>(state + ahead)
        : IsInt8(storage[kJ])                 ? PrefetchBlock<true>(static_cast<uint8_t*>(StateAt(state, storage[kJ], ahead)))
                                              : PrefetchBlock<true>(static_cast<Half16*>(StateAt(state, storage[kJ], ahead)))),
       ...);
    } else {
      (PrefetchBlock<true>(state + ahead), ...);
    }
  };
  for (int64_t b = begin; b < end;) {
    int64_t n = end - b;
    if (kStageable && staged) {
      // A stage ends where the tensor's next multiple of kStage begins: an int8 block, whole.
      n = std::min(n, kStage - (slot.element_offset + b) % kStage);
      if (prefetch && end - b >= kPrefetchAhead + n) {
        for (int64_t o = 0; o < n; o += kBlock) prefetch_at(b + kPrefetchAhead + o);
      }
    } else if (prefetch && n >= kPrefetchAhead + kBlock) {
      prefetch_at(b + kPrefetchAhead);
      n = kBlock;
    }
    std::array<S*, kN> at = {(state + b)...};
    if (kStageable && staged) {
      for (size_t j = 0; j < kN; ++j) {
        if (storage[j] == StateStorage::kCompute) continue;
        Stage(storage[j], StateAt(base[j], storage[j], b), n, stage[j], BlockMax(absmax[j], slot.element_offset, b));
        at[j] = stage[j];
      }
    }
    Elements<V>(slot.element_offset + b, n, p + b, g + b, V::kUsesMaster ? master + b : nullptr, scale, stream, update,
                at[kJ]...);
    if (kStageable && staged) {
      for (size_t j = 0; j < kN; ++j) {
        if (storage[j] != StateStorage::kCompute) {
          Unstage(storage[j], stage[j], n, StateAt(base[j], storage[j], b), slot.state_stream + j * kStreamStep,
                  slot.element_offset + b, BlockMax(absmax[j], slot.element_offset, b));
        }
      }
    }
    b += n;
  }
}

// The state buffer i of a slot, typed for the variant.
template <class V>
inline typename V::Compute* StatePtr(const Slot& slot, int i) {
  return static_cast<typename V::Compute*>(slot.state[i]);
}

}  // namespace adamant::kernels::ADAMANT_TARGET

#endif  // ADAMANT_KERNELS_LOOP_H_
