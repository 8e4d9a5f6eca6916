// Element storage types and their conversions to and from the compute type.
//
// fp32 and fp64 parameters are computed in their own type. bf16 and fp16 parameters and gradients are
// widened to float for the rule and rounded back when stored: to nearest even, NaN preserved, as PyTorch's
// conversions (never truncation), or stochastically, where the probability of rounding up is the distance
// to the lower neighbour in units of the spacing. Stochastic rounding takes its random bits from a
// counter-based hash of (stream, element index), so a step is reproducible for a seed and does not depend
// on how elements are split between threads.
//
// All conversions are integer and float operations the compiler vectorizes; none depends on the rounding
// mode register.
#ifndef ADAMANT_KERNELS_STORAGE_H_
#define ADAMANT_KERNELS_STORAGE_H_

#include <cstdint>
#include <cstring>

namespace adamant::kernels {

// Forced inline: with every storage, rounding and loss-scaling variant in one kernel source, GCC's inlining
// budget runs out and a conversion left as a call keeps its loop from vectorizing.
#define ADAMANT_KERNEL_INLINE inline __attribute__((always_inline))

// bf16 and fp16 values as the kernels see them: 16-bit patterns (plain integers, which vectorize).
using Half16 = uint16_t;

ADAMANT_KERNEL_INLINE uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
ADAMANT_KERNEL_INLINE float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Every conversion below is straight-line code: each case is computed and the result selected, so the
// loops that use them vectorize.

// --- bfloat16 ---------------------------------------------------------------------------------------------

ADAMANT_KERNEL_INLINE float BFloat16ToFloat(uint16_t h) { return BitsFloat(static_cast<uint32_t>(h) << 16); }

// Round to nearest even; NaN stays NaN (quieted), as c10::BFloat16's round_to_nearest_even.
ADAMANT_KERNEL_INLINE uint16_t FloatToBFloat16(float f) {
  const uint32_t u = FloatBits(f);
  const bool is_nan = f != f;  // one compare; the integer test (|u| > inf's bits) took two operations
  // Selected in 32 bits and shifted last: with the choice made between the 16-bit results, GCC narrowed
  // both and the NaN mask to 16 bits before selecting, packing three vectors instead of one.
  const uint32_t wide = is_nan ? (u | 0x00400000u) : (u + 0x7FFFu + ((u >> 16) & 1u));
  return static_cast<uint16_t>(wide >> 16);
}

// Stochastic: add 16 random bits below the kept ones and truncate. Inf and NaN take the nearest-even path.
ADAMANT_KERNEL_INLINE uint16_t FloatToBFloat16Stochastic(float f, uint32_t random) {
  const uint32_t u = FloatBits(f);
  const bool special = (u & 0x7F800000u) == 0x7F800000u;
  const uint32_t up = (u + (random & 0xFFFFu)) >> 16;
  return special ? FloatToBFloat16(f) : static_cast<uint16_t>(up);
}

// --- float16 (IEEE binary16) -----------------------------------------------------------------------------

ADAMANT_KERNEL_INLINE float Float16ToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t man = h & 0x3FFu;
  // Normal: rebias the exponent. Subnormal: man * 2^-24, exact in float. Inf/NaN: all-ones exponent.
  const uint32_t normal = sign | ((exp + 112u) << 23) | (man << 13);
  const uint32_t subnormal = sign | FloatBits(static_cast<float>(man) * 5.9604644775390625e-08f);  // 2^-24
  const uint32_t special = sign | 0x7F800000u | (man << 13);
  const uint32_t bits = exp == 0 ? subnormal : (exp == 31 ? special : normal);
  return BitsFloat(bits);
}

// Round to nearest even, overflow to inf, subnormals, NaN preserved (quieted).
ADAMANT_KERNEL_INLINE uint16_t FloatToFloat16(float f) {
  const uint32_t u = FloatBits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7FFFFFFFu;
  const uint32_t nan = 0x7E00u | ((a >> 13) & 0x3FFu);
  // Normal result: rebias the exponent (127 -> 15) and round the 13 dropped bits to nearest even.
  const uint32_t rebased = a - 0x38000000u;
  const uint32_t normal = (rebased + 0xFFFu + ((rebased >> 13) & 1u)) >> 13;
  // Subnormal or zero result: |f| * 2^24 rounded to an integer; adding 2^23 (exact) makes the float
  // addition do that rounding, to nearest even.
  const float scaled = BitsFloat(a < 0x38800000u ? a : 0u) * 16777216.0f;
  const uint32_t subnormal = FloatBits(scaled + 8388608.0f) - 0x4B000000u;
  const uint32_t h = a > 0x7F800000u   ? nan
                     : a >= 0x477FF000u ? 0x7C00u  // >= 65520 rounds to inf (65504 is the largest finite)
                     : a >= 0x38800000u ? normal
                                        : subnormal;
  return static_cast<uint16_t>(sign | h);
}

// Stochastic rounding to float16: a random offset below the kept bits instead of the half-way constant.
// From 65536 up (and inf, NaN) there is no finite upper neighbour: those take the nearest-even path.
ADAMANT_KERNEL_INLINE uint16_t FloatToFloat16Stochastic(float f, uint32_t random) {
  const uint32_t u = FloatBits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7FFFFFFFu;
  const uint32_t rebased = a - 0x38000000u;
  const uint32_t normal_raw = (rebased + (random & 0x1FFFu)) >> 13;
  const uint32_t normal = normal_raw > 0x7C00u ? 0x7C00u : normal_raw;
  // Subnormal range: the integer part of |f| * 2^24 plus a uniform offset in [0, 1). In double, where the
  // sum is exact (at most 34 significant bits): in float it could round n + 0.99... up to n + 1 and move
  // an exactly representable value.
  const double scaled = static_cast<double>(BitsFloat(a < 0x38800000u ? a : 0u)) * 16777216.0;
  const double offset = static_cast<double>(random >> 8) * 5.9604644775390625e-08;  // 24 bits -> [0, 1)
  const uint32_t subnormal = static_cast<uint32_t>(static_cast<int32_t>(scaled + offset));
  const uint32_t h = a >= 0x47800000u ? FloatToFloat16(f) & 0x7FFFu : (a >= 0x38800000u ? normal : subnormal);
  return static_cast<uint16_t>(sign | h);
}

// --- random bits for stochastic rounding -------------------------------------------------------------------

// murmur3's 32-bit finalizer over (stream, index): independent of the thread split.
ADAMANT_KERNEL_INLINE uint32_t RandomBits(uint64_t stream, uint64_t index) {
  uint32_t h = static_cast<uint32_t>(index) ^ static_cast<uint32_t>(stream);
  h += static_cast<uint32_t>(stream >> 32) ^ (static_cast<uint32_t>(index >> 32) * 0x9E3779B9u);
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

}  // namespace adamant::kernels

#endif  // ADAMANT_KERNELS_STORAGE_H_
