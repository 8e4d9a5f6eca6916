// Non-finite gradients and loss scaling through the optimizers and the functional layer: the three
// policies (propagate, skip, raise) with NaN and infinite gradients in every dtype, found_inf, grad_scale
// against gradients unscaled by hand, the read-only check, and their independence of threads and targets.
#include "adamant/nonfinite.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "adamant/functional.h"
#include "adamant/optimizer.h"
#include "adamant/threads.h"
#include "kernels/kernels.h"
#include "kernels/storage.h"

namespace adamant {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A value stored in / read from an element of `dtype` (nearest-even rounding for bf16/fp16).
void StoreAs(DType dtype, void* base, int64_t i, double v) {
  switch (dtype) {
    case DType::kFloat32:
      static_cast<float*>(base)[i] = static_cast<float>(v);
      return;
    case DType::kFloat64:
      static_cast<double*>(base)[i] = v;
      return;
    case DType::kBFloat16:
      static_cast<uint16_t*>(base)[i] = kernels::FloatToBFloat16(static_cast<float>(v));
      return;
    case DType::kFloat16:
      static_cast<uint16_t*>(base)[i] = kernels::FloatToFloat16(static_cast<float>(v));
      return;
    case DType::kUInt8:  // int8 state's codes, never a parameter's dtype
      return;
  }
}
double LoadAs(DType dtype, const void* base, int64_t i) {
  switch (dtype) {
    case DType::kFloat32:
      return static_cast<const float*>(base)[i];
    case DType::kFloat64:
      return static_cast<const double*>(base)[i];
    case DType::kBFloat16:
      return kernels::BFloat16ToFloat(static_cast<const uint16_t*>(base)[i]);
    case DType::kFloat16:
      return kernels::Float16ToFloat(static_cast<const uint16_t*>(base)[i]);
    case DType::kUInt8:  // int8 state's codes, never a parameter's dtype
      break;
  }
  return 0.0;
}

// One parameter and its gradient, owned as bytes.
struct Tensor {
  DType dtype;
  int64_t n;
  std::vector<unsigned char> data, grad;
  Tensor(DType d, int64_t numel) : dtype(d), n(numel), data(numel * SizeOf(d)), grad(numel * SizeOf(d)) {}
  ParamView view() { return {data.data(), grad.data(), n, dtype}; }
};

// A value in (-1, 1) from (seed, i): splitmix64, cheap enough to fill ~71k elements per step.
double Noise(uint64_t seed, uint64_t i) {
  uint64_t x = seed * 0x9E3779B97F4A7C15u + i + 1;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
  x ^= x >> 31;
  return static_cast<double>(x >> 11) * 0x1p-52 - 1.0;
}

// Two groups of mixed dtypes, ~71k elements: enough for two threads. Group 1's parameter 1 is the large one.
struct World {
  std::vector<std::vector<Tensor>> groups;
  explicit World(uint64_t seed) {
    groups = {{Tensor(DType::kFloat32, 1000), Tensor(DType::kFloat64, 37)},
              {Tensor(DType::kBFloat16, 100), Tensor(DType::kFloat32, 70000), Tensor(DType::kFloat16, 19)}};
    uint64_t k = 0;
    for (auto& group : groups) {
      for (Tensor& t : group) {
        for (int64_t i = 0; i < t.n; ++i) StoreAs(t.dtype, t.data.data(), i, Noise(seed, k++));
      }
    }
  }
  std::vector<std::vector<ParamView>> views() {
    std::vector<std::vector<ParamView>> out;
    for (auto& group : groups) {
      out.emplace_back();
      for (Tensor& t : group) out.back().push_back(t.view());
    }
    return out;
  }
  // Finite gradients of step k, the same in every world; `scale` multiplies them (in double, then stored).
  void SetGrads(int k, double scale = 1.0) {
    uint64_t j = 0;
    for (auto& group : groups) {
      for (Tensor& t : group) {
        for (int64_t i = 0; i < t.n; ++i) StoreAs(t.dtype, t.grad.data(), i, Noise(1000 + k, j++) * scale);
      }
    }
  }
};

using Factory = std::function<std::unique_ptr<Optimizer>(std::vector<std::vector<ParamView>>)>;

template <class Opt, class Options>
std::unique_ptr<Optimizer> Build(std::vector<std::vector<ParamView>> views, const Options& o) {
  std::vector<ParamGroup<Options>> groups;
  for (auto& v : views) groups.push_back({std::move(v), o});
  return std::make_unique<Opt>(std::move(groups), o);
}

// Every algorithm, with options that create all of its state.
struct Algo {
  const char* name;
  Factory make;
};
const std::vector<Algo>& Algos() {
  static const std::vector<Algo> algos = {
      {"adam", [](auto v) { return Build<Adam>(std::move(v), AdamOptions{.lr = 1e-2, .amsgrad = true}); }},
      {"adamw",
       [](auto v) {
         std::vector<ParamGroup<AdamOptions>> groups;
         for (auto& g : v) groups.push_back({std::move(g), AdamWOptions{}});
         return std::unique_ptr<Optimizer>(std::make_unique<AdamW>(std::move(groups)));
       }},
      {"adamax", [](auto v) { return Build<Adamax>(std::move(v), AdamaxOptions{.weight_decay = 0.1}); }},
      {"nadam", [](auto v) { return Build<NAdam>(std::move(v), NAdamOptions{}); }},
      {"radam", [](auto v) { return Build<RAdam>(std::move(v), RAdamOptions{}); }},
      {"adagrad", [](auto v) { return Build<Adagrad>(std::move(v), AdagradOptions{.lr_decay = 0.01}); }},
      {"rmsprop",
       [](auto v) { return Build<RMSprop>(std::move(v), RMSpropOptions{.momentum = 0.5, .centered = true}); }},
      {"adadelta", [](auto v) { return Build<Adadelta>(std::move(v), AdadeltaOptions{}); }},
      {"sgd", [](auto v) { return Build<SGD>(std::move(v), SGDOptions{.momentum = 0.9, .nesterov = true}); }},
  };
  return algos;
}

// Everything a step may change: parameters, gradients and state, as bytes and copies.
struct Snapshot {
  std::vector<std::vector<unsigned char>> data, grads;
  std::vector<ParamState> states;
};
Snapshot Take(World& w, const Optimizer& opt) {
  Snapshot s;
  for (size_t g = 0; g < w.groups.size(); ++g) {
    for (size_t i = 0; i < w.groups[g].size(); ++i) {
      s.data.push_back(w.groups[g][i].data);
      s.grads.push_back(w.groups[g][i].grad);
      s.states.push_back(opt.state(g, i));
    }
  }
  return s;
}
bool SameBuffers(const ParamState& a, const ParamState& b) {
  if (a.step != b.step || a.mu_product != b.mu_product || a.buffers.size() != b.buffers.size()) return false;
  for (const auto& [name, buf] : a.buffers) {
    if (!b.has(name)) return false;
    const Buffer& other = b.at(name);
    if (buf.dtype() != other.dtype() || buf.numel() != other.numel() ||
        std::memcmp(buf.data(), other.data(), buf.nbytes()) != 0) {
      return false;
    }
  }
  return true;
}
// Parameters and state bitwise equal (and gradients, with `grads`).
::testing::AssertionResult Same(const Snapshot& a, const Snapshot& b, bool grads = true) {
  for (size_t k = 0; k < a.data.size(); ++k) {
    if (a.data[k] != b.data[k]) return ::testing::AssertionFailure() << "parameter " << k << " differs";
    if (grads && a.grads[k] != b.grads[k]) return ::testing::AssertionFailure() << "gradient " << k << " differs";
    if (!SameBuffers(a.states[k], b.states[k])) return ::testing::AssertionFailure() << "state " << k << " differs";
  }
  return ::testing::AssertionSuccess();
}

struct Bad {
  size_t group, index;
  int64_t element;
  double value;
};
// A NaN in a float32, a float64, a bfloat16 and a float16 tensor in turn, at the start, the end and the
// middle of a thread's share; +inf and -inf in two of them.
const Bad kBads[] = {{1, 1, 69999, kNaN}, {0, 1, 5, kNaN},   {1, 0, 3, kNaN},     {1, 2, 18, kNaN},
                     {1, 1, 35000, kNaN}, {0, 0, 0, kNaN},   {1, 1, 69999, kInf}, {1, 0, 3, -kInf},
                     {1, 2, 0, kInf},     {0, 1, 36, -kInf}};
const double kBadValues[] = {kNaN, kInf, -kInf};

class NonFiniteTest : public ::testing::Test {
 protected:
  void SetUp() override { SetNumThreads(2); }
  void TearDown() override {
    SetNumThreads(0);
    kernels::SetTarget("");
  }
};

// skip: the bad step changes nothing (not the step counts, not the stochastic-rounding stream); the next
// finite step gives exactly what an optimizer that never saw the bad step gives.
TEST_F(NonFiniteTest, SkipChangesNothingAndTheNextStepProceeds) {
  for (const Algo& algo : Algos()) {
    for (const Bad& bad : kBads) {
      const double value = bad.value;
      SCOPED_TRACE(std::string(algo.name) + " group " + std::to_string(bad.group) + " param " +
                   std::to_string(bad.index) + " value " + std::to_string(value));
      World a(1), b(1);
      auto opt_a = algo.make(a.views());
      auto opt_b = algo.make(b.views());
      const Precision stochastic{.rounding = Rounding::kStochastic, .seed = 7};
      opt_a->set_precision(stochastic);
      opt_b->set_precision(stochastic);
      opt_a->set_nonfinite(NonFinite::kSkip);
      for (int k = 0; k < 2; ++k) {
        a.SetGrads(k), b.SetGrads(k);
        opt_a->Step(), opt_b->Step();
        EXPECT_FALSE(opt_a->last_step_skipped());
      }
      a.SetGrads(2);
      Tensor& t = a.groups[bad.group][bad.index];
      StoreAs(t.dtype, t.grad.data(), bad.element, value);
      const Snapshot before = Take(a, *opt_a);
      opt_a->Step();
      EXPECT_TRUE(opt_a->last_step_skipped());
      EXPECT_TRUE(Same(Take(a, *opt_a), before));
      a.SetGrads(3), b.SetGrads(3);
      opt_a->Step(), opt_b->Step();
      EXPECT_FALSE(opt_a->last_step_skipped());
      EXPECT_TRUE(Same(Take(a, *opt_a), Take(b, *opt_b)));
      if (std::string(algo.name) != "sgd") {
        EXPECT_EQ(opt_a->state(0, 0).step, 3);
      }
    }
  }
}

// raise: NonFiniteGradientError names the group and the parameter, and nothing changes.
TEST_F(NonFiniteTest, RaiseNamesGroupAndParameterAndChangesNothing) {
  for (const Algo& algo : Algos()) {
    for (const Bad& bad : kBads) {
      SCOPED_TRACE(std::string(algo.name) + " group " + std::to_string(bad.group) + " param " +
                   std::to_string(bad.index));
      World a(2);
      auto opt = algo.make(a.views());
      opt->set_nonfinite(NonFinite::kRaise);
      a.SetGrads(0);
      opt->Step();
      a.SetGrads(1);
      Tensor& t = a.groups[bad.group][bad.index];
      StoreAs(t.dtype, t.grad.data(), bad.element, bad.value);
      const Snapshot before = Take(a, *opt);
      std::string message = "<no error>";
      try {
        opt->Step();
      } catch (const NonFiniteGradientError& e) {
        message = e.what();
        EXPECT_EQ(e.group(), bad.group);
        EXPECT_EQ(e.index(), bad.index);
      }
      EXPECT_EQ(message, std::string(algo.name) + ": param group " + std::to_string(bad.group) + ", parameter " +
                             std::to_string(bad.index) +
                             ": the gradient is not finite (it holds a NaN or an infinity); the step was refused "
                             "and nothing changed (nonfinite = raise)");
      EXPECT_TRUE(Same(Take(a, *opt), before));
      EXPECT_FALSE(opt->last_step_skipped());  // the last step that returned was taken
    }
  }
}

// raise names the first bad parameter in group order, and is a std::runtime_error.
TEST_F(NonFiniteTest, RaiseNamesTheFirstBadParameter) {
  World a(3);
  auto opt = Algos()[0].make(a.views());
  opt->set_nonfinite(NonFinite::kRaise);
  a.SetGrads(0);
  StoreAs(DType::kFloat16, a.groups[1][2].grad.data(), 0, kInf);
  StoreAs(DType::kBFloat16, a.groups[1][0].grad.data(), 99, kNaN);
  EXPECT_THROW(
      {
        try {
          opt->Step();
        } catch (const std::runtime_error& e) {
          EXPECT_TRUE(Contains(e.what(), "param group 1, parameter 0:")) << e.what();
          throw;
        }
      },
      NonFiniteGradientError);
}

// propagate (the default): PyTorch's behaviour. The bad element's parameter becomes non-finite (NaN for a
// NaN gradient); every other element is updated exactly as if the bad one were finite.
TEST_F(NonFiniteTest, PropagateLetsTheValueIntoTheParameters) {
  for (const Algo& algo : Algos()) {
    for (const Bad& bad : kBads) {
      const double value = bad.value;
      SCOPED_TRACE(std::string(algo.name) + " value " + std::to_string(value));
      World a(4), b(4);
      auto opt_a = algo.make(a.views());
      auto opt_b = algo.make(b.views());
      EXPECT_EQ(opt_a->nonfinite(), NonFinite::kPropagate);
      a.SetGrads(0), b.SetGrads(0);
      Tensor& t = a.groups[bad.group][bad.index];
      StoreAs(t.dtype, t.grad.data(), bad.element, value);
      opt_a->Step(), opt_b->Step();
      EXPECT_FALSE(opt_a->last_step_skipped());
      const double p = LoadAs(t.dtype, t.data.data(), bad.element);
      EXPECT_FALSE(std::isfinite(p)) << p;
      if (std::isnan(value)) {
        EXPECT_TRUE(std::isnan(p)) << p;
      }
      // Restore the element in both, then everything else must agree bitwise.
      Tensor& u = b.groups[bad.group][bad.index];
      std::memcpy(t.data.data() + bad.element * SizeOf(t.dtype), u.data.data() + bad.element * SizeOf(t.dtype),
                  SizeOf(t.dtype));
      EXPECT_EQ(t.data, u.data);
      if (std::string(algo.name) != "sgd") {
        EXPECT_EQ(opt_a->state(bad.group, bad.index).step, 1);
      }
    }
  }
}

// found_inf: the step changes nothing (gradients included, even with a grad_scale), under every policy.
TEST_F(NonFiniteTest, FoundInfSkipsTheStep) {
  for (const Algo& algo : Algos()) {
    for (NonFinite policy : {NonFinite::kPropagate, NonFinite::kSkip, NonFinite::kRaise}) {
      SCOPED_TRACE(std::string(algo.name) + " " + std::string(NonFiniteName(policy)));
      World a(5), b(5);
      auto opt_a = algo.make(a.views());
      auto opt_b = algo.make(b.views());
      opt_a->set_nonfinite(policy);
      a.SetGrads(0), b.SetGrads(0);
      opt_a->Step(), opt_b->Step();
      a.SetGrads(1);
      StoreAs(DType::kFloat32, a.groups[0][0].grad.data(), 3, kNaN);  // what the scaler found
      const Snapshot before = Take(a, *opt_a);
      opt_a->Step({.grad_scale = 4.0, .found_inf = true});
      EXPECT_TRUE(opt_a->last_step_skipped());
      EXPECT_TRUE(Same(Take(a, *opt_a), before));
      a.SetGrads(2), b.SetGrads(2);
      opt_a->Step(), opt_b->Step();
      EXPECT_FALSE(opt_a->last_step_skipped());
      EXPECT_TRUE(Same(Take(a, *opt_a), Take(b, *opt_b)));
    }
  }
}

// grad_scale: the step equals a step on the gradients divided by grad_scale in the compute type (float32
// for float32/bf16/fp16, float64 for float64: PyTorch's fused kernels divide, grad / grad_scale), and the
// gradients are left holding those quotients. With 8 every quotient is exact in every dtype; with 3 only
// the float32 and float64 tensors are compared (a bf16/fp16 quotient used unrounded by the step cannot be
// written as a bf16/fp16 gradient).
TEST_F(NonFiniteTest, GradScaleEqualsGradientsDividedByHand) {
  for (const Algo& algo : Algos()) {
    for (double scale : {8.0, 3.0}) {
      SCOPED_TRACE(std::string(algo.name) + " scale " + std::to_string(scale));
      World a(6), b(6);
      auto opt_a = algo.make(a.views());
      auto opt_b = algo.make(b.views());
      for (int k = 0; k < 3; ++k) {
        a.SetGrads(k, scale);
        b.SetGrads(k, scale);
        // b's gradients divided by hand, in the compute type.
        for (auto& group : b.groups) {
          for (Tensor& t : group) {
            for (int64_t i = 0; i < t.n; ++i) {
              const double g = LoadAs(t.dtype, t.grad.data(), i);
              const double q = t.dtype == DType::kFloat64 ? g / scale
                                                          : static_cast<double>(static_cast<float>(g) /
                                                                                static_cast<float>(scale));
              StoreAs(t.dtype, t.grad.data(), i, q);
            }
          }
        }
        opt_a->Step({.grad_scale = scale});
        opt_b->Step();
        EXPECT_FALSE(opt_a->last_step_skipped());
        for (size_t g = 0; g < a.groups.size(); ++g) {
          for (size_t i = 0; i < a.groups[g].size(); ++i) {
            const Tensor& ta = a.groups[g][i];
            const Tensor& tb = b.groups[g][i];
            EXPECT_EQ(ta.grad, tb.grad) << "the unscaled gradient written back, group " << g << " param " << i;
            const bool exact = scale == 8.0 || ta.dtype == DType::kFloat32 || ta.dtype == DType::kFloat64;
            if (exact) {
              EXPECT_EQ(ta.data, tb.data) << "group " << g << " param " << i;
              EXPECT_TRUE(SameBuffers(opt_a->state(g, i), opt_b->state(g, i))) << "group " << g << " param " << i;
            }
          }
        }
      }
    }
  }
}

// Division, not multiplication by the reciprocal: the test above tells them apart on its data.
TEST_F(NonFiniteTest, GradScaleDividesRatherThanMultipliesByTheReciprocal) {
  World w(6);
  w.SetGrads(0, 3.0);
  const auto* g = reinterpret_cast<const float*>(w.groups[1][1].grad.data());
  int differ = 0;
  for (int64_t i = 0; i < w.groups[1][1].n; ++i) differ += (g[i] / 3.0f) != (g[i] * (1.0f / 3.0f));
  EXPECT_GT(differ, 1000);
}

// grad_scale 1 is the unscaled step, bit for bit, and only reads the gradients.
TEST_F(NonFiniteTest, GradScaleOneIsThePlainStep) {
  for (const Algo& algo : Algos()) {
    SCOPED_TRACE(algo.name);
    World a(7), b(7);
    auto opt_a = algo.make(a.views());
    auto opt_b = algo.make(b.views());
    for (int k = 0; k < 2; ++k) {
      a.SetGrads(k), b.SetGrads(k);
      opt_a->Step({.grad_scale = 1.0}), opt_b->Step();
      EXPECT_TRUE(Same(Take(a, *opt_a), Take(b, *opt_b)));
    }
  }
}

// A scale below 1 can overflow a finite gradient: skip checks the quotient the step would use.
TEST_F(NonFiniteTest, SkipChecksTheUnscaledGradient) {
  World a(8);
  auto opt = Algos()[0].make(a.views());
  opt->set_nonfinite(NonFinite::kSkip);
  a.SetGrads(0);
  StoreAs(DType::kFloat32, a.groups[1][1].grad.data(), 12345, 3e38);
  const Snapshot before = Take(a, *opt);
  opt->Step({.grad_scale = 0.5});  // 3e38 / 0.5 overflows float32
  EXPECT_TRUE(opt->last_step_skipped());
  EXPECT_TRUE(Same(Take(a, *opt), before));
  opt->Step({.grad_scale = 2.0});
  EXPECT_FALSE(opt->last_step_skipped());
  EXPECT_FLOAT_EQ(LoadAs(DType::kFloat32, a.groups[1][1].grad.data(), 12345), 1.5e38f);
}

TEST_F(NonFiniteTest, InvalidGradScaleIsRejectedBeforeAnythingChanges) {
  const std::pair<double, std::string> cases[] = {{0.0, "0.0"}, {-2.0, "-2.0"}, {kInf, "inf"}, {kNaN, "nan"}};
  for (const auto& [scale, text] : cases) {
    World a(9);
    auto opt = Algos()[0].make(a.views());
    a.SetGrads(0);
    const Snapshot before = Take(a, *opt);
    std::string message = "<no error>";
    try {
      opt->Step({.grad_scale = scale});
    } catch (const std::invalid_argument& e) {
      message = e.what();
    }
    EXPECT_EQ(message, "Invalid grad_scale value: " + text + " (it must be finite and > 0)");
    EXPECT_TRUE(Same(Take(a, *opt), before));
    std::vector<ParamView> views = {a.groups[0][0].view()};
    EXPECT_THROW((void)functional::FirstNonFinite(views, scale), std::invalid_argument);
  }
}

// The same run (skip policy, loss scaling, one skipped step) gives the same bits for every thread count
// and SIMD target.
TEST_F(NonFiniteTest, SameBitsForEveryThreadCountAndTarget) {
  for (const Algo& algo : Algos()) {
    SCOPED_TRACE(algo.name);
    std::vector<Snapshot> results;
    for (int t = 0; t < kernels::NumAvailableTargets(); ++t) {
      kernels::SetTarget(kernels::AvailableTarget(t).target);
      for (int threads : {1, 2, 3}) {
        SetNumThreads(threads);
        World a(10);
        auto opt = algo.make(a.views());
        opt->set_nonfinite(NonFinite::kSkip);
        for (int k = 0; k < 3; ++k) {
          a.SetGrads(k, 3.0);
          if (k == 1) StoreAs(DType::kFloat32, a.groups[1][1].grad.data(), 40000, kInf);
          opt->Step({.grad_scale = 3.0});
          EXPECT_EQ(opt->last_step_skipped(), k == 1);
        }
        results.push_back(Take(a, *opt));
      }
    }
    for (size_t r = 1; r < results.size(); ++r) EXPECT_TRUE(Same(results[r], results[0])) << "run " << r;
  }
}

// The check finds a NaN or an inf at every position (the four interleaved streams and the tail) in every
// dtype, on every target and thread count.
TEST_F(NonFiniteTest, FirstNonFiniteFindsEveryPosition) {
  const DType dtypes[] = {DType::kFloat32, DType::kFloat64, DType::kBFloat16, DType::kFloat16};
  for (int t = 0; t < kernels::NumAvailableTargets(); ++t) {
    kernels::SetTarget(kernels::AvailableTarget(t).target);
    for (DType dtype : dtypes) {
      for (int64_t n = 1; n <= 70; ++n) {
        Tensor clean(dtype, 50), bad(dtype, n);
        for (int64_t i = 0; i < n; ++i) StoreAs(dtype, bad.grad.data(), i, 1.0 + static_cast<double>(i));
        std::vector<ParamView> views = {clean.view(), {nullptr, nullptr, 3, dtype}, bad.view()};
        ASSERT_EQ(functional::FirstNonFinite(views), std::nullopt);
        for (int64_t e = 0; e < n; ++e) {
          for (double value : kBadValues) {
            StoreAs(dtype, bad.grad.data(), e, value);
            const auto found = functional::FirstNonFinite(views);
            ASSERT_TRUE(found.has_value()) << DTypeName(dtype) << " n " << n << " e " << e;
            EXPECT_EQ(*found, 2u);
            StoreAs(dtype, bad.grad.data(), e, 1.0);
          }
        }
      }
    }
  }
}

// Many tensors over several threads: always the first bad one.
TEST_F(NonFiniteTest, FirstNonFiniteIsTheFirstForAnyThreadCount) {
  std::vector<Tensor> tensors;
  for (int k = 0; k < 100; ++k) tensors.emplace_back(DType::kFloat32, 5000);
  std::vector<ParamView> views;
  for (Tensor& t : tensors) views.push_back(t.view());
  StoreAs(DType::kFloat32, tensors[80].grad.data(), 10, kNaN);
  StoreAs(DType::kFloat32, tensors[37].grad.data(), 4999, -kInf);
  StoreAs(DType::kFloat32, tensors[99].grad.data(), 0, kInf);
  for (int threads = 1; threads <= 5; ++threads) {
    SetNumThreads(threads);
    EXPECT_EQ(functional::FirstNonFinite(views), 37u) << threads << " threads";
  }
}

// Scales below 1 are checked on the quotient in the compute type: a float16 gradient's float32 quotient
// does not overflow where a float32 or bfloat16 one does.
TEST_F(NonFiniteTest, FirstNonFiniteChecksTheQuotient) {
  const std::pair<DType, double> cases[] = {
      {DType::kFloat32, 3e38}, {DType::kBFloat16, 3e38}, {DType::kFloat64, 1e308}, {DType::kFloat16, 65504}};
  for (const auto& [dtype, big] : cases) {
    Tensor t(dtype, 33);
    StoreAs(dtype, t.grad.data(), 31, big);
    std::vector<ParamView> views = {t.view()};
    EXPECT_EQ(functional::FirstNonFinite(views, 1.0), std::nullopt);
    EXPECT_EQ(functional::FirstNonFinite(views, 2.0), std::nullopt);
    if (dtype == DType::kFloat16) {
      EXPECT_EQ(functional::FirstNonFinite(views, 0.5), std::nullopt) << "65504 / 0.5 is finite in float32";
    } else {
      EXPECT_EQ(functional::FirstNonFinite(views, 0.5), 0u) << DTypeName(dtype);
    }
  }
}

TEST(NonFiniteNames, ParseAndPrint) {
  for (NonFinite p : {NonFinite::kPropagate, NonFinite::kSkip, NonFinite::kRaise}) {
    EXPECT_EQ(ParseNonFinite(NonFiniteName(p)), p);
  }
  EXPECT_EQ(NonFiniteName(NonFinite::kSkip), "skip");
  std::string message;
  try {
    ParseNonFinite("ignore");
  } catch (const std::invalid_argument& e) {
    message = e.what();
  }
  EXPECT_EQ(message, "Invalid nonfinite value: 'ignore' (expected 'propagate', 'skip' or 'raise')");
}

// The functional layer: found_inf returns before anything changes, NAdam's mu_product included.
TEST(NonFiniteFunctional, FoundInfChangesNothing) {
  std::vector<float> p = {1.0f, 2.0f}, g = {0.5f, -0.5f}, m(2), v(2);
  double mu_product = 1.0;
  const std::vector<functional::Tensor> tensors = {
      {MakeParam(p.data(), g.data(), 2), {m.data(), v.data()}, 1, nullptr, &mu_product}};
  functional::Step(tensors, NAdamOptions{}, {}, {.grad_scale = 2.0, .found_inf = true});
  EXPECT_EQ(p, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(g, (std::vector<float>{0.5f, -0.5f}));
  EXPECT_EQ(mu_product, 1.0);
  EXPECT_EQ(m, (std::vector<float>{0.0f, 0.0f}));
  functional::Step(tensors, NAdamOptions{}, {}, {.grad_scale = 2.0});
  EXPECT_NE(p[0], 1.0f);
  EXPECT_EQ(g, (std::vector<float>{0.25f, -0.25f}));
  EXPECT_NE(mu_product, 1.0);
}

}  // namespace
}  // namespace adamant
