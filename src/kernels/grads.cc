// Kernels over gradients alone: the non-finite check that runs before a step, and the reductions and
// in-place updates of gradient clipping.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/loop.h"
#include "kernels/target.h"
#include "rules/common.h"

namespace adamant::kernels::ADAMANT_TARGET {
namespace {

// The storage's element as an unsigned integer, and whether its exponent field is all ones (inf, NaN):
// (exponent + 1) >> width is 1 exactly then. Integer shifts, ands and ors vectorize on every target,
// where a 64-bit max does not on AVX2.
template <class T>
struct Bits;
template <>
struct Bits<float> {
  static uint32_t NonFinite(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return (((u >> 23) & 0xFFu) + 1u) >> 8;
  }
};
template <>
struct Bits<double> {
  static uint64_t NonFinite(double x) {
    uint64_t u;
    std::memcpy(&u, &x, 8);
    return (((u >> 52) & 0x7FFu) + 1u) >> 11;
  }
};

template <Storage kFormat>
uint16_t HalfNonFinite(Half16 h) {
  if constexpr (kFormat == Storage::kBFloat16) {
    return static_cast<uint16_t>((((h >> 7) & 0xFFu) + 1u) >> 8);
  } else {
    return static_cast<uint16_t>((((h >> 10) & 0x1Fu) + 1u) >> 5);
  }
}

// 1 if x (the gradient element, divided by scale when kDivide) is not finite.
template <class V, bool kDivide>
auto NonFiniteAt(const typename V::Param* __restrict g, int64_t i, typename V::Compute scale) {
  using P = typename V::Param;
  using S = typename V::Compute;
  if constexpr (kDivide) {
    S x;
    if constexpr (std::is_same_v<P, S>) {
      x = g[i];
    } else {
      x = Load<V::kStorage>(g[i]);
    }
    return Bits<S>::NonFinite(x / scale);
  } else if constexpr (std::is_same_v<P, S>) {
    return Bits<S>::NonFinite(g[i]);
  } else {
    return HalfNonFinite<V::kStorage>(g[i]);
  }
}

// kDivide: the check is on grad / scale (only needed when scale < 1, where the quotient can overflow;
// for scale >= 1 a finite gradient has a finite quotient and a non-finite one a non-finite quotient).
// The range is read as four interleaved streams, one per quarter: a single stream leaves part of the
// memory bandwidth of a core unused (docs/performance.md, "Measurements behind the code").
template <class V, bool kDivide>
bool AllFiniteRange(const Slot& slot, int64_t begin, int64_t end) {
  using P = typename V::Param;
  using S = typename V::Compute;
  const P* __restrict g = static_cast<const P*>(slot.grad);
  const S scale = static_cast<S>(slot.grad_scale);
  decltype(NonFiniteAt<V, kDivide>(g, 0, scale)) bad = 0;
  const int64_t quarter = (end - begin) / 4;
  const P* __restrict g0 = g + begin;
  for (int64_t i = 0; i < quarter; ++i) {
    bad |= NonFiniteAt<V, kDivide>(g0, i, scale) | NonFiniteAt<V, kDivide>(g0, quarter + i, scale) |
           NonFiniteAt<V, kDivide>(g0, 2 * quarter + i, scale) | NonFiniteAt<V, kDivide>(g0, 3 * quarter + i, scale);
  }
  for (int64_t i = begin + 4 * quarter; i < end; ++i) bad |= NonFiniteAt<V, kDivide>(g, i, scale);
  return bad == 0;
}

// The gradient element widened to the compute type (exact).
template <class V>
typename V::Compute Widen(typename V::Param x) {
  if constexpr (std::is_same_v<typename V::Param, typename V::Compute>) {
    return x;
  } else {
    return Load<V::kStorage>(x);
  }
}

constexpr int kLanes = 16;
constexpr int kStreams = 4;

// The sum over [begin, end) of f(x) in double, x the element widened. The range is read as four
// interleaved streams (its quarters, each a multiple of 16 elements long; a single stream leaves a core's
// memory bandwidth unused), each summed into 16 accumulators, element k of a quarter into accumulator
// k % 16, and a tail; the 64 accumulators and the tail are then added in index order. The order of every
// addition is fixed by the source, so the vectorized and the scalar code give the same bits.
template <class V, class F>
double SumLanes(const typename V::Param* __restrict g, int64_t begin, int64_t end, F f) {
  double acc[kStreams][kLanes] = {};
  const int64_t quarter = (end - begin) / (kStreams * kLanes) * kLanes;
  const typename V::Param* __restrict g0 = g + begin;
  for (int64_t i = 0; i < quarter; i += kLanes) {
    for (int k = 0; k < kStreams; ++k) {
      for (int j = 0; j < kLanes; ++j) acc[k][j] += f(static_cast<double>(Widen<V>(g0[k * quarter + i + j])));
    }
  }
  double tail = 0.0;
  for (int64_t i = begin + kStreams * quarter; i < end; ++i) tail += f(static_cast<double>(Widen<V>(g[i])));
  double sum = 0.0;
  for (int k = 0; k < kStreams; ++k) {
    for (int j = 0; j < kLanes; ++j) sum += acc[k][j];
  }
  return sum + tail;
}

// The magnitude bits of the storage's element: for these sign-magnitude formats, the order of |x| is
// the order of its bits as an unsigned integer, with every NaN above infinity.
template <class V>
struct AbsBits;
template <Storage kF>
struct AbsBits<Variant<float, float, kF>> {
  using U = uint32_t;
  static constexpr U kInfBits = 0x7F800000u;
  static U Of(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return u & 0x7FFFFFFFu;
  }
  static double Value(U u) {
    float x;
    std::memcpy(&x, &u, 4);
    return x;
  }
};
template <Storage kF>
struct AbsBits<Variant<double, double, kF>> {
  using U = uint64_t;
  static constexpr U kInfBits = 0x7FF0000000000000u;
  static U Of(double x) {
    uint64_t u;
    std::memcpy(&u, &x, 8);
    return u & 0x7FFFFFFFFFFFFFFFu;
  }
  static double Value(U u) {
    double x;
    std::memcpy(&x, &u, 8);
    return x;
  }
};
template <Storage kF>
struct AbsBits<Variant<Half16, float, kF>> {
  using U = uint16_t;
  static constexpr U kInfBits = kF == Storage::kBFloat16 ? 0x7F80u : 0x7C00u;
  static U Of(Half16 h) { return static_cast<U>(h & 0x7FFFu); }
  static double Value(U u) { return Load<kF>(u); }
};

// max |x| (kMax) or min |x| over [begin, end), exact; NaN if any element is NaN. Integer maxima and
// minima of the magnitude bits: they vectorize, and a NaN's bits exceed every number's.
template <class V, bool kMax>
double ExtremeAbs(const typename V::Param* __restrict g, int64_t begin, int64_t end) {
  using A = AbsBits<V>;
  using U = typename A::U;
  U extreme = kMax ? U{0} : A::kInfBits;
  U nan = 0;  // min only: a NaN would not win a minimum
  for (int64_t i = begin; i < end; ++i) {
    const U u = A::Of(g[i]);
    if constexpr (kMax) {
      extreme = u > extreme ? u : extreme;
    } else {
      extreme = u < extreme ? u : extreme;
      nan |= static_cast<U>(u > A::kInfBits);
    }
  }
  if (nan != 0) return std::numeric_limits<double>::quiet_NaN();
  return A::Value(extreme);
}

template <class V>
double NormRange(const Slot& slot, int64_t begin, int64_t end, NormKind kind, double p) {
  const auto* g = static_cast<const typename V::Param*>(slot.grad);
  switch (kind) {
    case NormKind::kTwo:
      return SumLanes<V>(g, begin, end, [](double x) { return x * x; });
    case NormKind::kOne:
      return SumLanes<V>(g, begin, end, [](double x) { return std::fabs(x); });
    case NormKind::kZero:
      return SumLanes<V>(g, begin, end, [](double x) { return x != 0.0 ? 1.0 : 0.0; });
    case NormKind::kP:
      return SumLanes<V>(g, begin, end, [p](double x) { return std::pow(std::fabs(x), p); });
    case NormKind::kInf:
      return ExtremeAbs<V, true>(g, begin, end);
    case NormKind::kNegInf:
      return ExtremeAbs<V, false>(g, begin, end);
  }
  return 0.0;
}

// Calls f(Variant) for the slot's storage, ignoring master and rounding (gradients are rounded to
// nearest even).
template <class F>
void ForGradStorage(const Slot& slot, F&& f) {
  switch (slot.storage) {
    case Storage::kFloat32:
      return f(Variant<float, float, Storage::kFloat32>{});
    case Storage::kFloat64:
      return f(Variant<double, double, Storage::kFloat64>{});
    case Storage::kBFloat16:
      return f(Variant<Half16, float, Storage::kBFloat16>{});
    case Storage::kFloat16:
      return f(Variant<Half16, float, Storage::kFloat16>{});
  }
}

// Applies x = op(x) in the compute type to the gradient elements of [begin, end), rounding back.
template <class V, class Op>
void MapGrad(const Slot& slot, int64_t begin, int64_t end, Op op) {
  using P = typename V::Param;
  P* __restrict g = static_cast<P*>(slot.grad);
  for (int64_t i = begin; i < end; ++i) {
    if constexpr (std::is_same_v<P, typename V::Compute>) {
      g[i] = op(g[i]);
    } else {
      g[i] = Round<V::kStorage>(op(Load<V::kStorage>(g[i])));
    }
  }
}

}  // namespace

bool AllFinite(const Slot& slot, int64_t begin, int64_t end) {
  bool finite = true;
  ForGradStorage(slot, [&](auto v) {
    using V = decltype(v);
    using S = typename V::Compute;
    if (static_cast<S>(slot.grad_scale) < S(1)) {
      finite = AllFiniteRange<V, true>(slot, begin, end);
    } else {
      finite = AllFiniteRange<V, false>(slot, begin, end);
    }
  });
  return finite;
}

double GradNorm(const Slot& slot, int64_t begin, int64_t end, NormKind kind, double p) {
  double out = 0.0;
  ForGradStorage(slot, [&](auto v) { out = NormRange<decltype(v)>(slot, begin, end, kind, p); });
  return out;
}

void ScaleGrad(double factor, const Slot& slot, int64_t begin, int64_t end) {
  ForGradStorage(slot, [&](auto v) {
    using V = decltype(v);
    using S = typename V::Compute;
    const S f = static_cast<S>(factor);
    MapGrad<V>(slot, begin, end, [f](S x) { return x * f; });
  });
}

void ClampGrad(double lo_bound, double hi_bound, const Slot& slot, int64_t begin, int64_t end) {
  ForGradStorage(slot, [&](auto v) {
    using V = decltype(v);
    using S = typename V::Compute;
    // As torch: the bounds are converted to the gradient's dtype (for bf16/fp16, via float), then
    // clamp_min and clamp_max, each propagating NaN (from the element or the bound).
    S lo = static_cast<S>(lo_bound);
    S hi = static_cast<S>(hi_bound);
    if constexpr (!std::is_same_v<typename V::Param, S>) {
      lo = Load<V::kStorage>(Round<V::kStorage>(lo));
      hi = Load<V::kStorage>(Round<V::kStorage>(hi));
    }
    MapGrad<V>(slot, begin, end, [lo, hi](S x) { return rules::Minimum(rules::Maximum(x, lo), hi); });
  });
}

}  // namespace adamant::kernels::ADAMANT_TARGET
