// The per-element rules (src/rules) and the kernels that loop over them (src/kernels).
//
// 1. "The double instantiation is the oracle" (docs/design.md): for every rule and every combination of its
//    compile-time modes, the float instantiation is run on random inputs (zeros, tiny ~1e-30, huge ~1e18,
//    negative, NaN and inf gradients) and compared with the double instantiation on the same inputs and the
//    same host scalars before their rounding to float.
//
//    The bound. Each float operation rounds once: a relative error of at most u = 2^-24 (half an ulp), plus
//    2^-150 where the result is subnormal, and each scalar carries its own rounding from double. A rule is a
//    handful of such operations per element (4 to 9), so where no operation cancels, every output lands
//    within a few ulps of the double result (the test prints the largest error seen, in ulps). A flat ulp
//    bound would be wrong where operations do cancel: p + update with update ~ -p, the L2 term g + wd*p,
//    lerp's end - start, RMSprop's centered square_avg - grad_avg^2; there the error is a few ulps of the
//    *operands*, which can be any number of ulps of the result. So the bound is computed per element by a
//    first-order running error analysis (class Bound below) that follows the rule's operations: the sum of
//    each operation's rounding, propagated through the operations after it. It assumes every operation
//    rounds separately; a fused multiply-add (which PyTorch's vector kernels and our rules use in places)
//    rounds once and has a smaller error, so the bound holds for either.
//    Where that analysis cannot bound anything (a divisor or the argument of a square root whose error
//    interval contains zero, or an intermediate beyond float's range, where PyTorch's float32 would overflow
//    too), the element is skipped; the test checks that only a few are.
//
// 2. Semantics PyTorch's kernels have: NaN propagation (a NaN gradient makes the parameter NaN; maximum()
//    propagates NaN as torch.maximum), no overflow of exp_avg_sq for huge gradients thanks to
//    ((1 - beta2) * g) * g, no NaN from a mode switched off by an identity constant, torch.lerp's two forms.
//
// 3. The kernels (those of the active SIMD target) equal an element-by-element loop over the rule, bitwise,
//    for odd sizes and offsets, and touch no element outside [0, n).
//
// Modes: the rules take L2 decay and the other mode switches as template flags, and maximize and decoupled
// decay as scalars (grad_sign = -1 or +1; decay = 1 - lr * wd, or exactly 1.0 when off), both of which are
// exact when off (src/rules/common.h). The tests iterate over maximize and the three weight-decay modes
// (none, L2, decoupled; the local enum WeightDecay) and map them to those flags and scalars.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "algorithms/all.h"
#include "kernels/kernels.h"
#include "kernels/prefetch.h"
#include "rules/adadelta_rule.h"
#include "rules/adagrad_rule.h"
#include "rules/adam_rule.h"
#include "rules/adamax_rule.h"
#include "rules/common.h"
#include "rules/nadam_rule.h"
#include "rules/radam_rule.h"
#include "rules/rmsprop_rule.h"
#include "rules/lion_rule.h"
#include "rules/sgd_rule.h"

namespace adamant::rules {
namespace {

constexpr double kU = 1.0 / (1 << 24);                  // float's unit roundoff
constexpr double kEta = 0x1p-150;                       // half float's smallest subnormal
constexpr double kFloatMax = std::numeric_limits<float>::max();
constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();
constexpr float kInff = std::numeric_limits<float>::infinity();

// ---------------------------------------------------------------------------------------------------------
// Bound: the exact value (approximated in double) and a bound on |float computation - exact value|.

struct Bound {
  double v = 0;     // value of the exact computation
  double e = 0;     // error bound of the float computation
  bool lost = false;  // no bound available (see the file comment)
};

Bound Exact(float x) { return {x, 0, false}; }
// A host scalar: the double value and its float rounding.
Bound Scalar(double exact, float rounded) { return {exact, std::abs(static_cast<double>(rounded) - exact), false}; }

Bound Rounded(double v, double propagated, bool lost) {
  Bound r{v, propagated + kU * (std::abs(v) + propagated) + kEta, lost};
  if (std::isfinite(v) && std::abs(v) > kFloatMax) r.lost = true;  // float32 overflows here, as PyTorch's would
  return r;
}
Bound Neg(Bound a) { return {-a.v, a.e, a.lost}; }
Bound Abs(Bound a) { return {std::abs(a.v), a.e, a.lost}; }
Bound Add(Bound a, Bound b) { return Rounded(a.v + b.v, a.e + b.e, a.lost || b.lost); }
Bound Sub(Bound a, Bound b) { return Rounded(a.v - b.v, a.e + b.e, a.lost || b.lost); }
Bound Mul(Bound a, Bound b) {
  return Rounded(a.v * b.v, std::abs(a.v) * b.e + std::abs(b.v) * a.e + a.e * b.e, a.lost || b.lost);
}
Bound Div(Bound a, Bound b) {
  const double q = a.v / b.v;
  if (!(b.e < std::abs(b.v))) return {q, 0, true};  // the divisor may be zero
  return Rounded(q, (std::abs(b.v) * a.e + std::abs(a.v) * b.e) / (std::abs(b.v) * (std::abs(b.v) - b.e)),
                 a.lost || b.lost);
}
// The square root of a value that is computed as a sum of non-negative terms (so never negative in float).
Bound Sqrt(Bound a) {
  const double r = std::sqrt(a.v);
  if (!(a.e < a.v) && a.v + a.e > 0) {
    // The interval reaches zero: |sqrt(x) - sqrt(y)| <= sqrt(|x - y|).
    if (a.v < 0) return {r, 0, true};  // may be NaN in one type and not the other
    return {r, std::sqrt(2 * a.e) + kU * (r + std::sqrt(2 * a.e)), a.lost};
  }
  const double lo = std::sqrt(std::max(a.v - a.e, 0.0)), hi = std::sqrt(a.v + a.e);
  const double prop = std::max(hi - r, r - lo);
  return {r, prop + kU * (std::abs(r) + prop), a.lost};  // sqrt is correctly rounded and never underflows
}
// The square root of a difference, which float may round below zero (NaN) where the exact value is not.
Bound SqrtOfDifference(Bound a) {
  if (!(a.e <= a.v)) return {std::sqrt(a.v), 0, true};
  return Sqrt(a);
}
Bound Max(Bound a, Bound b) {  // torch.maximum; 1-Lipschitz in each argument
  const double v = (std::isnan(a.v) || std::isnan(b.v)) ? std::numeric_limits<double>::quiet_NaN() : std::max(a.v, b.v);
  return {v, std::max(a.e, b.e), a.lost || b.lost};
}
// base + coeff * (end - start), on the float path's branch (from_start as the float scalars chose it).
Bound LerpBound(Bound start, Bound end, double weight, const LerpScalars<float>& f) {
  const bool from_start = f.from_start != 0.0f;
  const double coeff = from_start ? weight : -(1.0 - weight);
  return Add(from_start ? start : end, Mul(Scalar(coeff, f.coeff), Sub(end, start)));
}
Bound DecaySquareBound(Bound v, Bound beta, Bound omb, Bound g) { return Add(Mul(v, beta), Mul(Mul(omb, g), g)); }

// ---------------------------------------------------------------------------------------------------------
// Comparing one output.

float Ulp(float x) {
  x = std::abs(x);
  if (!std::isfinite(x)) return kInff;
  return std::nextafter(x, kInff) - x;
}

struct Stats {
  Stats(const char* n) : name(n) {}  // NOLINT: {"p"} in a list
  std::string name;
  int checked = 0, skipped = 0, failures = 0;
  double max_err_ulps = 0;   // largest |float - double| seen, in ulps of the double rounded to float
  double max_ratio = 0;      // largest |float - double| / bound
  std::vector<double> bound_ulps;  // the bound of each checked finite element, in ulps of the result
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// `context` is printed on failure (the inputs).
void CheckOutput(Stats& st, float f, double d, const Bound& b, const std::string& context) {
  bool ok = true;
  std::string why;
  if (b.lost) {
    ++st.skipped;
    return;
  }
  if (std::isnan(d)) {
    ok = std::isnan(f);
    why = "expected NaN";
  } else if (std::isinf(d)) {
    ok = f == static_cast<float>(d);
    why = "expected the same infinity";
  } else if (!std::isfinite(b.e)) {
    ++st.skipped;
    return;
  } else {
    const double err = std::abs(static_cast<double>(f) - d);
    ok = err <= b.e * (1 + 1e-9) + 1e-300;
    why = "error beyond the bound " + std::to_string(b.e);
    if (ok) {
      const float fd = static_cast<float>(d);
      if (std::isfinite(fd)) {
        st.max_err_ulps = std::max(st.max_err_ulps, static_cast<double>(std::abs(f - fd) / Ulp(fd)));
        st.bound_ulps.push_back(b.e / Ulp(fd));
      }
      if (b.e > 0) st.max_ratio = std::max(st.max_ratio, err / b.e);
    }
    // The bound follows the same operations in double: its value must be the double result.
    if (ok && !(std::abs(b.v - d) <= 1e-3 * b.e + 1e-12 * std::abs(d) + 1e-300)) {
      ok = false;
      why = "test's mirror of the rule computes " + std::to_string(b.v);
    }
  }
  ++st.checked;
  if (!ok && ++st.failures <= 5) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s: float %.9g, double %.17g: ", st.name.c_str(), f, d);
    ADD_FAILURE() << buf << why << "\n  inputs: " << context;
  }
}

void Report(const std::vector<Stats>& all, const std::string& what) {
  for (const Stats& st : all) {
    EXPECT_GT(st.checked, 0) << what << " " << st.name;
    // Skipped elements are those whose float computation has no bound at all; they must stay rare.
    EXPECT_LE(st.skipped, (st.checked + st.skipped) / 10) << what << " " << st.name << ": too many skipped";
  }
}

// ---------------------------------------------------------------------------------------------------------
// Random inputs.

class Inputs {
 public:
  explicit Inputs(uint32_t seed) : rng_(seed) {}

  // A finite value of any sign and magnitude, with the special values PyTorch sees in practice.
  float Value() {
    const int kind = Int(0, 99);
    if (kind < 5) return 0.0f;
    if (kind < 7) return -0.0f;
    if (kind < 12) return Sign() * 1e-30f * Uniform(1, 10);
    if (kind < 17) return Sign() * 1e18f * Uniform(1, 10);
    return Sign() * static_cast<float>(std::pow(10.0, Uniform(-8, 3)) * Uniform(1, 10));
  }
  // A gradient: also NaN and infinities, and the occasional 1e19.
  float Grad() {
    const int kind = Int(0, 99);
    if (kind < 2) return kNaNf;
    if (kind < 4) return kInff;
    if (kind < 5) return -kInff;
    if (kind < 7) return Sign() * 1e19f;
    return Value();
  }
  // A second-moment-like state: non-negative, a square of a Value() (so 0, tiny, or up to ~1e38).
  float Square() {
    const float x = Value();
    return std::min(static_cast<float>(static_cast<double>(x) * x), 1e38f);
  }
  float Param() {
    if (Int(0, 199) == 0) return Sign() * kInff;
    return Value();
  }
  double Uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  float Sign() { return Int(0, 1) ? 1.0f : -1.0f; }
  // Typical hyperparameters.
  double Lr() { return std::pow(10.0, Uniform(-4, 0)); }
  double Beta() {
    const int k = Int(0, 3);
    return k == 0 ? 0.0 : k == 1 ? 0.9 : k == 2 ? 0.999 : Uniform(0, 1);
  }
  double Eps() { return std::pow(10.0, Uniform(-10, -2)); }
  double Wd() { return std::pow(10.0, Uniform(-4, 0)); }
  int Step() { return Int(1, 200); }

 private:
  std::mt19937 rng_;
};

std::string Describe(std::initializer_list<std::pair<const char*, double>> values) {
  std::string s;
  char buf[64];
  for (const auto& [name, v] : values) {
    std::snprintf(buf, sizeof buf, "%s=%.9g ", name, v);
    s += buf;
  }
  return s;
}

// Calls f(std::bool_constant<b1>{}, ..., std::bool_constant<bN>{}) for all 2^N combinations.
template <class F, class... B>
void ForAllBoolsImpl(std::integral_constant<int, 0>, F& f, B... b) {
  f(b...);
}
template <int N, class F, class... B>
void ForAllBoolsImpl(std::integral_constant<int, N>, F& f, B... b) {
  ForAllBoolsImpl(std::integral_constant<int, N - 1>{}, f, b..., std::false_type{});
  ForAllBoolsImpl(std::integral_constant<int, N - 1>{}, f, b..., std::true_type{});
}
template <int N, class F>
void ForAllBools(F f) {
  ForAllBoolsImpl(std::integral_constant<int, N>{}, f);
}

// The modes that are scalars of the rules (src/rules/common.h): maximize is grad_sign (-1 or +1, and
// g * grad_sign is exactly -g or g), decoupled decay is decay (1 - lr * wd, or exactly 1.0 when off, and
// p * 1 is exactly p). The tests still iterate over them as modes.
double GradSign(bool maximize) { return maximize ? -1.0 : 1.0; }

// How weight decay enters an update: L2 is the rules' kL2 template flag, decoupled is their decay scalar.
enum class WeightDecay {
  kNone,
  kL2,         // g += wd * p (torch: grad.add(param, alpha=wd))
  kDecoupled,  // p *= 1 - lr * wd before the update (AdamW)
};
constexpr bool IsL2(WeightDecay wd) { return wd == WeightDecay::kL2; }
// The decay scalar: 1 - lr * wd when decoupled, else exactly 1.
double Decay(WeightDecay mode, double lr, double wd) { return mode == WeightDecay::kDecoupled ? 1 - lr * wd : 1.0; }

template <class F>
void ForAllWeightDecays(F f) {
  f(std::integral_constant<WeightDecay, WeightDecay::kNone>{});
  f(std::integral_constant<WeightDecay, WeightDecay::kL2>{});
  f(std::integral_constant<WeightDecay, WeightDecay::kDecoupled>{});
}

constexpr int kScalarSets = 8;     // random hyperparameters per mode combination
constexpr int kElements = 400;     // random elements per hyperparameter set

// ---------------------------------------------------------------------------------------------------------
// Host scalars of each rule, in double and rounded to float, as the functional layer makes them.

struct AdamHost {
  double lr, b1, b2, eps, wd;
  int t;
  bool eps_hat;
  WeightDecay mode = WeightDecay::kNone;
  bool maximize = false;
  template <typename T>
  AdamScalars<T> Make() const {
    const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
    const double step = eps_hat ? lr * std::sqrt(bc2) / bc1 : lr / bc1;
    return {static_cast<T>(GradSign(maximize)), static_cast<T>(wd), static_cast<T>(Decay(mode, lr, wd)),
            MakeLerp<T>(1 - b1), static_cast<T>(b2), static_cast<T>(1 - b2), MakeDivisor<T>(std::sqrt(bc2)),
            static_cast<T>(-step), static_cast<T>(eps)};
  }
};

TEST(RuleOracle, Adam) {
  Inputs in(1);
  std::vector<Stats> stats = {{"p"}, {"exp_avg"}, {"exp_avg_sq"}, {"max_exp_avg_sq"}};
  ForAllWeightDecays([&](auto wd) {
    ForAllBools<3>([&](auto maximize, auto amsgrad, auto eps_hat) {
      for (int set = 0; set < kScalarSets; ++set) {
        const AdamHost h{in.Lr(), in.Beta(), in.Beta(), in.Eps(), in.Wd(), in.Step(), eps_hat(), wd(), maximize()};
        const AdamScalars<float> sf = h.Make<float>();
        const AdamScalars<double> sd = h.Make<double>();
        for (int i = 0; i < kElements; ++i) {
          const float p0 = in.Param(), g0 = in.Grad(), m0 = in.Value(), v0 = in.Square(), x0 = in.Square();
          float p = p0, m = m0, v = v0, x = x0;
          double pd = p0, md = m0, vd = v0, xd = x0;
          AdamUpdate<DivisionOps, IsL2(wd()), amsgrad(), eps_hat()>(sf, p, g0, m, v, x);
          AdamUpdate<DivisionOps, IsL2(wd()), amsgrad(), eps_hat()>(sd, pd, static_cast<double>(g0), md, vd, xd);
          // The bound, following AdamUpdate's operations. g * grad_sign is exact (-g or g), and so is
          // p * decay when decoupled decay is off (decay is exactly 1): neither adds a rounding.
          Bound bp = Exact(p0), bg = Exact(g0);
          if (maximize()) bg = Neg(bg);
          if (wd() == WeightDecay::kDecoupled) bp = Mul(bp, Scalar(1 - h.lr * h.wd, sf.moments.decay));
          if (wd() == WeightDecay::kL2) bg = Add(bg, Mul(Scalar(h.wd, sf.moments.weight_decay), bp));
          const Bound bm = LerpBound(Exact(m0), bg, 1 - h.b1, sf.moments.lerp1);
          const Bound bv = DecaySquareBound(Exact(v0), Scalar(h.b2, sf.moments.beta2), Scalar(1 - h.b2, sf.moments.one_minus_beta2), bg);
          Bound bused = bv, bx = Exact(x0);
          if (amsgrad()) bused = bx = Max(Exact(x0), bv);
          const Bound eps = Scalar(h.eps, sf.eps);
          const Bound denom = eps_hat() ? Add(Sqrt(bused), eps)
                                        : Add(Div(Sqrt(bused), Scalar(sd.bc2_sqrt.value, sf.bc2_sqrt.value)), eps);
          bp = Add(bp, Div(Mul(Scalar(sd.neg_step_size, sf.neg_step_size), bm), denom));
          const std::string ctx = Describe({{"p", p0}, {"g", g0}, {"m", m0}, {"v", v0}, {"v_max", x0}, {"lr", h.lr},
                                            {"b1", h.b1}, {"b2", h.b2}, {"eps", h.eps}, {"wd", h.wd}, {"t", h.t}}) +
                                  "modes " + std::to_string(maximize()) + std::to_string(static_cast<int>(wd())) +
                                  std::to_string(amsgrad()) + std::to_string(eps_hat());
          CheckOutput(stats[0], p, pd, bp, ctx);
          CheckOutput(stats[1], m, md, bm, ctx);
          CheckOutput(stats[2], v, vd, bv, ctx);
          if (amsgrad()) CheckOutput(stats[3], x, xd, bx, ctx);
        }
      }
    });
  });
  Report(stats, "adam");
  for (const Stats& st : stats) {
    std::printf("[adam] %-15s bound: median %.1f ulps, 99%% %.0f ulps; largest error %.0f ulps, %.3f of its bound; %d checked, %d skipped\n", st.name.c_str(), Percentile(st.bound_ulps, 0.5), Percentile(st.bound_ulps, 0.99), st.max_err_ulps, st.max_ratio, st.checked, st.skipped);
  }
}

TEST(RuleOracle, Adamax) {
  Inputs in(2);
  std::vector<Stats> stats = {{"p"}, {"exp_avg"}, {"exp_inf"}};
  ForAllBools<3>([&](auto maximize, auto l2, auto eps_outside) {
    for (int set = 0; set < kScalarSets; ++set) {
      const double lr = in.Lr(), b1 = in.Beta(), b2 = in.Beta(), eps = in.Eps(), wd = in.Wd();
      const double clr = lr / (1 - std::pow(b1, in.Step()));
      auto make = [&](auto zero) {
        using T = decltype(zero);
        return AdamaxScalars<T>{static_cast<T>(GradSign(maximize())), static_cast<T>(wd), MakeLerp<T>(1 - b1),
                                static_cast<T>(b2), static_cast<T>(eps), static_cast<T>(-clr)};
      };
      const AdamaxScalars<float> sf = make(0.0f);
      const AdamaxScalars<double> sd = make(0.0);
      for (int i = 0; i < kElements; ++i) {
        const float p0 = in.Param(), g0 = in.Grad(), m0 = in.Value(), u0 = std::abs(in.Value());
        float p = p0, m = m0, u = u0;
        double pd = p0, md = m0, ud = u0;
        AdamaxUpdate<l2(), eps_outside()>(sf, p, g0, m, u);
        AdamaxUpdate<l2(), eps_outside()>(sd, pd, static_cast<double>(g0), md, ud);
        Bound bp = Exact(p0), bg = Exact(g0);
        if (maximize()) bg = Neg(bg);
        if (l2()) bg = Add(bg, Mul(Scalar(wd, sf.weight_decay), bp));
        const Bound bm = LerpBound(Exact(m0), bg, 1 - b1, sf.lerp1);
        const Bound beps = Scalar(eps, sf.eps), decayed = Mul(Exact(u0), Scalar(b2, sf.beta2));
        Bound bu;
        if (eps_outside()) {
          bu = Max(decayed, Abs(bg));
          bp = Add(bp, Div(Mul(Scalar(-clr, sf.neg_clr), bm), Add(bu, beps)));
        } else {
          bu = Max(decayed, Add(Abs(bg), beps));
          bp = Add(bp, Div(Mul(Scalar(-clr, sf.neg_clr), bm), bu));
        }
        const std::string ctx = Describe({{"p", p0}, {"g", g0}, {"m", m0}, {"u", u0}, {"b1", b1}, {"b2", b2},
                                          {"eps", eps}, {"wd", wd}});
        CheckOutput(stats[0], p, pd, bp, ctx);
        CheckOutput(stats[1], m, md, bm, ctx);
        CheckOutput(stats[2], u, ud, bu, ctx);
      }
    }
  });
  Report(stats, "adamax");
  for (const Stats& st : stats) {
    std::printf("[adamax] %-13s bound: median %.1f ulps, 99%% %.0f ulps; largest error %.0f ulps, %.3f of its bound; %d checked, %d skipped\n", st.name.c_str(), Percentile(st.bound_ulps, 0.5), Percentile(st.bound_ulps, 0.99), st.max_err_ulps, st.max_ratio, st.checked, st.skipped);
  }
}

TEST(RuleOracle, NAdam) {
  Inputs in(3);
  std::vector<Stats> stats = {{"p"}, {"exp_avg"}, {"exp_avg_sq"}};
  ForAllWeightDecays([&](auto wd_mode) {
    ForAllBools<2>([&](auto maximize, auto eps_hat) {
      for (int set = 0; set < kScalarSets; ++set) {
        const double lr = in.Lr(), b1 = in.Beta(), b2 = in.Beta(), eps = in.Eps(), wd = in.Wd();
        const int t = in.Step();
        const double mu = b1 * (1 - 0.5 * std::pow(0.96, t * 0.004));
        const double mu_next = b1 * (1 - 0.5 * std::pow(0.96, (t + 1) * 0.004));
        const double mu_product = std::pow(b1 * 0.6, t - 1) * mu;  // any product of earlier mus will do
        const double bc2 = 1 - std::pow(b2, t);
        double gc = -lr * (1 - mu) / (1 - mu_product), ac = -lr * mu_next / (1 - mu_product * mu_next);
        if (eps_hat()) gc *= std::sqrt(bc2), ac *= std::sqrt(bc2);
        auto make = [&](auto zero) {
          using T = decltype(zero);
          return NAdamScalars<T>{static_cast<T>(GradSign(maximize())),
                                 static_cast<T>(wd),
                                 static_cast<T>(Decay(wd_mode(), lr, wd)),
                                 MakeLerp<T>(1 - b1),
                                 static_cast<T>(b2),
                                 static_cast<T>(1 - b2),
                                 MakeStepDivisor<T>(bc2),
                                 static_cast<T>(eps),
                                 static_cast<T>(gc),
                                 static_cast<T>(ac)};
        };
        const NAdamScalars<float> sf = make(0.0f);
        const NAdamScalars<double> sd = make(0.0);
        for (int i = 0; i < kElements; ++i) {
          const float p0 = in.Param(), g0 = in.Grad(), m0 = in.Value(), v0 = in.Square();
          float p = p0, m = m0, v = v0;
          double pd = p0, md = m0, vd = v0;
          NAdamUpdate<DivisionOps, IsL2(wd_mode()), eps_hat()>(sf, p, g0, m, v);
          NAdamUpdate<DivisionOps, IsL2(wd_mode()), eps_hat()>(sd, pd, static_cast<double>(g0), md, vd);
          Bound bp = Exact(p0), bg = Exact(g0);
          if (maximize()) bg = Neg(bg);
          if (wd_mode() == WeightDecay::kDecoupled) bp = Mul(bp, Scalar(1 - lr * wd, sf.moments.decay));
          if (wd_mode() == WeightDecay::kL2) bg = Add(bg, Mul(Scalar(wd, sf.moments.weight_decay), bp));
          const Bound bm = LerpBound(Exact(m0), bg, 1 - b1, sf.moments.lerp1);
          const Bound bv = DecaySquareBound(Exact(v0), Scalar(b2, sf.moments.beta2), Scalar(1 - b2, sf.moments.one_minus_beta2), bg);
          const Bound beps = Scalar(eps, sf.eps);
          const Bound denom = eps_hat() ? Add(Sqrt(bv), beps) : Add(Sqrt(Div(bv, Scalar(bc2, sf.bc2.value))), beps);
          bp = Add(bp, Div(Mul(Scalar(gc, sf.grad_coeff), bg), denom));
          bp = Add(bp, Div(Mul(Scalar(ac, sf.avg_coeff), bm), denom));
          const std::string ctx = Describe({{"p", p0}, {"g", g0}, {"m", m0}, {"v", v0}, {"b1", b1}, {"b2", b2},
                                            {"eps", eps}, {"wd", wd}, {"t", t}});
          CheckOutput(stats[0], p, pd, bp, ctx);
          CheckOutput(stats[1], m, md, bm, ctx);
          CheckOutput(stats[2], v, vd, bv, ctx);
        }
      }
    });
  });
  Report(stats, "nadam");
  for (const Stats& st : stats) {
    std::printf("[nadam] %-14s bound: median %.1f ulps, 99%% %.0f ulps; largest error %.0f ulps, %.3f of its bound; %d checked, %d skipped\n", st.name.c_str(), Percentile(st.bound_ulps, 0.5), Percentile(st.bound_ulps, 0.99), st.max_err_ulps, st.max_ratio, st.checked, st.skipped);
  }
}

TEST(RuleOracle, RAdam) {
  Inputs in(4);
  std::vector<Stats> stats = {{"p"}, {"exp_avg"}, {"exp_avg_sq"}};
  ForAllWeightDecays([&](auto wd_mode) {
    ForAllBools<2>([&](auto maximize, auto rectified) {
      for (int set = 0; set < kScalarSets; ++set) {
        const double lr = in.Lr(), b1 = in.Beta(), b2 = in.Beta(), eps = in.Eps(), wd = in.Wd();
        const int t = in.Step();
        const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
        const double rect = rectified() ? in.Uniform(0.01, 1.0) : 0.0;
        auto make = [&](auto zero) {
          using T = decltype(zero);
          return RAdamScalars<T>{static_cast<T>(GradSign(maximize())),
                                 static_cast<T>(wd),
                                 static_cast<T>(Decay(wd_mode(), lr, wd)),
                                 MakeLerp<T>(1 - b1),
                                 static_cast<T>(b2),
                                 static_cast<T>(1 - b2),
                                 MakeStepDivisor<T>(bc1),
                                 static_cast<T>(lr),
                                 static_cast<T>(std::sqrt(bc2)),
                                 static_cast<T>(eps),
                                 static_cast<T>(rect)};
        };
        const RAdamScalars<float> sf = make(0.0f);
        const RAdamScalars<double> sd = make(0.0);
        for (int i = 0; i < kElements; ++i) {
          const float p0 = in.Param(), g0 = in.Grad(), m0 = in.Value(), v0 = in.Square();
          float p = p0, m = m0, v = v0;
          double pd = p0, md = m0, vd = v0;
          RAdamUpdate<DivisionOps, IsL2(wd_mode()), rectified()>(sf, p, g0, m, v);
          RAdamUpdate<DivisionOps, IsL2(wd_mode()), rectified()>(sd, pd, static_cast<double>(g0), md, vd);
          Bound bp = Exact(p0), bg = Exact(g0);
          if (maximize()) bg = Neg(bg);
          if (wd_mode() == WeightDecay::kDecoupled) bp = Mul(bp, Scalar(1 - lr * wd, sf.moments.decay));
          if (wd_mode() == WeightDecay::kL2) bg = Add(bg, Mul(Scalar(wd, sf.moments.weight_decay), bp));
          const Bound bm = LerpBound(Exact(m0), bg, 1 - b1, sf.moments.lerp1);
          const Bound bv = DecaySquareBound(Exact(v0), Scalar(b2, sf.moments.beta2), Scalar(1 - b2, sf.moments.one_minus_beta2), bg);
          const Bound corrected = Div(bm, Scalar(bc1, sf.bc1.value));
          const Bound blr = Scalar(lr, sf.lr);
          if (rectified()) {
            // sqrt(bc2) / (sqrt(v) + eps), as a reciprocal and a product (the larger of the two bounds).
            const Bound adaptive =
                Mul(Div(Exact(1.0f), Add(Sqrt(bv), Scalar(eps, sf.eps))), Scalar(std::sqrt(bc2), sf.bc2_sqrt));
            bp = Sub(bp, Mul(Mul(Mul(corrected, blr), adaptive), Scalar(rect, sf.rect)));
          } else {
            bp = Sub(bp, Mul(corrected, blr));
          }
          const std::string ctx = Describe({{"p", p0}, {"g", g0}, {"m", m0}, {"v", v0}, {"b1", b1}, {"b2", b2},
                                            {"eps", eps}, {"wd", wd}, {"t", t}, {"rect", rect}});
          CheckOutput(stats[0], p, pd, bp, ctx);
          CheckOutput(stats[1], m, md, bm, ctx);
          CheckOutput(stats[2], v, vd, bv, ctx);
        }
      }
    });
  });
  Report(stats, "radam");
  for (const Stats& st : stats) {
    std::printf("[radam] %-14s bound: median %.1f ulps, 99%% %.0f ulps; largest error %.0f ulps, %.3f of its bound; %d checked, %d skipped\n", st.name.c_str(), Percentile(st.bound_ulps, 0.5), Percentile(st.bound_ulps, 0.99), st.max_err_ulps, st.max_ratio, st.checked, st.skipped);
  }
}

TEST(RuleOracle, Adagrad) {
  Inputs in(5);
  std::vector<Stats> stats = {{"p"}, {"sum"}};
  ForAllBools<2>([&](auto maximize, auto l2) {
    for (int set = 0; set < kScalarSets; ++set) {
      const double lr = in.Lr(), eps = in.Eps(), wd = in.Wd(), lr_decay = in.Uniform(0, 0.1);
      const double clr = lr / (1 + (in.Step() - 1) * lr_decay);
      auto make = [&](auto zero) {
        using T = decltype(zero);
        return AdagradScalars<T>{static_cast<T>(GradSign(maximize())), static_cast<T>(wd), static_cast<T>(eps),
                                 static_cast<T>(-clr)};
      };
      const AdagradScalars<float> sf = make(0.0f);
      const AdagradScalars<double> sd = make(0.0);
      for (int i = 0; i < kElements; ++i) {
        const float p0 = in.Param(), g0 = in.Grad(), s0 = in.Square();
        float p = p0, s = s0;
        double pd = p0, sdv = s0;
        AdagradUpdate<l2()>(sf, p, g0, s);
        AdagradUpdate<l2()>(sd, pd, static_cast<double>(g0), sdv);
        Bound bp = Exact(p0), bg = Exact(g0);
        if (maximize()) bg = Neg(bg);
        if (l2()) bg = Add(bg, Mul(Scalar(wd, sf.weight_decay), bp));
        const Bound bs = Add(Exact(s0), Mul(bg, bg));
        const Bound std_dev = Add(Sqrt(bs), Scalar(eps, sf.eps));
        bp = Add(bp, Div(Mul(Scalar(-clr, sf.neg_clr), bg), std_dev));
        const std::string ctx = Describe({{"p", p0}, {"g", g0}, {"sum", s0}, {"eps", eps}, {"wd", wd}});
        CheckOutput(stats[0], p, pd, bp, ctx);
        CheckOutput(stats[1], s, sdv, bs, ctx);
      }
    }
  });
  Report(stats, "adagrad");
  for (const Stats& st : stats) {
    std::printf("[adagrad] %-12s bound: median %.1f ulps, 99%% %.0f ulps; largest error %.0f ulps, %.3f of its bound; %d checked, %d skipped\n", st.name.c_str(), Percentile(st.bound_ulps, 0.5), Percentile(st.bound_ulps, 0.99), st.max_err_ulps, st.max_ratio, st.checked, st.skipped);
  }
}

TEST(RuleOracle, RMSprop) {
  Inputs in(6);
  std::vector<Stats> stats = {{"p"}, {"square_avg"}, {"momentum_buffer"}, {"grad_avg"}};
  ForAllBools<4>([&](auto maximize, auto l2, auto centered, auto momentum) {
    for (int set = 0; set < kScalarSets; ++set) {
      // alpha = 0 makes the centered variance exactly zero (square_avg = g^2, grad_avg = g): float32 then
      // rounds it to either side of zero, NaN or not (as in PyTorch), which is not the rule's error.
      const double alpha = centered() ? (in.Int(0, 1) ? 0.99 : in.Uniform(0.1, 0.999)) : in.Beta();
      const double lr = in.Lr(), eps = in.Eps(), wd = in.Wd(), mom = in.Uniform(0, 1);
      auto make = [&](auto zero) {
        using T = decltype(zero);
        return RMSpropScalars<T>{static_cast<T>(GradSign(maximize())), static_cast<T>(wd), static_cast<T>(alpha),
                                 static_cast<T>(1 - alpha), MakeLerp<T>(1 - alpha), static_cast<T>(eps),
                                 static_cast<T>(mom), static_cast<T>(-lr)};
      };
      const RMSpropScalars<float> sf = make(0.0f);
      const RMSpropScalars<double> sd = make(0.0);
      for (int i = 0; i < kElements; ++i) {
        // A centered state has square_avg >= grad_avg^2 (their difference estimates a variance).
        const float p0 = in.Param(), g0 = in.Grad(), b0 = in.Value(), a0 = in.Value();
        const float sq0 = centered() ? std::min(static_cast<float>(static_cast<double>(a0) * a0 * in.Uniform(1, 4)) +
                                                    in.Square(), 1e38f)
                                     : in.Square();
        float p = p0, sq = sq0, b = b0, a = a0;
        double pd = p0, sqd = sq0, bd = b0, ad = a0;
        RMSpropUpdate<l2(), centered(), momentum()>(sf, p, g0, sq, b, a);
        RMSpropUpdate<l2(), centered(), momentum()>(sd, pd, static_cast<double>(g0), sqd, bd, ad);
        Bound bp = Exact(p0), bg = Exact(g0);
        if (maximize()) bg = Neg(bg);
        if (l2()) bg = Add(bg, Mul(Scalar(wd, sf.weight_decay), bp));
        const Bound bsq = DecaySquareBound(Exact(sq0), Scalar(alpha, sf.alpha), Scalar(1 - alpha, sf.one_minus_alpha), bg);
        Bound ba = Exact(a0), avg;
        if (centered()) {
          ba = LerpBound(Exact(a0), bg, 1 - alpha, sf.lerp);
          avg = SqrtOfDifference(Sub(bsq, Mul(ba, ba)));
        } else {
          avg = Sqrt(bsq);
        }
        avg = Add(avg, Scalar(eps, sf.eps));
        Bound bb = Exact(b0);
        if (momentum()) {
          bb = Add(Mul(bb, Scalar(mom, sf.momentum)), Div(bg, avg));
          bp = Add(bp, Mul(Scalar(-lr, sf.neg_lr), bb));
        } else {
          bp = Add(bp, Div(Mul(Scalar(-lr, sf.neg_lr), bg), avg));
        }
        const std::string ctx = Describe({{"p", p0}, {"g", g0}, {"square_avg", sq0}, {"buf", b0}, {"grad_avg", a0},
                                          {"alpha", alpha}, {"eps", eps}, {"wd", wd}, {"momentum", mom}});
        CheckOutput(stats[0], p, pd, bp, ctx);
        CheckOutput(stats[1], sq, sqd, bsq, ctx);
        if (momentum()) CheckOutput(stats[2], b, bd, bb, ctx);
        if (centered()) CheckOutput(stats[3], a, ad, ba, ctx);
      }
    }
  });
  Report(stats, "rmsprop");
  for (const Stats& st : stats) {
    std::printf("[rmsprop] %-12s bound: median %.1f ulps, 99%% %.0f ulps; largest error %.0f ulps, %.3f of its bound; %d checked, %d skipped\n", st.name.c_str(), Percentile(st.bound_ulps, 0.5), Percentile(st.bound_ulps, 0.99), st.max_err_ulps, st.max_ratio, st.checked, st.skipped);
  }
}

TEST(RuleOracle, Adadelta) {
  Inputs in(7);
  std::vector<Stats> stats = {{"p"}, {"square_avg"}, {"acc_delta"}};
  ForAllBools<2>([&](auto maximize, auto l2) {
    for (int set = 0; set < kScalarSets; ++set) {
      const double lr = in.Lr(), rho = in.Beta(), eps = in.Eps(), wd = in.Wd();
      auto make = [&](auto zero) {
        using T = decltype(zero);
        return AdadeltaScalars<T>{static_cast<T>(GradSign(maximize())), static_cast<T>(wd), static_cast<T>(rho),
                                  static_cast<T>(1 - rho), static_cast<T>(eps), static_cast<T>(-lr)};
      };
      const AdadeltaScalars<float> sf = make(0.0f);
      const AdadeltaScalars<double> sd = make(0.0);
      for (int i = 0; i < kElements; ++i) {
        // acc_delta is lr-free and stays near the scale of square_avg in practice; keep it below 1e20 so
        // that delta^2 stays in float's range (above, float32 PyTorch overflows as well).
        const float p0 = in.Param(), g0 = in.Grad(), sq0 = in.Square(), acc0 = std::min(in.Square(), 1e20f);
        float p = p0, sq = sq0, acc = acc0;
        double pd = p0, sqd = sq0, accd = acc0;
        AdadeltaUpdate<l2()>(sf, p, g0, sq, acc);
        AdadeltaUpdate<l2()>(sd, pd, static_cast<double>(g0), sqd, accd);
        Bound bp = Exact(p0), bg = Exact(g0);
        if (maximize()) bg = Neg(bg);
        if (l2()) bg = Add(bg, Mul(Scalar(wd, sf.weight_decay), bp));
        const Bound brho = Scalar(rho, sf.rho), bomr = Scalar(1 - rho, sf.one_minus_rho), beps = Scalar(eps, sf.eps);
        const Bound bsq = DecaySquareBound(Exact(sq0), brho, bomr, bg);
        const Bound std_dev = Sqrt(Add(bsq, beps));
        const Bound delta = Mul(Div(Sqrt(Add(Exact(acc0), beps)), std_dev), bg);
        const Bound bacc = DecaySquareBound(Exact(acc0), brho, bomr, delta);
        bp = Add(bp, Mul(Scalar(-lr, sf.neg_lr), delta));
        const std::string ctx = Describe({{"p", p0}, {"g", g0}, {"square_avg", sq0}, {"acc_delta", acc0},
                                          {"rho", rho}, {"eps", eps}, {"wd", wd}});
        CheckOutput(stats[0], p, pd, bp, ctx);
        CheckOutput(stats[1], sq, sqd, bsq, ctx);
        CheckOutput(stats[2], acc, accd, bacc, ctx);
      }
    }
  });
  Report(stats, "adadelta");
  for (const Stats& st : stats) {
    std::printf("[adadelta] %-11s bound: median %.1f ulps, 99%% %.0f ulps; largest error %.0f ulps, %.3f of its bound; %d checked, %d skipped\n", st.name.c_str(), Percentile(st.bound_ulps, 0.5), Percentile(st.bound_ulps, 0.99), st.max_err_ulps, st.max_ratio, st.checked, st.skipped);
  }
}

TEST(RuleOracle, SGD) {
  Inputs in(8);
  std::vector<Stats> stats = {{"p"}, {"momentum_buffer"}};
  ForAllBools<5>([&](auto maximize, auto l2, auto momentum, auto first, auto nesterov) {
    for (int set = 0; set < kScalarSets; ++set) {
      const double lr = in.Lr(), mom = in.Uniform(0, 1), damp = in.Uniform(0, 1), wd = in.Wd();
      auto make = [&](auto zero) {
        using T = decltype(zero);
        return SGDScalars<T>{static_cast<T>(GradSign(maximize())), static_cast<T>(wd), static_cast<T>(mom),
                             static_cast<T>(1 - damp), static_cast<T>(-lr)};
      };
      const SGDScalars<float> sf = make(0.0f);
      const SGDScalars<double> sd = make(0.0);
      for (int i = 0; i < kElements; ++i) {
        const float p0 = in.Param(), g0 = in.Grad(), b0 = in.Value();
        float p = p0, b = b0;
        double pd = p0, bd = b0;
        SGDUpdate<l2(), momentum(), first(), nesterov()>(sf, p, g0, b);
        SGDUpdate<l2(), momentum(), first(), nesterov()>(sd, pd, static_cast<double>(g0), bd);
        Bound bp = Exact(p0), bg = Exact(g0), bb = Exact(b0);
        if (maximize()) bg = Neg(bg);
        if (l2()) bg = Add(bg, Mul(Scalar(wd, sf.weight_decay), bp));
        if (momentum()) {
          bb = first() ? bg : Add(Mul(bb, Scalar(mom, sf.momentum)), Mul(Scalar(1 - damp, sf.one_minus_dampening), bg));
          bg = nesterov() ? Add(bg, Mul(Scalar(mom, sf.momentum), bb)) : bb;
        }
        bp = Add(bp, Mul(Scalar(-lr, sf.neg_lr), bg));
        const std::string ctx =
            Describe({{"p", p0}, {"g", g0}, {"buf", b0}, {"momentum", mom}, {"dampening", damp}, {"wd", wd}});
        CheckOutput(stats[0], p, pd, bp, ctx);
        if (momentum()) CheckOutput(stats[1], b, bd, bb, ctx);
      }
    }
  });
  Report(stats, "sgd");
  for (const Stats& st : stats) {
    std::printf("[sgd] %-16s bound: median %.1f ulps, 99%% %.0f ulps; largest error %.0f ulps, %.3f of its bound; %d checked, %d skipped\n", st.name.c_str(), Percentile(st.bound_ulps, 0.5), Percentile(st.bound_ulps, 0.99), st.max_err_ulps, st.max_ratio, st.checked, st.skipped);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Lerp and Maximum.

// torch.lerp's two forms (ATen's scalar lerp): start + w * (end - start) for |w| < 0.5, else
// end - (end - start) * (1 - w); ATen's vectorized kernel computes the same two forms as one fused
// multiply-add each: fma(w, end - start, start) and fma(w - 1, end - start, end).
template <typename T>
void CheckLerp() {
  std::mt19937 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  const double weights[] = {0.0, 0.001, 0.1, 0.25, 0.4999, 0.5, 0.5001, 0.9, 0.999, 1.0, -0.3, 1.7};
  for (double w : weights) {
    const LerpScalars<T> s = MakeLerp<T>(w);
    const T wt = static_cast<T>(w);
    const bool small = std::abs(wt) < T(0.5);
    EXPECT_EQ(s.from_start, small ? T(1) : T(0)) << w;
    for (int i = 0; i < 2000; ++i) {
      const T start = static_cast<T>(normal(rng) * std::pow(10.0, normal(rng)));
      const T end = i % 7 == 0 ? start : static_cast<T>(normal(rng) * std::pow(10.0, normal(rng)));
      const T got = Lerp(start, end, s);
      const T diff = end - start;
      const T fused = small ? std::fma(wt, diff, start) : std::fma(wt - T(1), diff, end);
      EXPECT_EQ(got, fused) << "w " << w << " start " << start << " end " << end;
      // Within one rounding of the unfused two-branch formula: both are within half an ulp of the exact
      // value of the branch's expression except for the unfused product's rounding.
      const T unfused = small ? start + wt * diff : end - diff * (T(1) - wt);
      const double scale = std::abs(static_cast<double>(small ? start : end)) + std::abs(static_cast<double>(diff));
      EXPECT_LE(std::abs(static_cast<double>(got) - unfused), 2 * std::numeric_limits<T>::epsilon() * scale)
          << "w " << w << " start " << start << " end " << end;
      // The branch matters: the form that starts from the nearer end is exact at that end.
      if (w == 0.0) {
        EXPECT_EQ(got, start);
      }
      if (w == 1.0) {
        EXPECT_EQ(got, end);
      }
      if (start == end) {
        EXPECT_EQ(got, start);
      }
    }
  }
}
TEST(Lerp, TorchLerpTwoFormsFloat) { CheckLerp<float>(); }
TEST(Lerp, TorchLerpTwoFormsDouble) { CheckLerp<double>(); }

// The branch is taken on the weight, not per element; for w >= 0.5 the result is computed from end: with
// start huge and end tiny, w = 1 gives end exactly (start + 1 * (end - start) would give 0).
TEST(Lerp, LargeWeightStartsFromEnd) {
  const LerpScalars<float> one = MakeLerp<float>(1.0);
  EXPECT_EQ(Lerp(1e30f, 1.0f, one), 1.0f);
  const LerpScalars<float> zero = MakeLerp<float>(0.0);
  EXPECT_EQ(Lerp(1.0f, 1e30f, zero), 1.0f);
  // Adam's m with beta1 = 0 (weight 1): m becomes g exactly, whatever m was.
  EXPECT_EQ(Lerp(123456.0f, 1e-7f, one), 1e-7f);
}

TEST(Maximum, TorchMaximumSemantics) {
  EXPECT_EQ(Maximum(1.0f, 2.0f), 2.0f);
  EXPECT_EQ(Maximum(2.0f, 1.0f), 2.0f);
  EXPECT_EQ(Maximum(-kInff, 1.0f), 1.0f);
  EXPECT_EQ(Maximum(kInff, 1.0f), kInff);
  EXPECT_TRUE(std::isnan(Maximum(kNaNf, 1.0f)));
  EXPECT_TRUE(std::isnan(Maximum(1.0f, kNaNf)));
  EXPECT_TRUE(std::isnan(Maximum(kNaNf, kNaNf)));
  EXPECT_TRUE(std::isnan(Maximum(-kInff, kNaNf)));
  EXPECT_TRUE(std::isnan(Maximum(kNaNf, kInff)));
  EXPECT_TRUE(std::isnan(Maximum(std::numeric_limits<double>::quiet_NaN(), 0.0)));
  // std::fmax would drop the NaN; torch.maximum does not.
  EXPECT_FALSE(std::isnan(std::fmax(kNaNf, 1.0f)));
}

// ---------------------------------------------------------------------------------------------------------
// NaN and overflow semantics of whole rules.

AdamScalars<float> DefaultAdam(int t = 1, double wd = 0.1, bool eps_hat = false,
                               WeightDecay mode = WeightDecay::kNone, bool maximize = false) {
  return AdamHost{1e-3, 0.9, 0.999, 1e-8, wd, t, eps_hat, mode, maximize}.Make<float>();
}

// Lion: exp_avg against the double computation within its rounding bound; the parameter where the sign of
// the interpolation is certain (its bound excludes 0), else only its sign's effect is checked: the update
// is p * decay -/+ lr, or p * decay when the interpolation is 0.
TEST(RuleOracle, Lion) {
  Inputs in(9);
  std::vector<Stats> stats = {{"p"}, {"exp_avg"}};
  int uncertain = 0, total = 0;
  ForAllBools<1>([&](auto maximize) {
    for (int set = 0; set < kScalarSets; ++set) {
      const double lr = in.Lr(), b1 = in.Beta(), b2 = in.Beta(), wd = in.Wd();
      auto make = [&](auto zero) {
        using T = decltype(zero);
        return LionScalars<T>{static_cast<T>(GradSign(maximize())), static_cast<T>(1 - lr * wd), static_cast<T>(b1),
                              static_cast<T>(1 - b1), static_cast<T>(b2), static_cast<T>(1 - b2),
                              static_cast<T>(-lr)};
      };
      const LionScalars<float> sf = make(0.0f);
      const LionScalars<double> sd = make(0.0);
      for (int i = 0; i < kElements; ++i) {
        const float p0 = in.Param(), g0 = in.Grad(), m0 = in.Value();
        float p = p0, m = m0;
        double pd = p0, md = m0;
        LionUpdate(sf, p, g0, m);
        LionUpdate(sd, pd, static_cast<double>(g0), md);
        Bound bg = Exact(g0);
        if (maximize()) bg = Neg(bg);
        const Bound c = Add(Mul(Exact(m0), Scalar(b1, sf.beta1)), Mul(Scalar(1 - b1, sf.one_minus_beta1), bg));
        const Bound bm = Add(Mul(Exact(m0), Scalar(b2, sf.beta2)), Mul(Scalar(1 - b2, sf.one_minus_beta2), bg));
        const std::string ctx = Describe({{"p", p0}, {"g", g0}, {"exp_avg", m0}, {"lr", lr}, {"b1", b1}, {"b2", b2},
                                          {"wd", wd}});
        CheckOutput(stats[1], m, md, bm, ctx);
        ++total;
        const Bound decayed = Mul(Exact(p0), Scalar(1 - lr * wd, sf.decay));
        if (std::isnan(c.v)) {
          EXPECT_TRUE(std::isnan(p) && std::isnan(pd)) << "a NaN interpolation reaches the parameter: " << ctx;
        } else if ((std::abs(c.v) > c.e || std::isinf(c.v)) && !c.lost) {
          const double sign = c.v > 0 ? 1.0 : -1.0;
          CheckOutput(stats[0], p, pd, Add(decayed, Mul(Scalar(-lr, sf.neg_lr), Bound{sign, 0, false})), ctx);
        } else {
          // Float and double may take different signs (or 0): each is right. Counted, unless the exact
          // interpolation is 0 (the bound's last-place slack keeps that from counting as certain).
          uncertain += c.lost || c.v == 0 ? 0 : 1;
          const float q = p0 * sf.decay;
          EXPECT_TRUE(p == q || p == std::fma(sf.neg_lr, 1.0f, q) || p == std::fma(sf.neg_lr, -1.0f, q)) << ctx;
        }
      }
    }
  });
  Report(stats, "lion");
  EXPECT_LT(uncertain, total / 100) << "the sign of the interpolation was uncertain too often to test the rule";
}

TEST(RuleSemantics, LionSignOfZeroNaNAndInfinity) {
  const LionScalars<float> s{1.0f, 0.99f, 0.9f, 0.1f, 0.99f, 0.01f, -0.01f};
  float p = 2.0f, m = 0.0f;
  LionUpdate(s, p, 0.0f, m);  // interpolation 0: sign 0, the parameter only decays
  EXPECT_EQ(p, 2.0f * 0.99f);
  EXPECT_EQ(m, 0.0f);
  p = 2.0f, m = -0.0f;
  LionUpdate(s, p, -0.0f, m);  // -0 as torch.sign: +0
  EXPECT_EQ(p, 2.0f * 0.99f);
  p = 2.0f, m = 0.5f;
  LionUpdate(s, p, std::numeric_limits<float>::quiet_NaN(), m);  // NaN reaches the parameter, not frozen
  EXPECT_TRUE(std::isnan(p) && std::isnan(m));
  p = 2.0f, m = 0.5f;
  LionUpdate(s, p, std::numeric_limits<float>::infinity(), m);  // a step of lr; the momentum holds the inf
  EXPECT_EQ(p, std::fma(-0.01f, 1.0f, 2.0f * 0.99f));
  EXPECT_TRUE(std::isinf(m) && m > 0);
  // maximize is the negated gradient, bit for bit.
  const LionScalars<float> smax{-1.0f, 0.99f, 0.9f, 0.1f, 0.99f, 0.01f, -0.01f};
  float p1 = 1.5f, m1 = 0.25f, p2 = 1.5f, m2 = 0.25f;
  LionUpdate(smax, p1, 0.75f, m1);
  LionUpdate(s, p2, -0.75f, m2);
  EXPECT_EQ(p1, p2);
  EXPECT_EQ(m1, m2);
}

TEST(RuleSemantics, NaNGradientMakesEveryRuleNaN) {
  const float g = kNaNf;
  ForAllWeightDecays([&](auto wd) {
    ForAllBools<3>([&](auto maximize, auto amsgrad, auto eps_hat) {
      float p = 1, m = 0.5f, v = 0.25f, x = 0.25f;
      AdamUpdate<DivisionOps, IsL2(wd()), amsgrad(), eps_hat()>(DefaultAdam(3, 0.1, eps_hat(), wd(), maximize()), p, g, m, v, x);
      EXPECT_TRUE(std::isnan(p) && std::isnan(m) && std::isnan(v)) << "adam";
      if (amsgrad()) {
        EXPECT_TRUE(std::isnan(x)) << "amsgrad keeps the NaN (torch.maximum)";
      }
    });
  });
  {
    ForAllBools<3>([&](auto maximize, auto l2, auto outside) {
      const AdamaxScalars<float> s{maximize() ? -1.0f : 1.0f, 0.1f, MakeLerp<float>(0.1), 0.999f, 1e-8f, -1e-3f};
      float p = 1, m = 0.5f, u = 10.0f;  // u * beta2 > |g| + eps for any finite g of this size
      AdamaxUpdate<l2(), outside()>(s, p, g, m, u);
      EXPECT_TRUE(std::isnan(p) && std::isnan(m) && std::isnan(u)) << "adamax: exp_inf must be NaN (torch.maximum)";
    });
  }
  {
    ForAllWeightDecays([&](auto wd) {
      ForAllBools<2>([&](auto maximize, auto hat) {
        // decay: 0.999 when decoupled, exactly 1 otherwise.
        const float decay = wd() == WeightDecay::kDecoupled ? 0.999f : 1.0f;
        const NAdamScalars<float> s{maximize() ? -1.0f : 1.0f, 0.1f, decay, MakeLerp<float>(0.1), 0.999f, 1e-3f,
                                    MakeStepDivisor<float>(1e-3), 1e-8f, -1e-3f, -1e-3f};
        float p = 1, m = 0.5f, v = 0.25f;
        NAdamUpdate<DivisionOps, IsL2(wd()), hat()>(s, p, g, m, v);
        EXPECT_TRUE(std::isnan(p) && std::isnan(m) && std::isnan(v)) << "nadam";
      });
    });
  }
  {
    ForAllWeightDecays([&](auto wd) {
      ForAllBools<2>([&](auto maximize, auto rect) {
        const float decay = wd() == WeightDecay::kDecoupled ? 0.999f : 1.0f;
        const RAdamScalars<float> s{maximize() ? -1.0f : 1.0f, 0.1f, decay, MakeLerp<float>(0.1), 0.999f, 1e-3f,
                                    MakeStepDivisor<float>(0.1), 1e-3f, 0.03f, 1e-8f, 0.5f};
        float p = 1, m = 0.5f, v = 0.25f;
        RAdamUpdate<DivisionOps, IsL2(wd()), rect()>(s, p, g, m, v);
        EXPECT_TRUE(std::isnan(p) && std::isnan(m) && std::isnan(v)) << "radam";
      });
    });
  }
  {
    ForAllBools<2>([&](auto maximize, auto l2) {
      const AdagradScalars<float> s{maximize() ? -1.0f : 1.0f, 0.1f, 1e-10f, -1e-2f};
      float p = 1, sum = 0.25f;
      AdagradUpdate<l2()>(s, p, g, sum);
      EXPECT_TRUE(std::isnan(p) && std::isnan(sum)) << "adagrad";
    });
  }
  {
    ForAllBools<4>([&](auto maximize, auto l2, auto centered, auto momentum) {
      const RMSpropScalars<float> s{maximize() ? -1.0f : 1.0f, 0.1f, 0.99f, 0.01f, MakeLerp<float>(0.01), 1e-8f, 0.9f,
                                    -1e-2f};
      float p = 1, sq = 0.25f, buf = 0.5f, ga = 0.1f;
      RMSpropUpdate<l2(), centered(), momentum()>(s, p, g, sq, buf, ga);
      EXPECT_TRUE(std::isnan(p) && std::isnan(sq)) << "rmsprop";
      if (momentum()) {
        EXPECT_TRUE(std::isnan(buf));
      }
      if (centered()) {
        EXPECT_TRUE(std::isnan(ga));
      }
    });
  }
  {
    ForAllBools<2>([&](auto maximize, auto l2) {
      const AdadeltaScalars<float> s{maximize() ? -1.0f : 1.0f, 0.1f, 0.9f, 0.1f, 1e-6f, -1.0f};
      float p = 1, sq = 0.25f, acc = 0.25f;
      AdadeltaUpdate<l2()>(s, p, g, sq, acc);
      EXPECT_TRUE(std::isnan(p) && std::isnan(sq) && std::isnan(acc)) << "adadelta";
    });
  }
  {
    ForAllBools<5>([&](auto maximize, auto l2, auto momentum, auto first, auto nesterov) {
      const SGDScalars<float> s{maximize() ? -1.0f : 1.0f, 0.1f, 0.9f, 1.0f, -1e-3f};
      float p = 1, buf = 0.5f;
      SGDUpdate<l2(), momentum(), first(), nesterov()>(s, p, g, buf);
      EXPECT_TRUE(std::isnan(p)) << "sgd";
      if (momentum()) {
        EXPECT_TRUE(std::isnan(buf));
      }
    });
  }
}

// AMSGrad's max and Adamax's exp_inf keep a NaN already in the state (torch.maximum), where a plain max or
// fmax would drop it.
TEST(RuleSemantics, MaximumKeepsNaNInState) {
  ForAllBools<1>([&](auto eps_hat) {
    float p = 1, m = 0.5f, v = 0.25f, x = kNaNf;
    AdamUpdate<DivisionOps, false, true, eps_hat()>(DefaultAdam(2, 0, eps_hat()), p, 0.5f, m, v, x);
    EXPECT_TRUE(std::isnan(x));
    EXPECT_TRUE(std::isnan(p));
    EXPECT_FALSE(std::isnan(v));
  });
  AdamaxScalars<float> s{1.0f, 0.0f, MakeLerp<float>(0.1), 0.999f, 1e-8f, -1e-3f};
  float p = 1, m = 0.5f, u = kNaNf;
  AdamaxUpdate<false, false>(s, p, 2.0f, m, u);
  EXPECT_TRUE(std::isnan(u));
  EXPECT_TRUE(std::isnan(p));
  EXPECT_FALSE(std::isnan(m));
}

// ((1 - beta2) * g) * g: with beta2 = 0.999, g = 3e19 gives 9e35, while g * g = 9e38 overflows float32.
TEST(RuleSemantics, HugeGradientsDoNotOverflowTheSecondMoment) {
  for (float g : {1e19f, -1e19f, 3e19f, 1e20f, -1e20f}) {
    const float naive = (g * g) * (1.0f - 0.999f);
    const bool naive_overflows = std::isinf(naive);
    if (std::abs(g) >= 2e19f) {
      EXPECT_TRUE(naive_overflows) << g << " (the test's premise)";
    }
    ForAllBools<2>([&](auto amsgrad, auto eps_hat) {
      float p = 1, m = 0, v = 0, x = 0;
      AdamUpdate<DivisionOps, false, amsgrad(), eps_hat()>(DefaultAdam(1, 0, eps_hat()), p, g, m, v, x);
      EXPECT_TRUE(std::isfinite(v)) << "adam exp_avg_sq for g " << g;
      EXPECT_TRUE(std::isfinite(m)) << g;
      EXPECT_TRUE(std::isfinite(p)) << g;
      // First step of bias-corrected Adam: p moves by lr * sign(g) (m_hat / sqrt(v_hat) = g / |g|).
      EXPECT_NEAR(p, 1.0f - 1e-3f * (g > 0 ? 1 : -1), 1e-5) << g;
    });
    NAdamScalars<float> ns{1, 0, 1, MakeLerp<float>(0.1), 0.999f, 1e-3f, MakeStepDivisor<float>(1e-3), 1e-8f, -1e-3f,
                           -1e-3f};
    float p = 1, m = 0, v = 0;
    NAdamUpdate<DivisionOps, false, false>(ns, p, g, m, v);
    EXPECT_TRUE(std::isfinite(v) && std::isfinite(p)) << "nadam " << g;
    RAdamScalars<float> rs{1, 0, 1, MakeLerp<float>(0.1), 0.999f, 1e-3f, MakeStepDivisor<float>(0.1), 1e-3f, 0.0316f,
                           1e-8f, 0.5f};
    p = 1, m = 0, v = 0;
    RAdamUpdate<DivisionOps, false, true>(rs, p, g, m, v);
    EXPECT_TRUE(std::isfinite(v) && std::isfinite(p)) << "radam " << g;
    RMSpropScalars<float> ms{1, 0, 0.99f, 0.01f, MakeLerp<float>(0.01), 1e-8f, 0, -1e-2f};
    float sq = 0, buf = 0, ga = 0;
    p = 1;
    RMSpropUpdate<false, true, false>(ms, p, g, sq, buf, ga);
    EXPECT_TRUE(std::isfinite(sq)) << "rmsprop " << g;
  }
  // Adagrad's addcmul_(g, g, value=1) squares g itself, in PyTorch too: finite up to sqrt(FLT_MAX) ~ 1.8e19.
  AdagradScalars<float> as{1, 0, 1e-10f, -1e-2f};
  float p = 1, sum = 0;
  AdagradUpdate<false>(as, p, 1e19f, sum);
  EXPECT_TRUE(std::isfinite(sum) && std::isfinite(p));
  // Adadelta: square_avg with rho = 0.9 takes g up to ~5.8e19.
  AdadeltaScalars<float> ds{1, 0, 0.9f, 0.1f, 1e-6f, -1.0f};
  float sq = 0, acc = 0;
  p = 1;
  AdadeltaUpdate<false>(ds, p, 3e19f, sq, acc);
  EXPECT_TRUE(std::isfinite(sq) && std::isfinite(acc) && std::isfinite(p));
}

// A mode that is off leaves no trace: no "g + 0 * p" (NaN for an infinite p); decoupled decay off is
// "p * 1" with exactly 1, which is p (infinities included), and maximize off is "g * 1", which is g.
TEST(RuleSemantics, ModesThatAreOffDoNotTouchTheValues) {
  for (float p_inf : {kInff, -kInff}) {
    float p = p_inf, m = 0, v = 0, x = 0;
    AdamUpdate<DivisionOps, false, false, false>(DefaultAdam(1, 0), p, 0.5f, m, v, x);
    EXPECT_EQ(p, p_inf);
    EXPECT_EQ(m, Lerp(0.0f, 0.5f, MakeLerp<float>(0.1)));
    EXPECT_TRUE(std::isfinite(v));
    float q = p_inf, buf = 0;
    SGDUpdate<false, true, true, false>(SGDScalars<float>{1, 0, 0.9f, 1, -0.1f}, q, 0.5f, buf);
    EXPECT_EQ(buf, 0.5f);
    float r = p_inf, sum = 0;
    AdagradUpdate<false>(AdagradScalars<float>{1, 0, 1e-10f, -0.1f}, r, 0.5f, sum);
    EXPECT_EQ(sum, 0.25f);
    float s = p_inf, sq = 0, b2 = 0, ga = 0;
    RMSpropUpdate<false, true, true>(RMSpropScalars<float>{1, 0, 0.99f, 0.01f, MakeLerp<float>(0.01), 1e-8f, 0.9f,
                                                           -0.1f},
                                     s, 0.5f, sq, b2, ga);
    EXPECT_TRUE(std::isfinite(sq) && std::isfinite(b2) && std::isfinite(ga));
  }
  // maximize is a negation, exact (g * -1): the rule with maximize on g equals the rule without it on -g,
  // bitwise.
  Inputs in(99);
  for (int i = 0; i < 1000; ++i) {
    const float p0 = in.Value(), g0 = in.Value(), m0 = in.Value(), v0 = in.Square();
    float p1 = p0, m1 = m0, v1 = v0, x1 = v0, p2 = p0, m2 = m0, v2 = v0, x2 = v0;
    AdamUpdate<DivisionOps, true, true, false>(DefaultAdam(5, 0.1, false, WeightDecay::kL2, true), p1, g0, m1, v1, x1);
    AdamUpdate<DivisionOps, true, true, false>(DefaultAdam(5, 0.1, false, WeightDecay::kL2, false), p2, -g0, m2, v2, x2);
    ASSERT_EQ(std::memcmp(&p1, &p2, 4), 0);
    ASSERT_EQ(std::memcmp(&m1, &m2, 4), 0);
    ASSERT_EQ(std::memcmp(&v1, &v2, 4), 0);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Kernels: an element-by-element loop over the rule, bitwise, for every mode; no element outside [0, n)
// is read into the result or written.

// The last two: ranges that kernels::Loop walks in prefetched blocks in its AVX-512 copy (kernels/prefetch.h).
constexpr int64_t kSizes[] = {0, 1, 3, 17, 1000, kernels::kPrefetchMin + 452, 2 * kernels::kPrefetchMin + 3};
constexpr int64_t kOffsets[] = {0, 1};
constexpr int64_t kPad = 9;

template <typename T>
std::vector<T> KernelInput(size_t n, uint32_t seed, bool nonneg, bool grad) {
  Inputs in(seed);
  std::vector<T> v(n);
  for (T& x : v) {
    const float f = grad ? in.Grad() : nonneg ? in.Square() : in.Param();
    x = static_cast<T>(f);
  }
  return v;
}

// Arrays padded on both sides with sentinel values; `at()` points at the first of the n elements.
template <typename T>
struct Padded {
  std::vector<T> data;
  int64_t offset;
  Padded(const std::vector<T>& values, int64_t off) : offset(kPad + off) {
    data.assign(values.size() + 2 * kPad + off, static_cast<T>(-7.25));
    std::copy(values.begin(), values.end(), data.begin() + offset);
  }
  T* at() { return data.data() + offset; }
  bool operator==(const Padded& o) const {
    return data.size() == o.data.size() && std::memcmp(data.data(), o.data.data(), data.size() * sizeof(T)) == 0;
  }
};

// ", element i: kernel vs loop" for the first element that differs (i from the start of the padding).
template <typename T>
std::string FirstDifference(const Padded<T>& kernel, const Padded<T>& loop) {
  for (size_t i = 0; i < kernel.data.size() && i < loop.data.size(); ++i) {
    if (std::memcmp(&kernel.data[i], &loop.data[i], sizeof(T)) != 0) {
      std::ostringstream out;
      out << std::hexfloat << ", element " << static_cast<int64_t>(i) - kernel.offset << ": " << kernel.data[i]
          << " vs " << loop.data[i];
      return out.str();
    }
  }
  return "";
}

// Runs kernel(n, ptrs...) and loop(n, ptrs...) on identical copies of `arrays` and compares them bitwise.
template <typename T, class Kernel, class Loop>
void CompareKernel(const std::string& what, int num_arrays, const std::vector<bool>& nonneg, Kernel kernel, Loop loop) {
  for (int64_t n : kSizes) {
    for (int64_t off : kOffsets) {
      std::vector<Padded<T>> a, b;
      const std::vector<T> g = KernelInput<T>(static_cast<size_t>(n), 1000 + static_cast<uint32_t>(n), false, true);
      for (int k = 0; k < num_arrays; ++k) {
        a.emplace_back(KernelInput<T>(static_cast<size_t>(n), static_cast<uint32_t>(n * 10 + k), nonneg[k], false), off);
      }
      b = a;
      Padded<T> ga(g, off), gb(g, off);
      kernel(n, ga.at(), a);
      loop(n, gb.at(), b);
      for (int k = 0; k < num_arrays; ++k) {
        EXPECT_TRUE(a[k] == b[k]) << what << ": array " << k << ", n " << n << ", offset " << off << FirstDifference(a[k], b[k]);
      }
      EXPECT_TRUE(ga == gb) << what << ": the gradient was written";
    }
  }
}

// Runs algorithm A's kernel of `table` on one float32 or float64 tensor of n elements (the kernels' view
// of it: kernels/kernels.h) in modes `modes`, with scalars `scalars`.
template <class A, typename T>
void RunStep(const kernels::KernelTable& table, algorithms::ModeBits modes,
             const typename A::template Scalars<T>& scalars, int64_t n, T* p, const T* g, T* s0 = nullptr,
             T* s1 = nullptr, T* s2 = nullptr) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  kernels::StepSlot<A> slot;
  slot.param = p;
  slot.grad = const_cast<T*>(g);  // read only: grad_scale stays 1
  slot.state[0] = s0;
  slot.state[1] = s1;
  slot.state[2] = s2;
  slot.numel = n;
  slot.storage = std::is_same_v<T, double> ? kernels::Storage::kFloat64 : kernels::Storage::kFloat32;
  slot.modes = modes;
  if constexpr (std::is_same_v<T, double>) {
    slot.scalars64 = &scalars;
  } else {
    slot.scalars32 = &scalars;
  }
  table.Step<A>()(slot, 0, n);
}

using algorithms::ModeBits;

// Every kernel of one compiled target, on [0, n) of each array.
template <typename T>
void KernelsEqualTheRuleLoop(const kernels::KernelTable& table) {
  const std::string target(table.target);
  ForAllWeightDecays([&](auto wd) {
    ForAllBools<3>([&](auto maximize, auto amsgrad, auto eps_hat) {
      const AdamScalars<T> adam = AdamHost{1e-2, 0.9, 0.999, 1e-8, 0.1, 7, false, wd(), maximize()}.Make<T>();
      using A = algorithms::Adam;
      const ModeBits modes = ModeBits{}.With(A::kL2, IsL2(wd())).With(A::kAmsgrad, amsgrad()).With(A::kEpsHat, eps_hat());
      CompareKernel<T>(
          "adam/" + target, 4, {false, false, true, true},
          [&](int64_t n, T* g, auto& a) {
            RunStep<A>(table, modes, adam, n, a[0].at(), g, a[1].at(), a[2].at(), amsgrad() ? a[3].at() : nullptr);
          },
          [&](int64_t n, T* g, auto& a) {
            for (int64_t i = 0; i < n; ++i) {
              T unused = 0;
              AdamUpdate<DivisionOps, IsL2(wd()), amsgrad(), eps_hat()>(adam, a[0].at()[i], g[i], a[1].at()[i], a[2].at()[i],
                                                           amsgrad() ? a[3].at()[i] : unused);
            }
          });
    });
  });
  ForAllBools<3>([&](auto maximize, auto l2, auto outside) {
    const AdamaxScalars<T> adamax{T(GradSign(maximize())), T(0.1), MakeLerp<T>(0.1), T(0.999), T(1e-8), T(-2e-3)};
    using A = algorithms::Adamax;
    const ModeBits modes = ModeBits{}.With(A::kL2, l2()).With(A::kEpsOutside, outside());
    CompareKernel<T>(
        "adamax/" + target, 3, {false, false, true},
        [&](int64_t n, T* g, auto& a) {
          RunStep<A>(table, modes, adamax, n, a[0].at(), g, a[1].at(), a[2].at());
        },
        [&](int64_t n, T* g, auto& a) {
          for (int64_t i = 0; i < n; ++i) {
            AdamaxUpdate<l2(), outside()>(adamax, a[0].at()[i], g[i], a[1].at()[i], a[2].at()[i]);
          }
        });
  });
  ForAllWeightDecays([&](auto wd) {
    ForAllBools<2>([&](auto maximize, auto hat) {
      const T decay = wd() == WeightDecay::kDecoupled ? T(0.999) : T(1);  // exactly 1 unless decoupled
      const NAdamScalars<T> nadam{T(GradSign(maximize())), T(0.1), decay, MakeLerp<T>(0.1), T(0.999), T(1e-3),
                                  MakeStepDivisor<T>(7e-3), T(1e-8), T(-1e-3), T(-2e-3)};
      using A = algorithms::NAdam;
      const ModeBits modes = ModeBits{}.With(A::kL2, IsL2(wd())).With(A::kEpsHat, hat());
      CompareKernel<T>(
          "nadam/" + target, 3, {false, false, true},
          [&](int64_t n, T* g, auto& a) {
            RunStep<A>(table, modes, nadam, n, a[0].at(), g, a[1].at(), a[2].at());
          },
          [&](int64_t n, T* g, auto& a) {
            for (int64_t i = 0; i < n; ++i) {
              NAdamUpdate<DivisionOps, IsL2(wd()), hat()>(nadam, a[0].at()[i], g[i], a[1].at()[i], a[2].at()[i]);
            }
          });
    });
  });
  ForAllWeightDecays([&](auto wd) {
    ForAllBools<2>([&](auto maximize, auto rect) {
      const T decay = wd() == WeightDecay::kDecoupled ? T(0.999) : T(1);
      const RAdamScalars<T> radam{T(GradSign(maximize())), T(0.1), decay, MakeLerp<T>(0.1), T(0.999), T(1e-3),
                                  MakeStepDivisor<T>(0.5), T(1e-3), T(0.08), T(1e-8), T(0.3)};
      using A = algorithms::RAdam;
      // The rectification is per tensor: a mode its step's Prepare sets.
      const ModeBits modes = ModeBits{}.With(A::kL2, IsL2(wd())).With(A::kRectified, rect());
      CompareKernel<T>(
          "radam/" + target, 3, {false, false, true},
          [&](int64_t n, T* g, auto& a) {
            RunStep<A>(table, modes, radam, n, a[0].at(), g, a[1].at(), a[2].at());
          },
          [&](int64_t n, T* g, auto& a) {
            for (int64_t i = 0; i < n; ++i) {
              RAdamUpdate<DivisionOps, IsL2(wd()), rect()>(radam, a[0].at()[i], g[i], a[1].at()[i], a[2].at()[i]);
            }
          });
    });
  });
  ForAllBools<2>([&](auto maximize, auto l2) {
    const AdagradScalars<T> adagrad{T(GradSign(maximize())), T(0.1), T(1e-10), T(-1e-2)};
    using A = algorithms::Adagrad;
    const ModeBits modes = ModeBits{}.With(A::kL2, l2());
    CompareKernel<T>(
        "adagrad/" + target, 2, {false, true},
        [&](int64_t n, T* g, auto& a) { RunStep<A>(table, modes, adagrad, n, a[0].at(), g, a[1].at()); },
        [&](int64_t n, T* g, auto& a) {
          for (int64_t i = 0; i < n; ++i) AdagradUpdate<l2()>(adagrad, a[0].at()[i], g[i], a[1].at()[i]);
        });
  });
  ForAllBools<4>([&](auto maximize, auto l2, auto centered, auto momentum) {
    const RMSpropScalars<T> rmsprop{T(GradSign(maximize())), T(0.1), T(0.99), T(0.01), MakeLerp<T>(0.01), T(1e-8),
                                    T(0.9), T(-1e-2)};
    using A = algorithms::RMSprop;
    const ModeBits modes =
        ModeBits{}.With(A::kL2, l2()).With(A::kCentered, centered()).With(A::kMomentum, momentum());
    CompareKernel<T>(
        "rmsprop/" + target + " maximize " + std::to_string(maximize()) + " l2 " + std::to_string(l2()) +
            " centered " + std::to_string(centered()) + " momentum " + std::to_string(momentum()),
        4, {false, true, false, false},
        [&](int64_t n, T* g, auto& a) {
          RunStep<A>(table, modes, rmsprop, n, a[0].at(), g, a[1].at(), momentum() ? a[2].at() : nullptr,
                     centered() ? a[3].at() : nullptr);
        },
        [&](int64_t n, T* g, auto& a) {
          for (int64_t i = 0; i < n; ++i) {
            T unused_buf = 0, unused_avg = 0;
            RMSpropUpdate<l2(), centered(), momentum()>(rmsprop, a[0].at()[i], g[i], a[1].at()[i],
                                                        momentum() ? a[2].at()[i] : unused_buf,
                                                        centered() ? a[3].at()[i] : unused_avg);
          }
        });
  });
  ForAllBools<2>([&](auto maximize, auto l2) {
    const AdadeltaScalars<T> adadelta{T(GradSign(maximize())), T(0.1), T(0.9), T(0.1), T(1e-6), T(-1)};
    using A = algorithms::Adadelta;
    const ModeBits modes = ModeBits{}.With(A::kL2, l2());
    CompareKernel<T>(
        "adadelta/" + target, 3, {false, true, true},
        [&](int64_t n, T* g, auto& a) {
          RunStep<A>(table, modes, adadelta, n, a[0].at(), g, a[1].at(), a[2].at());
        },
        [&](int64_t n, T* g, auto& a) {
          for (int64_t i = 0; i < n; ++i) {
            AdadeltaUpdate<l2()>(adadelta, a[0].at()[i], g[i], a[1].at()[i], a[2].at()[i]);
          }
        });
  });
  ForAllBools<5>([&](auto maximize, auto l2, auto momentum, auto first, auto nesterov) {
    const SGDScalars<T> sgd{T(GradSign(maximize())), T(0.1), T(0.9), T(0.75), T(-1e-2)};
    using A = algorithms::SGD;
    // The first step (the buffer is set to the gradient) is per tensor: a mode its step's Prepare sets.
    // Without momentum neither it nor Nesterov's momentum applies (SGD::Valid).
    const ModeBits modes = ModeBits{}
                               .With(A::kL2, l2())
                               .With(A::kMomentum, momentum())
                               .With(A::kFirst, momentum() && first())
                               .With(A::kNesterov, momentum() && nesterov());
    CompareKernel<T>(
        "sgd/" + target, 2, {false, false},
        [&](int64_t n, T* g, auto& a) {
          RunStep<A>(table, modes, sgd, n, a[0].at(), g, momentum() ? a[1].at() : nullptr);
        },
        [&](int64_t n, T* g, auto& a) {
          for (int64_t i = 0; i < n; ++i) {
            T unused = 0;
            SGDUpdate<l2(), momentum(), first(), nesterov()>(sgd, a[0].at()[i], g[i],
                                                             momentum() ? a[1].at()[i] : unused);
          }
        });
  });
  ForAllBools<2>([&](auto maximize, auto decay) {
    const LionScalars<T> lion{T(GradSign(maximize())), decay() ? T(0.995) : T(1), T(0.9), T(0.1), T(0.99), T(0.01),
                              T(-1e-2)};
    using A = algorithms::Lion;
    CompareKernel<T>(
        "lion/" + target, 2, {false, false},
        [&](int64_t n, T* g, auto& a) { RunStep<A>(table, ModeBits{}, lion, n, a[0].at(), g, a[1].at()); },
        [&](int64_t n, T* g, auto& a) {
          for (int64_t i = 0; i < n; ++i) LionUpdate(lion, a[0].at()[i], g[i], a[1].at()[i]);
        });
  });
}

// The kernels the library runs here: the active SIMD target (kernels/dispatch.cc; ADAMANT_TARGET forces one).
template <typename T>
void ActiveKernelsEqualTheRuleLoop() {
  const kernels::KernelTable& table = kernels::Active();
  SCOPED_TRACE("target " + std::string(table.target));
  KernelsEqualTheRuleLoop<T>(table);
}

TEST(Kernels, EqualTheRuleLoopFloat) { ActiveKernelsEqualTheRuleLoop<float>(); }
TEST(Kernels, EqualTheRuleLoopDouble) { ActiveKernelsEqualTheRuleLoop<double>(); }

}  // namespace
}  // namespace adamant::rules
