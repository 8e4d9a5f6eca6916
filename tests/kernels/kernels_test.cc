// The fused kernels, through adamant::functional: every algorithm in every mode, every storage, sizes
// around the vector widths with misaligned starts, against a scalar loop over the rule (the float
// reference the fast path must equal bitwise), on every SIMD target and thread count.
#include "kernels/kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "adamant/dtype.h"
#include "adamant/functional.h"
#include "adamant/options.h"
#include "adamant/param.h"
#include "adamant/precision.h"
#include "adamant/threads.h"
#include "core/parallel.h"
#include "kernels/storage.h"
#include "algorithms/all.h"
#include "support/half.h"

namespace adamant {
namespace {

namespace fn = adamant::functional;
using kernels::BFloat16ToFloat;
using kernels::BitsFloat;
using kernels::Float16ToFloat;
using kernels::FloatBits;
using kernels::FloatToBFloat16;
using kernels::FloatToFloat16;

// --- storages ------------------------------------------------------------------------------------------------

struct StorageSpec {
  const char* name;
  DType dtype;
  bool master;
  bool stochastic;
};

const StorageSpec kStorages[] = {
    {"fp32", DType::kFloat32, false, false},        {"fp64", DType::kFloat64, false, false},
    {"bf16", DType::kBFloat16, false, false},       {"fp16", DType::kFloat16, false, false},
    {"bf16+master", DType::kBFloat16, true, false}, {"fp16+master", DType::kFloat16, true, false},
    {"bf16+sr", DType::kBFloat16, false, true},     {"fp16+sr", DType::kFloat16, false, true},
};

using test_support::Narrow;
using test_support::Widen;

// --- buffers with misaligned starts and guarded padding ---------------------------------------------------

constexpr unsigned char kGuard = 0xA5;
constexpr int kTrailingPad = 3;

// `n` elements of `elsize` bytes starting `offset` elements into an allocation (operator new aligns to
// 16 bytes, so 1-3 elements in is misaligned for every vector width), surrounded by guard bytes that no
// step may touch.
struct Buf {
  std::vector<unsigned char> bytes;
  size_t elsize = 0;
  int offset = 0;
  int64_t n = 0;

  Buf() = default;
  Buf(size_t es, int off, int64_t count)
      : bytes((static_cast<size_t>(off + count) + kTrailingPad) * es, kGuard), elsize(es), offset(off), n(count) {
    std::memset(data(), 0, static_cast<size_t>(n) * elsize);
  }
  void* data() { return bytes.empty() ? nullptr : bytes.data() + static_cast<size_t>(offset) * elsize; }
  const void* data() const { return bytes.empty() ? nullptr : bytes.data() + static_cast<size_t>(offset) * elsize; }
  template <class T>
  T* as() {
    return static_cast<T*>(data());
  }
  template <class T>
  const T* as() const {
    return static_cast<const T*>(data());
  }
  bool GuardsIntact() const {
    const size_t lo = static_cast<size_t>(offset) * elsize, hi = static_cast<size_t>(offset + n) * elsize;
    for (size_t i = 0; i < lo; ++i) {
      if (bytes[i] != kGuard) return false;
    }
    for (size_t i = hi; i < bytes.size(); ++i) {
      if (bytes[i] != kGuard) return false;
    }
    return true;
  }
};

// One tensor: parameter, gradient, three state slots (allocated whether the mode uses them or not, so
// that the unused ones can be checked untouched), master copy, NAdam's mu_product, SGD's flag.
struct TensorData {
  DType dtype = DType::kFloat32;
  int64_t n = 0;
  Buf param, grad, state[3], master;
  double mu_product = 1.0;
  bool initialized = false;
  const void* grad_override = nullptr;  // a gradient read in place instead of `grad` (saves copies)

  TensorData(DType d, int64_t count, int offset, bool with_master) : dtype(d), n(count) {
    param = Buf(SizeOf(d), offset, n);
    grad = Buf(SizeOf(d), offset, n);
    for (Buf& s : state) s = Buf(SizeOf(StateDType(d)), offset, n);
    if (with_master) master = Buf(4, offset, n);
  }
  ParamView view() { return {param.data(), grad_override ? const_cast<void*>(grad_override) : grad.data(), n, dtype}; }
  void* st(int i) { return state[i].data(); }
  float* mst() { return master.bytes.empty() ? nullptr : master.as<float>(); }
  // Everything a step writes (the gradient is read only, and checked so separately).
  bool operator==(const TensorData& o) const {
    return param.bytes == o.param.bytes && state[0].bytes == o.state[0].bytes && state[1].bytes == o.state[1].bytes &&
           state[2].bytes == o.state[2].bytes && master.bytes == o.master.bytes &&
           std::memcmp(&mu_product, &o.mu_product, sizeof(double)) == 0;
  }
  bool GuardsIntact() const {
    return param.GuardsIntact() && grad.GuardsIntact() && state[0].GuardsIntact() && state[1].GuardsIntact() &&
           state[2].GuardsIntact() && master.GuardsIntact();
  }
};

// Across SIMD targets every value is bitwise identical except the sign and payload of a NaN, which IEEE 754
// leaves open and which the baseline target's library fma may choose differently (src/kernels/kernels.h):
// there a NaN matches any NaN. Across thread counts on one target, comparisons stay fully bitwise.
bool IsNaNPattern(const uint8_t* e, size_t elsize, DType dtype) {
  if (elsize == 8) {
    double d;
    std::memcpy(&d, e, 8);
    return std::isnan(d);
  }
  if (elsize == 4) {
    float f;
    std::memcpy(&f, e, 4);
    return std::isnan(f);
  }
  const uint16_t h = static_cast<uint16_t>(e[0] | (e[1] << 8));
  if (dtype == DType::kFloat16) return (h & 0x7C00u) == 0x7C00u && (h & 0x03FFu) != 0;
  return (h & 0x7F80u) == 0x7F80u && (h & 0x007Fu) != 0;  // bfloat16
}

bool SameUpToNaN(const Buf& x, const Buf& y, DType dtype) {
  if (x.bytes.size() != y.bytes.size()) return false;
  for (size_t e = 0; e < x.bytes.size(); e += x.elsize) {
    if (std::memcmp(&x.bytes[e], &y.bytes[e], x.elsize) == 0) continue;
    if (!(IsNaNPattern(&x.bytes[e], x.elsize, dtype) && IsNaNPattern(&y.bytes[e], y.elsize, dtype))) return false;
  }
  return true;
}

bool SameAcrossTargets(const std::vector<TensorData>& a, const std::vector<TensorData>& b) {
  if (a.size() != b.size()) return false;
  for (size_t t = 0; t < a.size(); ++t) {
    if (!SameUpToNaN(a[t].param, b[t].param, a[t].dtype) || !SameUpToNaN(a[t].master, b[t].master, a[t].dtype)) {
      return false;
    }
    for (int k = 0; k < 3; ++k) {
      if (!SameUpToNaN(a[t].state[k], b[t].state[k], a[t].dtype)) return false;
    }
    if (std::memcmp(&a[t].mu_product, &b[t].mu_product, sizeof(double)) != 0) return false;
  }
  return true;
}

// The first differing element between two runs, for messages.
std::string FirstDifference(const std::vector<TensorData>& a, const std::vector<TensorData>& b) {
  if (a.size() != b.size()) return "different tensor counts";
  for (size_t t = 0; t < a.size(); ++t) {
    const Buf* bufs_a[] = {&a[t].param, &a[t].state[0], &a[t].state[1], &a[t].state[2], &a[t].master};
    const Buf* bufs_b[] = {&b[t].param, &b[t].state[0], &b[t].state[1], &b[t].state[2], &b[t].master};
    const char* names[] = {"param", "state0", "state1", "state2", "master"};
    for (int k = 0; k < 5; ++k) {
      const Buf& x = *bufs_a[k];
      const Buf& y = *bufs_b[k];
      for (size_t i = 0; i < x.bytes.size(); ++i) {
        if (x.bytes[i] != y.bytes[i]) {
          // The two elements as hex (little endian: most significant byte last).
          const size_t e = i / x.elsize * x.elsize;
          std::string hx = "0x", hy = "0x";
          char buf[4];
          for (size_t b = x.elsize; b-- > 0;) {
            std::snprintf(buf, sizeof buf, "%02X", x.bytes[e + b]);
            hx += buf;
            std::snprintf(buf, sizeof buf, "%02X", y.bytes[e + b]);
            hy += buf;
          }
          return "tensor " + std::to_string(t) + " (numel " + std::to_string(a[t].n) + ") " + names[k] + " element " +
                 std::to_string(static_cast<int64_t>(i / x.elsize) - x.offset) + ": " + hx + " vs " + hy;
        }
      }
    }
    if (std::memcmp(&a[t].mu_product, &b[t].mu_product, sizeof(double)) != 0) {
      return "tensor " + std::to_string(t) + " mu_product";
    }
  }
  return "none";
}

// --- bool dispatch for the reference's template modes ---------------------------------------------------

template <class F>
void WithBools(F&& f) {
  f();
}
template <class F, class... Rest>
void WithBools(F&& f, bool b, Rest... rest) {
  if (b) {
    WithBools([&](auto... k) { f(std::true_type{}, k...); }, rest...);
  } else {
    WithBools([&](auto... k) { f(std::false_type{}, k...); }, rest...);
  }
}

template <class T>
using RefFn = std::function<void(T& p, T g, T* state)>;

// --- the algorithms: how to call each, its modes, and its reference ---------------------------------------
//
// What a test needs of an algorithm comes from its descriptor (algorithms/<name>.h): which buffers its
// options use, its step through the generic functional API, and its reference: the descriptor's host
// scalars (Prepare, in double, rounded once to T) and its rule applied element by element in plain
// scalar code. What the tests add per algorithm is the list of option combinations to try (Modes). The
// host scalars themselves are checked against an independent derivation in rules_test (AdamHost).

// f(std::integral_constant<uint32_t, bits>) for the run-time modes m (each valid combination of A's).
template <class A, uint32_t kBits = 0, class F>
void WithModes(algorithms::ModeBits m, F&& f) {
  if constexpr (kBits < (1u << A::kNumModes)) {
    if (m.bits == kBits) {
      if constexpr (A::Valid(algorithms::ModeBits{kBits})) f(std::integral_constant<uint32_t, kBits>{});
      return;
    }
    WithModes<A, kBits + 1>(m, f);
  }
}

template <class A>
struct Fixture {
  using Options = typename A::Options;
  static constexpr const char* kName = A::kName.data();
  static constexpr int kBuffers = static_cast<int>(A::kState.size());

  static bool Uses(const Options& o, int k) { return k < kBuffers && A::Uses(A::ModesOf(o), k); }

  static algorithms::TensorStep StepOf(int64_t step, const TensorData& t) {
    return {.step = A::kCountsSteps ? step : 0, .scalar_state = t.mu_product, .fresh = !t.initialized};
  }

  static void Call(std::vector<TensorData>& ts, const Options& o, const Precision& pr, int64_t step) {
    std::vector<fn::Tensor> v;
    for (TensorData& t : ts) {
      fn::Tensor x{.param = t.view(), .step = step, .master = t.mst(), .fresh = !t.initialized};
      for (int k = 0; k < kBuffers; ++k) x.state[static_cast<size_t>(k)] = Uses(o, k) ? t.st(k) : nullptr;
      if constexpr (!A::kScalarState.empty()) x.scalar_state = &t.mu_product;
      v.push_back(x);
    }
    fn::Step(v, o, pr);
    for (TensorData& t : ts) t.initialized = true;
  }

  // The algorithm's scalar state (NAdam's mu_product) after the step, from the tensor as it was before.
  static double NextScalarState(const Options& o, int64_t step, const TensorData& before) {
    double next = before.mu_product;
    if constexpr (!A::kScalarState.empty()) A::Finish(o, StepOf(step, before), next);
    return next;
  }

  template <class T>
  static RefFn<T> Ref(const Options& o, int64_t step, const TensorData& before) {
    algorithms::ModeBits m = A::ModesOf(o);
    const auto s = A::template Prepare<T>(o, m, StepOf(step, before));
    RefFn<T> out;
    WithModes<A>(m, [&](auto bits) {
      constexpr algorithms::ModeBits kM{decltype(bits)::value};
      out = [s](T& p, T g, T* st) {
        [&]<size_t... k>(std::index_sequence<k...>) {
          A::template Update<kM, rules::DivisionOps>(s, p, g, st[k]...);
        }(std::make_index_sequence<kBuffers>{});
      };
    });
    return out;
  }
};

struct AdamAlgo : Fixture<algorithms::Adam> {
  static std::vector<std::pair<std::string, Options>> Modes() {
    std::vector<std::pair<std::string, Options>> out;
    for (int decay = 0; decay < 3; ++decay) {
      for (bool ams : {false, true}) {
        for (bool max : {false, true}) {
          for (bool tf : {false, true}) {
            Options o;
            o.lr = 0.05;
            o.weight_decay = decay == 0 ? 0.0 : 0.1;
            o.decoupled_weight_decay = decay == 2;
            o.amsgrad = ams;
            o.maximize = max;
            o.eps_mode = tf ? EpsMode::kTensorFlow : EpsMode::kPyTorch;
            out.push_back({std::string(decay == 0   ? "nodecay"
                                       : decay == 1 ? "l2"
                                                    : "decoupled") +
                               (ams ? "_amsgrad" : "") + (max ? "_maximize" : "") + (tf ? "_tf" : ""),
                           o});
          }
        }
      }
    }
    Options nb;
    nb.bias_correction = false;
    nb.weight_decay = 0.01;
    nb.amsgrad = true;
    out.push_back({"l2_amsgrad_nobiascorrection", nb});
    nb.decoupled_weight_decay = true;
    nb.amsgrad = false;
    nb.eps_mode = EpsMode::kTensorFlow;
    out.push_back({"decoupled_tf_nobiascorrection", nb});
    return out;
  }
};

struct AdamaxAlgo : Fixture<algorithms::Adamax> {
  static std::vector<std::pair<std::string, Options>> Modes() {
    std::vector<std::pair<std::string, Options>> out;
    for (bool l2 : {false, true}) {
      for (bool max : {false, true}) {
        for (bool tf : {false, true}) {
          Options o;
          o.lr = 0.05;
          o.weight_decay = l2 ? 0.1 : 0.0;
          o.maximize = max;
          o.eps_mode = tf ? EpsMode::kTensorFlow : EpsMode::kPyTorch;
          out.push_back({std::string(l2 ? "l2" : "nodecay") + (max ? "_maximize" : "") + (tf ? "_tf" : ""), o});
        }
      }
    }
    Options nb;
    nb.bias_correction = false;
    out.push_back({"nobiascorrection", nb});
    return out;
  }
};

struct NAdamAlgo : Fixture<algorithms::NAdam> {
  static std::vector<std::pair<std::string, Options>> Modes() {
    std::vector<std::pair<std::string, Options>> out;
    for (int decay = 0; decay < 3; ++decay) {
      for (bool max : {false, true}) {
        for (bool tf : {false, true}) {
          Options o;
          o.lr = 0.05;
          o.weight_decay = decay == 0 ? 0.0 : 0.1;
          o.decoupled_weight_decay = decay == 2;
          o.maximize = max;
          o.eps_mode = tf ? EpsMode::kTensorFlow : EpsMode::kPyTorch;
          out.push_back({std::string(decay == 0   ? "nodecay"
                                     : decay == 1 ? "l2"
                                                  : "decoupled") +
                             (max ? "_maximize" : "") + (tf ? "_tf" : ""),
                         o});
        }
      }
    }
    Options nb;
    nb.bias_correction = false;
    nb.weight_decay = 0.01;
    out.push_back({"l2_nobiascorrection", nb});
    return out;
  }
};

struct RAdamAlgo : Fixture<algorithms::RAdam> {
  static bool Rectified(const Options& o, int64_t step) {
    algorithms::ModeBits m = algorithms::RAdam::ModesOf(o);
    (void)algorithms::RAdam::Prepare<double>(o, m, {.step = step});
    return m[algorithms::RAdam::kRectified];
  }
  static std::vector<std::pair<std::string, Options>> Modes() {
    std::vector<std::pair<std::string, Options>> out;
    for (int decay = 0; decay < 3; ++decay) {
      for (bool max : {false, true}) {
        Options o;
        o.lr = 0.05;
        o.weight_decay = decay == 0 ? 0.0 : 0.1;
        o.decoupled_weight_decay = decay == 2;
        o.maximize = max;
        out.push_back({std::string(decay == 0   ? "nodecay"
                                   : decay == 1 ? "l2"
                                                : "decoupled") +
                           (max ? "_maximize" : ""),
                       o});
      }
    }
    Options nb;
    nb.bias_correction = false;
    out.push_back({"nobiascorrection", nb});
    return out;
  }
};

struct AdagradAlgo : Fixture<algorithms::Adagrad> {
  static std::vector<std::pair<std::string, Options>> Modes() {
    std::vector<std::pair<std::string, Options>> out;
    for (bool l2 : {false, true}) {
      for (bool max : {false, true}) {
        for (bool decay : {false, true}) {
          Options o;
          o.lr = 0.05;
          o.weight_decay = l2 ? 0.1 : 0.0;
          o.maximize = max;
          o.lr_decay = decay ? 0.01 : 0.0;
          out.push_back({std::string(l2 ? "l2" : "nodecay") + (max ? "_maximize" : "") + (decay ? "_lrdecay" : ""), o});
        }
      }
    }
    return out;
  }
};

struct RMSpropAlgo : Fixture<algorithms::RMSprop> {
  static std::vector<std::pair<std::string, Options>> Modes() {
    std::vector<std::pair<std::string, Options>> out;
    for (bool l2 : {false, true}) {
      for (bool centered : {false, true}) {
        for (bool mom : {false, true}) {
          for (bool max : {false, true}) {
            Options o;
            o.lr = 0.01;
            o.weight_decay = l2 ? 0.1 : 0.0;
            o.centered = centered;
            o.momentum = mom ? 0.9 : 0.0;
            o.maximize = max;
            out.push_back({std::string(l2 ? "l2" : "nodecay") + (centered ? "_centered" : "") +
                               (mom ? "_momentum" : "") + (max ? "_maximize" : ""),
                           o});
          }
        }
      }
    }
    return out;
  }
};

struct AdadeltaAlgo : Fixture<algorithms::Adadelta> {
  static std::vector<std::pair<std::string, Options>> Modes() {
    std::vector<std::pair<std::string, Options>> out;
    for (bool l2 : {false, true}) {
      for (bool max : {false, true}) {
        Options o;
        o.weight_decay = l2 ? 0.1 : 0.0;
        o.maximize = max;
        out.push_back({std::string(l2 ? "l2" : "nodecay") + (max ? "_maximize" : ""), o});
      }
    }
    return out;
  }
};

struct SGDAlgo : Fixture<algorithms::SGD> {
  static std::vector<std::pair<std::string, Options>> Modes() {
    std::vector<std::pair<std::string, Options>> out;
    for (int kind = 0; kind < 3; ++kind) {  // no momentum, momentum with dampening, nesterov
      for (bool l2 : {false, true}) {
        for (bool max : {false, true}) {
          Options o;
          o.lr = 0.05;
          o.momentum = kind == 0 ? 0.0 : 0.9;
          o.dampening = kind == 1 ? 0.1 : 0.0;
          o.nesterov = kind == 2;
          o.weight_decay = l2 ? 0.1 : 0.0;
          o.maximize = max;
          out.push_back({std::string(kind == 0   ? "plain"
                                     : kind == 1 ? "momentum"
                                                 : "nesterov") +
                             (l2 ? "_l2" : "") + (max ? "_maximize" : ""),
                         o});
        }
      }
    }
    return out;
  }
};

struct LionAlgo : Fixture<algorithms::Lion> {
  static std::vector<std::pair<std::string, Options>> Modes() {
    std::vector<std::pair<std::string, Options>> out;
    for (bool decay : {false, true}) {
      for (bool max : {false, true}) {
        Options o;
        o.lr = 0.05;
        o.betas = {0.9, 0.99};
        o.weight_decay = decay ? 0.5 : 0.0;
        o.maximize = max;
        out.push_back({std::string(decay ? "decay" : "nodecay") + (max ? "_maximize" : ""), o});
      }
    }
    return out;
  }
};

// The fixtures above, by name: each algorithm of the list (adamant/algorithms.h) has one.
const std::set<std::string> kFixtures = {AdamAlgo::kName,    AdamaxAlgo::kName,   NAdamAlgo::kName,
                                         RAdamAlgo::kName,   AdagradAlgo::kName,  RMSpropAlgo::kName,
                                         AdadeltaAlgo::kName, SGDAlgo::kName,     LionAlgo::kName};

TEST(KernelsTest, EveryAlgorithmHasAFixture) {
#define ADAMANT_EXPECT_FIXTURE(Class, name) EXPECT_EQ(kFixtures.count(name), 1u) << name << " has no fixture here";
  ADAMANT_OPTIMIZERS(ADAMANT_EXPECT_FIXTURE, ADAMANT_SKIP_VARIANT)
#undef ADAMANT_EXPECT_FIXTURE
}

// --- problems: tensors and a gradient for every step ------------------------------------------------------

struct Problem {
  std::vector<TensorData> init;
  std::vector<std::vector<Buf>> grads;  // [step][tensor]
  std::vector<int64_t> steps;
};

// Values: normal at several scales, exact zeros, and with `specials` gradients of 0, 1e-30, 1e18 and a
// few NaN and inf.
double Draw(std::mt19937_64& rng, double scale, bool specials, bool is_grad) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_int_distribution<int> pick(0, 999);
  const int k = pick(rng);
  if (k < 20) return 0.0;
  if (is_grad && specials) {
    if (k < 30) return 1e-30 * (k % 2 ? 1 : -1);
    if (k < 40) return 1e18 * (k % 2 ? 1 : -1);
    if (k == 40) return std::numeric_limits<double>::quiet_NaN();
    if (k == 41) return -std::numeric_limits<double>::infinity();
    if (k == 42) return std::numeric_limits<double>::infinity();
    if (k == 43) return -std::numeric_limits<double>::quiet_NaN();
  }
  return normal(rng) * scale;
}

void Store(DType d, Buf& b, int64_t i, double v) {
  switch (d) {
    case DType::kFloat32:
      b.as<float>()[i] = static_cast<float>(v);
      break;
    case DType::kFloat64:
      b.as<double>()[i] = v;
      break;
    default:
      b.as<uint16_t>()[i] = Narrow(d, static_cast<float>(v));
  }
}

// Values drawn once (from `seed`) and stored in each storage.
struct Values {
  std::vector<int64_t> sizes, steps;
  std::vector<std::vector<double>> params;              // [tensor][element]
  std::vector<std::vector<std::vector<double>>> grads;  // [step][tensor][element]
};

// Every pair of these as (parameter, gradient) at element i: parameter kSpecials[i % 10], gradient
// kSpecials[(i / 10 + 3 * step_index) % 10].
const double kSpecials[] = {std::numeric_limits<double>::quiet_NaN(),
                            -std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity(),
                            -std::numeric_limits<double>::infinity(),
                            0.0,
                            -0.0,
                            1.5,
                            -1.5,
                            1e-30,
                            1e30};

// With `special_every` > 0, every special_every-th tensor holds the special pairs instead of random values.
Values MakeValues(const std::vector<int64_t>& sizes, const std::vector<int64_t>& steps, uint64_t seed, bool specials,
                  size_t special_every = 0) {
  std::mt19937_64 rng(seed);
  Values v{sizes, steps, {}, {}};
  const double param_scales[] = {1.0, 1e-3, 30.0};
  const double grad_scales[] = {1.0, 1e-4, 100.0};
  auto pairs = [&](size_t t) { return special_every > 0 && t % special_every == 0; };
  for (size_t t = 0; t < sizes.size(); ++t) {
    std::vector<double> p(static_cast<size_t>(sizes[t]));
    for (size_t i = 0; i < p.size(); ++i)
      p[i] = pairs(t) ? kSpecials[i % 10] : Draw(rng, param_scales[t % 3], false, false);
    v.params.push_back(std::move(p));
  }
  v.grads.resize(steps.size());
  for (size_t k = 0; k < steps.size(); ++k) {
    for (size_t t = 0; t < sizes.size(); ++t) {
      std::vector<double> g(static_cast<size_t>(sizes[t]));
      for (size_t i = 0; i < g.size(); ++i) {
        g[i] = pairs(t) ? kSpecials[(i / 10 + 3 * k) % 10] : Draw(rng, grad_scales[(t + k) % 3], specials, true);
      }
      v.grads[k].push_back(std::move(g));
    }
  }
  return v;
}

// Tensors of the given values in one storage, starting 1-3 elements into their allocations.
Problem MakeProblem(const StorageSpec& st, const Values& v) {
  Problem pb;
  pb.steps = v.steps;
  for (size_t t = 0; t < v.sizes.size(); ++t) {
    TensorData td(st.dtype, v.sizes[t], 1 + static_cast<int>(t % 3), st.master);
    for (int64_t i = 0; i < v.sizes[t]; ++i) Store(st.dtype, td.param, i, v.params[t][static_cast<size_t>(i)]);
    if (st.master) {
      // The master copy starts as the widened parameter (as the optimizers make it).
      for (int64_t i = 0; i < v.sizes[t]; ++i) td.master.as<float>()[i] = Widen(st.dtype, td.param.as<uint16_t>()[i]);
    }
    pb.init.push_back(std::move(td));
  }
  pb.grads.resize(v.steps.size());
  for (size_t k = 0; k < v.steps.size(); ++k) {
    for (size_t t = 0; t < v.sizes.size(); ++t) {
      Buf g(SizeOf(st.dtype), 1 + static_cast<int>(t % 3), v.sizes[t]);
      for (int64_t i = 0; i < v.sizes[t]; ++i) Store(st.dtype, g, i, v.grads[k][t][static_cast<size_t>(i)]);
      pb.grads[k].push_back(std::move(g));
    }
  }
  return pb;
}

Problem MakeProblem(const StorageSpec& st, const std::vector<int64_t>& sizes, const std::vector<int64_t>& steps,
                    uint64_t seed, bool specials) {
  return MakeProblem(st, MakeValues(sizes, steps, seed, specials));
}

// --- reference check of one step ---------------------------------------------------------------------------

template <class T>
std::string Bits(T x) {
  char buf[64];
  if constexpr (sizeof(T) == 8) {
    uint64_t u;
    std::memcpy(&u, &x, 8);
    std::snprintf(buf, sizeof buf, "%.17g (0x%016llX)", static_cast<double>(x), static_cast<unsigned long long>(u));
  } else if constexpr (sizeof(T) == 4) {
    std::snprintf(buf, sizeof buf, "%.9g (0x%08X)", static_cast<double>(x), FloatBits(static_cast<float>(x)));
  } else {
    std::snprintf(buf, sizeof buf, "0x%04X", static_cast<unsigned>(x));
  }
  return buf;
}

template <class T>
bool SameBits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Against the scalar reference a NaN matches any NaN: which NaN an operation with two NaN operands returns
// (the sign and payload of the first source operand on x86) depends on the operand order the compiler
// picked for a commutative operation, which the reference, compiled separately, cannot pin down. Across
// targets and thread counts the kernels are compared bit for bit, NaNs included.
template <class T>
bool SameOrBothNaN(T a, T b) {
  return SameBits(a, b) || (std::isnan(a) && std::isnan(b));
}

// The two 16-bit patterns a stochastic rounding of x may give (equal when x is exact), from nearest
// rounding: the nearest and its neighbour on x's side.
std::pair<uint16_t, uint16_t> StochasticCandidates(DType d, float x) {
  const uint16_t n = Narrow(d, x);
  if (!std::isfinite(x)) return {n, n};
  const float v = Widen(d, n);
  if (v == x) return {n, n};
  const uint16_t sign = n & 0x8000;
  const uint16_t mag = n & 0x7FFF;
  if (std::fabs(v) < std::fabs(x)) return {n, static_cast<uint16_t>(sign | (mag + 1))};
  return {static_cast<uint16_t>(sign | (mag - 1)), n};
}

// Compares `after` with the rule applied element by element to `before`. Returns the number of
// mismatching elements (reports the first few).
template <class Algo, class T>
int CheckTensorAgainstRule(const typename Algo::Options& o, const StorageSpec& st, int64_t step,
                           const TensorData& before, const TensorData& after, const std::string& ctx) {
  const RefFn<T> rule = Algo::template Ref<T>(o, step, before);
  int bad = 0;
  auto report = [&](int64_t i, const std::string& what) {
    if (++bad <= 3) ADD_FAILURE() << ctx << ": element " << i << " of " << before.n << ": " << what;
  };
  for (int64_t i = 0; i < before.n; ++i) {
    T s[3];
    for (int k = 0; k < 3; ++k) s[k] = before.state[k].template as<T>()[i];
    T p, g;
    if constexpr (std::is_same_v<T, double>) {
      p = before.param.as<double>()[i];
      g = before.grad.as<double>()[i];
    } else if (st.dtype == DType::kFloat32) {
      p = before.param.as<float>()[i];
      g = before.grad.as<float>()[i];
    } else {
      p = st.master ? before.master.as<float>()[i] : Widen(st.dtype, before.param.as<uint16_t>()[i]);
      g = Widen(st.dtype, before.grad.as<uint16_t>()[i]);
    }
    // The inputs, for messages.
    const T p_in = p, g_in = g, s_in[3] = {s[0], s[1], s[2]};
    auto in = [&] {
      return " (inputs: p " + Bits(p_in) + ", g " + Bits(g_in) + ", state " + Bits(s_in[0]) + ", " + Bits(s_in[1]) +
             ", " + Bits(s_in[2]) + ")";
    };
    rule(p, g, s);
    for (int k = 0; k < 3; ++k) {
      const T got = after.state[k].template as<T>()[i];
      const T want = Algo::Uses(o, k) ? s[k] : before.state[k].template as<T>()[i];
      if (!SameOrBothNaN(got, want))
        report(i, "state " + std::to_string(k) + " " + Bits(got) + ", want " + Bits(want) + in());
    }
    if (std::is_same_v<T, double> || st.dtype == DType::kFloat32) {
      const T got = std::is_same_v<T, double> ? T(after.param.as<double>()[i]) : T(after.param.as<float>()[i]);
      if (!SameOrBothNaN(got, p)) report(i, "param " + Bits(got) + ", want " + Bits(p) + in());
      continue;
    }
    const float x = static_cast<float>(p);
    const uint16_t got = after.param.as<uint16_t>()[i];
    if (std::isnan(x)) {
      if (!std::isnan(Widen(st.dtype, got))) report(i, "param " + Bits(got) + ", want a NaN" + in());
      if (st.master && !std::isnan(after.master.as<float>()[i])) report(i, "master not NaN" + in());
      continue;
    }
    if (st.master) {
      const float m = after.master.as<float>()[i];
      if (!SameOrBothNaN(m, x)) report(i, "master " + Bits(m) + ", want " + Bits(x) + in());
      if (got != Narrow(st.dtype, x))
        report(i, "param " + Bits(got) + ", want nearest rounding of master " + Bits(x) + in());
    } else if (st.stochastic) {
      const auto [lo, hi] = StochasticCandidates(st.dtype, x);
      if (got != lo && got != hi) {
        report(i,
               "param " + Bits(got) + ", want " + Bits(lo) + " or " + Bits(hi) + " (rounding " + Bits(x) + ")" + in());
      }
    } else {
      const uint16_t want = Narrow(st.dtype, x);
      if (got != want)
        report(i, "param " + Bits(got) + ", want " + Bits(want) + " (nearest of " + Bits(x) + ")" + in());
    }
  }
  return bad;
}

template <class Algo>
void CheckStepAgainstRule(const typename Algo::Options& o, const StorageSpec& st, int64_t step,
                          const std::vector<TensorData>& before, const std::vector<TensorData>& after,
                          const std::string& ctx) {
  int bad = 0;
  for (size_t t = 0; t < before.size() && bad < 3; ++t) {
    const std::string c = ctx + " tensor " + std::to_string(t);
    if (st.dtype == DType::kFloat64) {
      bad += CheckTensorAgainstRule<Algo, double>(o, st, step, before[t], after[t], c);
    } else {
      bad += CheckTensorAgainstRule<Algo, float>(o, st, step, before[t], after[t], c);
    }
    // Gradients are read only; SGD flags and NAdam's product advance as documented.
    EXPECT_TRUE(before[t].grad.bytes == after[t].grad.bytes) << c << ": gradient changed";
    if constexpr (std::is_same_v<Algo, NAdamAlgo>) {
      const double want = NAdamAlgo::NextScalarState(o, step, before[t]);
      EXPECT_TRUE(SameBits(after[t].mu_product, want))
          << c << ": mu_product " << after[t].mu_product << " want " << want;
    }
    if (!st.master) {
      EXPECT_TRUE(after[t].master.bytes.empty());
    }
  }
}

// Runs every step of the problem on the active target and thread count; with `check`, compares each
// step with the rule.
template <class Algo>
std::vector<TensorData> RunSteps(const Problem& pb, const typename Algo::Options& o, const StorageSpec& st,
                                 uint64_t seed, bool check, const std::string& ctx) {
  std::vector<TensorData> ts = pb.init;
  const Precision pr{.master_weights = false,
                     .rounding = st.stochastic ? Rounding::kStochastic : Rounding::kNearestEven,
                     .seed = seed};
  for (size_t k = 0; k < pb.steps.size(); ++k) {
    std::vector<TensorData> before;
    if (check) {
      for (size_t t = 0; t < ts.size(); ++t) ts[t].grad = pb.grads[k][t];
      before = ts;
    } else {
      for (size_t t = 0; t < ts.size(); ++t) ts[t].grad_override = pb.grads[k][t].data();
    }
    Algo::Call(ts, o, pr, pb.steps[k]);
    if (check) CheckStepAgainstRule<Algo>(o, st, pb.steps[k], before, ts, ctx + " step " + std::to_string(pb.steps[k]));
    for (size_t t = 0; t < ts.size(); ++t) {
      EXPECT_TRUE(ts[t].GuardsIntact()) << ctx << ": tensor " << t << " written outside its elements";
      ts[t].grad_override = nullptr;
    }
  }
  return ts;
}

// Restores automatic target and thread choice however a test ends.
struct Restore {
  ~Restore() {
    kernels::SetTarget("");
    SetNumThreads(0);
  }
};

const std::vector<int64_t> kSizes = {0, 1, 3, 15, 16, 17, 63, 1000, 4099};
const std::vector<int64_t> kSteps = {1, 2, 6};  // first step, second, and one where RAdam rectifies

// Every mode, every storage, the sizes above: the rule's result bitwise on the first target, and the
// same bits on every other target; stochastic rounding reproducible for a seed and different for another.
template <class Algo>
void CheckAllModesOnEveryTarget() {
  Restore restore;
  SetNumThreads(1);
  ASSERT_GE(kernels::NumAvailableTargets(), 1);
  const Values values = MakeValues(kSizes, kSteps, 17, true);
  std::vector<Problem> problems;
  for (const StorageSpec& st : kStorages) problems.push_back(MakeProblem(st, values));
  // Disagreements between targets are collected and reported once at the end, so that the reference
  // checks of every mode still run.
  int disagreements = 0;
  std::string listed;
  for (const auto& [mode, o] : Algo::Modes()) {
    for (size_t si = 0; si < std::size(kStorages); ++si) {
      const StorageSpec& st = kStorages[si];
      const Problem& pb = problems[si];
      const std::string ctx = std::string(Algo::kName) + " " + mode + " " + st.name;
      SCOPED_TRACE(ctx);
      std::vector<TensorData> first;
      for (int i = 0; i < kernels::NumAvailableTargets(); ++i) {
        const std::string_view target = kernels::AvailableTarget(i).target;
        kernels::SetTarget(target);
        ASSERT_EQ(kernels::Active().target, target);
        std::vector<TensorData> out = RunSteps<Algo>(pb, o, st, 99, true, ctx + " [" + std::string(target) + "]");
        if (i == 0) {
          first = std::move(out);
        } else if (!SameAcrossTargets(out, first) && disagreements++ < 12) {
          listed += "\n  " + ctx + ": " + std::string(target) + " vs " +
                    std::string(kernels::AvailableTarget(0).target) + " at " + FirstDifference(out, first);
        }
      }
      kernels::SetTarget("");
      if (st.stochastic) {
        const std::vector<TensorData> again = RunSteps<Algo>(pb, o, st, 99, false, ctx);
        EXPECT_TRUE(again == first) << ctx << ": same seed, different bits at " << FirstDifference(again, first);
        const std::vector<TensorData> other = RunSteps<Algo>(pb, o, st, 100, false, ctx);
        bool differs = false;
        for (size_t t = 0; t < other.size(); ++t) differs |= other[t].param.bytes != first[t].param.bytes;
        EXPECT_TRUE(differs) << ctx << ": a different seed gave the same parameters";
      }
      if (::testing::Test::HasFailure()) return;  // one failing mode is enough to read
    }
  }
  EXPECT_EQ(disagreements, 0) << "(mode, storage, target) runs whose bits differ from "
                              << kernels::AvailableTarget(0).target << ":" << listed;
}

// Every target this CPU can run is offered, best first, so that the cross-target tests run each of them
// (the development machines have had AVX-512 and not; a target the CPU lacks is only checked to be
// vectorized, by kernels_vectorized_*). A build with ADAMANT_KERNEL_TARGETS=native (the sanitizer
// preset) compiles only the best of them and the baseline.
TEST(KernelsTest, TargetsAreAllAvailableHere) {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  std::vector<std::string> expected;
#if defined(ADAMANT_NATIVE_TARGETS)
  if (avx512) {
    expected.push_back("avx512");
  } else if (avx2) {
    expected.push_back("avx2");
  }
#else
  if (avx512) expected.push_back("avx512");
  if (avx2) expected.push_back("avx2");
#endif
  expected.push_back("baseline");
  std::vector<std::string> names;
  for (int i = 0; i < kernels::NumAvailableTargets(); ++i) names.emplace_back(kernels::AvailableTarget(i).target);
  EXPECT_EQ(names, expected);
  EXPECT_THROW(kernels::SetTarget("sse9"), std::invalid_argument);
  kernels::SetTarget("");
}

TEST(KernelsTest, AdamMatchesRuleOnEveryTarget) { CheckAllModesOnEveryTarget<AdamAlgo>(); }
TEST(KernelsTest, AdamaxMatchesRuleOnEveryTarget) { CheckAllModesOnEveryTarget<AdamaxAlgo>(); }
TEST(KernelsTest, NAdamMatchesRuleOnEveryTarget) { CheckAllModesOnEveryTarget<NAdamAlgo>(); }
TEST(KernelsTest, RAdamMatchesRuleOnEveryTarget) {
  // The steps cover both branches of the rectification.
  const RAdamOptions o;
  EXPECT_FALSE(RAdamAlgo::Rectified(o, kSteps.front()));
  EXPECT_TRUE(RAdamAlgo::Rectified(o, kSteps.back()));
  CheckAllModesOnEveryTarget<RAdamAlgo>();
}
TEST(KernelsTest, AdagradMatchesRuleOnEveryTarget) { CheckAllModesOnEveryTarget<AdagradAlgo>(); }
TEST(KernelsTest, RMSpropMatchesRuleOnEveryTarget) { CheckAllModesOnEveryTarget<RMSpropAlgo>(); }
TEST(KernelsTest, AdadeltaMatchesRuleOnEveryTarget) { CheckAllModesOnEveryTarget<AdadeltaAlgo>(); }
TEST(KernelsTest, SGDMatchesRuleOnEveryTarget) { CheckAllModesOnEveryTarget<SGDAlgo>(); }
TEST(KernelsTest, LionMatchesRuleOnEveryTarget) { CheckAllModesOnEveryTarget<LionAlgo>(); }

// NaN and infinity in parameters and gradients, every pair of special values at every lane position and
// in the loop tails: every target gives the same bits, except the sign and payload of NaN results (see
// SameAcrossTargets; the design: "Results must be bitwise identical across thread counts and dispatch
// targets", with IEEE 754's one freedom documented in src/kernels/kernels.h).
template <class Algo>
int CountTargetDisagreements(const Values& values, std::string& first) {
  int disagreements = 0;
  for (const auto& [mode, o] : Algo::Modes()) {
    for (const StorageSpec& st : kStorages) {
      const Problem pb = MakeProblem(st, values);
      kernels::SetTarget(kernels::AvailableTarget(0).target);
      const std::vector<TensorData> ref = RunSteps<Algo>(pb, o, st, 3, false, "");
      for (int i = 1; i < kernels::NumAvailableTargets(); ++i) {
        kernels::SetTarget(kernels::AvailableTarget(i).target);
        const std::vector<TensorData> out = RunSteps<Algo>(pb, o, st, 3, false, "");
        if (!SameAcrossTargets(out, ref)) {
          if (disagreements++ < 12) {
            first += "\n  " + std::string(Algo::kName) + " " + mode + " " + st.name + ": " +
                     std::string(kernels::AvailableTarget(i).target) + " vs " +
                     std::string(kernels::AvailableTarget(0).target) + " at " + FirstDifference(out, ref);
          }
        }
      }
    }
  }
  kernels::SetTarget("");
  return disagreements;
}

// Only special pairs, in a long tensor (every lane position) and short ones (loop tails).
Values SpecialValues() { return MakeValues({4099, 17, 5, 100}, {1, 2}, 0, false, 1); }

TEST(KernelsTest, NaNAndInfinityGiveTheSameBitsOnEveryTarget) {
  Restore restore;
  SetNumThreads(1);
  const Values values = SpecialValues();
  std::string first;
  std::map<std::string, int> counts;
  counts["adam"] = CountTargetDisagreements<AdamAlgo>(values, first);
  counts["adamax"] = CountTargetDisagreements<AdamaxAlgo>(values, first);
  counts["nadam"] = CountTargetDisagreements<NAdamAlgo>(values, first);
  counts["radam"] = CountTargetDisagreements<RAdamAlgo>(values, first);
  counts["adagrad"] = CountTargetDisagreements<AdagradAlgo>(values, first);
  counts["rmsprop"] = CountTargetDisagreements<RMSpropAlgo>(values, first);
  counts["adadelta"] = CountTargetDisagreements<AdadeltaAlgo>(values, first);
  counts["sgd"] = CountTargetDisagreements<SGDAlgo>(values, first);
  counts["lion"] = CountTargetDisagreements<LionAlgo>(values, first);
  std::string summary;
  int total = 0;
  for (const auto& [name, c] : counts) {
    summary += " " + name + ":" + std::to_string(c);
    total += c;
  }
  EXPECT_EQ(total, 0) << "(mode, storage, target) runs that differ from " << kernels::AvailableTarget(0).target
                      << " per algorithm:" << summary << "; the first of each:" << first;
}

// --- threads ---------------------------------------------------------------------------------------------------

// ~250k elements: thousands of tiny tensors (and empty ones), dozens of odd medium ones and two large
// ones, enough that 7 threads each get more than the 32k-element minimum.
std::vector<int64_t> ManySizes() {
  std::mt19937 rng(5);
  std::vector<int64_t> sizes;
  for (int i = 0; i < 2000; ++i) sizes.push_back(i % 97 == 0 ? 0 : 1 + static_cast<int64_t>(rng() % 7));
  sizes.insert(sizes.begin() + 700, 77777);
  for (int i = 0; i < 30; ++i) sizes.insert(sizes.begin() + 60 * i + 3, 2 * static_cast<int64_t>(rng() % 2500) + 501);
  sizes.push_back(80001);
  return sizes;
}

// The problems of the thread tests, one per storage, made once for all of them. A quarter of the
// tensors (the 77777-element one among them, which threads split) hold every pair of special values: NaN
// signs and payloads must not depend on the split either.
const std::vector<Problem>& ThreadProblems() {
  static const std::vector<Problem> problems = [] {
    const Values values = MakeValues(ManySizes(), {1, 6}, 23, true, 4);
    bool large_special = false;
    for (size_t t = 0; t < values.sizes.size(); t += 4) large_special |= values.sizes[t] > 50000;
    EXPECT_TRUE(large_special) << "no large tensor holds the special pairs";
    std::vector<Problem> out;
    for (const StorageSpec& st : kStorages) out.push_back(MakeProblem(st, values));
    return out;
  }();
  return problems;
}

template <class Algo>
void CheckThreadCounts(const std::vector<std::pair<std::string, typename Algo::Options>>& modes) {
  Restore restore;
  const std::vector<Problem>& problems = ThreadProblems();
  for (const auto& [mode, o] : modes) {
    for (size_t si = 0; si < std::size(kStorages); ++si) {
      const StorageSpec& st = kStorages[si];
      const Problem& pb = problems[si];
      const std::string ctx = std::string(Algo::kName) + " " + mode + " " + st.name;
      SCOPED_TRACE(ctx);
      // The best target with 1, 2, 3 and 7 threads; the baseline target (scalar tails of other widths)
      // with 1 and 7.
      const std::string_view baseline = kernels::AvailableTarget(kernels::NumAvailableTargets() - 1).target;
      kernels::SetTarget("");
      SetNumThreads(1);
      const std::vector<TensorData> one = RunSteps<Algo>(pb, o, st, 7, false, ctx);
      for (int threads : {2, 3, 7}) {
        SetNumThreads(threads);
        ASSERT_EQ(GetNumThreads(), threads);
        const std::vector<TensorData> out = RunSteps<Algo>(pb, o, st, 7, false, ctx);
        EXPECT_TRUE(out == one) << ctx << ": " << threads << " threads differ from 1 at " << FirstDifference(out, one);
      }
      kernels::SetTarget(baseline);
      SetNumThreads(1);
      const std::vector<TensorData> base_one = RunSteps<Algo>(pb, o, st, 7, false, ctx);
      SetNumThreads(7);
      const std::vector<TensorData> base_seven = RunSteps<Algo>(pb, o, st, 7, false, ctx);
      EXPECT_TRUE(base_seven == base_one)
          << ctx << ": " << baseline << " with 7 threads differs from 1 at " << FirstDifference(base_seven, base_one);
      kernels::SetTarget("");
      // Stochastic rounding: the same bits on every target too.
      if (st.stochastic) {
        EXPECT_TRUE(SameAcrossTargets(base_seven, one)) << ctx << ": " << baseline << " with 7 threads differs from "
                                       << kernels::Active().target << " with 1 at " << FirstDifference(base_seven, one);
      }
      if (::testing::Test::HasFailure()) return;
    }
  }
}

template <class Algo>
typename Algo::Options Pick(const std::string& name) {
  for (const auto& [mode, o] : Algo::Modes()) {
    if (mode == name) return o;
  }
  ADD_FAILURE() << "no mode " << name;
  return {};
}

TEST(KernelsThreadsTest, AdamIndependentOfThreadCount) {
  CheckThreadCounts<AdamAlgo>({{"l2_amsgrad_maximize", Pick<AdamAlgo>("l2_amsgrad_maximize")}});
}
TEST(KernelsThreadsTest, AdamaxIndependentOfThreadCount) {
  CheckThreadCounts<AdamaxAlgo>({{"l2_tf", Pick<AdamaxAlgo>("l2_tf")}});
}
TEST(KernelsThreadsTest, NAdamIndependentOfThreadCount) {
  CheckThreadCounts<NAdamAlgo>({{"decoupled", Pick<NAdamAlgo>("decoupled")}});
}
TEST(KernelsThreadsTest, RAdamIndependentOfThreadCount) {
  CheckThreadCounts<RAdamAlgo>({{"l2_maximize", Pick<RAdamAlgo>("l2_maximize")}});
}
TEST(KernelsThreadsTest, AdagradIndependentOfThreadCount) {
  CheckThreadCounts<AdagradAlgo>({{"l2_lrdecay", Pick<AdagradAlgo>("l2_lrdecay")}});
}
TEST(KernelsThreadsTest, RMSpropIndependentOfThreadCount) {
  CheckThreadCounts<RMSpropAlgo>({{"l2_centered_momentum", Pick<RMSpropAlgo>("l2_centered_momentum")}});
}
TEST(KernelsThreadsTest, AdadeltaIndependentOfThreadCount) {
  CheckThreadCounts<AdadeltaAlgo>({{"l2", Pick<AdadeltaAlgo>("l2")}});
}
TEST(KernelsThreadsTest, SGDIndependentOfThreadCount) {
  CheckThreadCounts<SGDAlgo>({{"nesterov_l2", Pick<SGDAlgo>("nesterov_l2")}});
}
TEST(KernelsThreadsTest, LionIndependentOfThreadCount) {
  CheckThreadCounts<LionAlgo>({{"decay_maximize", Pick<LionAlgo>("decay_maximize")}});
}

// The split itself: pieces cover every element of every tensor exactly once, boundaries inside a tensor
// are multiples of 16 elements, and several threads really run.
struct Piece {
  size_t slot;
  int64_t begin, end;
  std::thread::id thread;
};
struct Recorder {
  const kernels::Slot* base;
  std::mutex mu;
  std::vector<Piece> pieces;
};
void Record(Recorder* r, const kernels::Slot& slot, int64_t begin, int64_t end) {
  std::lock_guard<std::mutex> lock(r->mu);
  r->pieces.push_back({static_cast<size_t>(&slot - r->base), begin, end, std::this_thread::get_id()});
}

TEST(KernelsThreadsTest, SplitCoversEveryElementOnceOnAlignedBoundaries) {
  Restore restore;
  const std::vector<std::vector<int64_t>> layouts = {
      ManySizes(), {1 << 20}, {1000003}, {0, 5, 0, 300001, 0}, {10}, {}, std::vector<int64_t>(40000, 9)};
  for (const auto& sizes : layouts) {
    std::vector<kernels::Slot> slots(sizes.size());
    int64_t total = 0;
    for (size_t k = 0; k < sizes.size(); ++k) slots[k].numel = sizes[k], total += sizes[k];
    for (int threads : {1, 2, 3, 7}) {
      SetNumThreads(threads);
      Recorder rec;
      rec.base = slots.data();
      core::ForEachPiece(std::span<const kernels::Slot>(slots),
                         [&](const kernels::Slot& slot, int64_t begin, int64_t end) { Record(&rec, slot, begin, end); });
      std::map<size_t, std::vector<std::pair<int64_t, int64_t>>> by_slot;
      std::set<std::thread::id> ids;
      for (const Piece& p : rec.pieces) {
        ASSERT_LT(p.slot, slots.size());
        ASSERT_LT(p.begin, p.end) << "empty piece";
        by_slot[p.slot].push_back({p.begin, p.end});
        ids.insert(p.thread);
      }
      for (size_t k = 0; k < slots.size(); ++k) {
        auto& v = by_slot[k];
        std::sort(v.begin(), v.end());
        int64_t next = 0;
        for (const auto& [b, e] : v) {
          ASSERT_EQ(b, next) << "slot " << k << " of " << sizes[k] << ": gap or overlap at " << b;
          if (b != 0) {
            EXPECT_EQ(b % 16, 0) << "piece boundary " << b << " in slot " << k;
          }
          next = e;
        }
        ASSERT_EQ(next, sizes[k]) << "slot " << k << " not fully covered";
      }
      const int64_t useful = std::max<int64_t>(1, total / (1 << 15));
      const int64_t expected = total == 0 ? 0 : std::min<int64_t>(threads, useful);
      EXPECT_EQ(static_cast<int64_t>(ids.size()), expected)
          << sizes.size() << " tensors, " << total << " elements, " << threads << " threads";
    }
  }
}

// --- stochastic rounding and master weights, specifically --------------------------------------------------

// Master weights: over many steps the master copy is bitwise the fp32 trajectory from the same start, and
// the parameter is always its nearest rounding.
TEST(KernelsTest, MasterCopyFollowsTheFloat32Trajectory) {
  Restore restore;
  for (DType d : {DType::kBFloat16, DType::kFloat16}) {
    const StorageSpec half{"half+master", d, true, false};
    const StorageSpec f32{"fp32", DType::kFloat32, false, false};
    Problem h = MakeProblem(half, {1, 17, 4099}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 3, false);
    // The fp32 problem: the widened parameters and the same (widened) gradients.
    Problem f;
    f.steps = h.steps;
    for (const TensorData& t : h.init) {
      TensorData ft(DType::kFloat32, t.n, t.param.offset, false);
      for (int64_t i = 0; i < t.n; ++i) ft.param.as<float>()[i] = t.master.as<float>()[i];
      f.init.push_back(std::move(ft));
    }
    for (const auto& step : h.grads) {
      std::vector<Buf> gs;
      for (const Buf& g : step) {
        Buf fg(4, g.offset, g.n);
        for (int64_t i = 0; i < g.n; ++i) fg.as<float>()[i] = Widen(d, g.as<uint16_t>()[i]);
        gs.push_back(std::move(fg));
      }
      f.grads.push_back(std::move(gs));
    }
    AdamOptions o;
    o.lr = 0.01;
    o.weight_decay = 0.01;
    o.decoupled_weight_decay = true;
    const auto ho = RunSteps<AdamAlgo>(h, o, half, 0, false, "half");
    const auto fo = RunSteps<AdamAlgo>(f, o, f32, 0, false, "fp32");
    for (size_t t = 0; t < ho.size(); ++t) {
      for (int64_t i = 0; i < ho[t].n; ++i) {
        const float m = ho[t].master.as<float>()[i];
        ASSERT_TRUE(SameBits(m, fo[t].param.as<float>()[i])) << "tensor " << t << " element " << i;
        ASSERT_EQ(ho[t].param.as<uint16_t>()[i], Narrow(d, m));
        for (int k = 0; k < 2; ++k) {
          ASSERT_TRUE(SameBits(ho[t].state[k].as<float>()[i], fo[t].state[k].as<float>()[i]));
        }
      }
    }
  }
}

// Master weights take precedence over stochastic rounding: the parameter is the nearest rounding.
TEST(KernelsTest, MasterWeightsIgnoreStochasticRounding) {
  for (DType d : {DType::kBFloat16, DType::kFloat16}) {
    const StorageSpec st{"half+master", d, true, false};
    const Problem pb = MakeProblem(st, {1000}, {1}, 11, false);
    std::vector<TensorData> a = pb.init, b = pb.init;
    a[0].grad = b[0].grad = pb.grads[0][0];
    AdamAlgo::Call(a, AdamOptions{}, Precision{}, 1);
    AdamAlgo::Call(b, AdamOptions{}, Precision{.rounding = Rounding::kStochastic, .seed = 5}, 1);
    EXPECT_TRUE(a == b) << FirstDifference(a, b);
  }
}

// Stochastic rounding depends on the tensor's position in the call and the step, not on its address.
TEST(KernelsTest, StochasticStreamsDifferBetweenTensorsAndSteps) {
  const StorageSpec st{"bf16+sr", DType::kBFloat16, false, true};
  Problem pb = MakeProblem(st, {4096, 4096}, {1}, 13, false);
  // Two tensors with identical contents, parameters between two bf16 values.
  for (int t = 0; t < 2; ++t) {
    for (int64_t i = 0; i < 4096; ++i) {
      pb.init[t].param.as<uint16_t>()[i] = FloatToBFloat16(1.0f);
      pb.grads[0][t].as<uint16_t>()[i] = FloatToBFloat16(1.0f);
    }
  }
  SGDOptions o;
  o.lr = 0.001;  // 1 - 0.001 lies between bf16 neighbours 0.99609375 and 1
  const Precision pr{.rounding = Rounding::kStochastic, .seed = 1};
  std::vector<TensorData> a = pb.init;
  a[0].grad = pb.grads[0][0];
  a[1].grad = pb.grads[0][1];
  SGDAlgo::Call(a, o, pr, 1);
  EXPECT_NE(a[0].param.bytes, a[1].param.bytes) << "two tensors in one call drew the same random bits";
  // Adam: the step number enters the stream.
  // Without bias correction the scalars do not depend on the step: x = 1 - 1e-3 * 0.1 / sqrt(1e-3) lies
  // between two bf16 values, the same at both steps, and only the stream can tell the steps apart.
  AdamOptions ao;
  ao.lr = 1e-3;
  ao.bias_correction = false;
  std::vector<TensorData> s1 = pb.init, s2 = pb.init;
  for (auto* v : {&s1, &s2}) (*v)[0].grad = pb.grads[0][0], (*v)[1].grad = pb.grads[0][1];
  AdamAlgo::Call(s1, ao, pr, 5);
  AdamAlgo::Call(s2, ao, pr, 6);
  int diff = 0;
  for (int64_t i = 0; i < 4096; ++i) diff += s1[0].param.as<uint16_t>()[i] != s2[0].param.as<uint16_t>()[i];
  EXPECT_GT(diff, 0);
}

// Validation happens before any element is touched: a bad tensor anywhere leaves every tensor unchanged.
TEST(KernelsTest, InvalidCallChangesNothing) {
  const StorageSpec st{"fp32", DType::kFloat32, false, false};
  Problem pb = MakeProblem(st, {100, 100}, {1}, 1, false);
  std::vector<TensorData> ts = pb.init;
  ts[0].grad = pb.grads[0][0];
  ts[1].grad = pb.grads[0][1];
  const std::vector<TensorData> before = ts;
  std::vector<fn::Tensor> v;
  v.push_back({ts[0].view(), {ts[0].st(0), ts[0].st(1)}, 1});
  v.push_back({ts[1].view(), {ts[1].st(0), nullptr}, 1});
  try {
    fn::Step(v, AdamOptions{}, Precision{});
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "adam: tensor 1: exp_avg_sq is null");
  }
  EXPECT_TRUE(ts == before);
  // Master weights for a float32 parameter.
  float master[100];
  v[1] = {ts[1].view(), {ts[1].st(0), ts[1].st(1)}, 1, master};
  try {
    fn::Step(v, AdamOptions{}, Precision{});
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "adam: tensor 1: master weights are for bfloat16 and float16 parameters, not float32");
  }
  EXPECT_TRUE(ts == before);
}

}  // namespace
}  // namespace adamant
