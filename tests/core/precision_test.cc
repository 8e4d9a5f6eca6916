// Mixed precision through the stateful optimizers: bf16/fp16 parameters, float32 state, master weights,
// stochastic rounding, float64 parameters and groups that mix dtypes.
#include "adamant/precision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "adamant/dtype.h"
#include "adamant/factory.h"
#include "adamant/functional.h"
#include "adamant/optimizer.h"
#include "adamant/param.h"
#include "core/mix.h"
#include "kernels/storage.h"
#include "support/error_of.h"
#include "support/half.h"

namespace adamant {
namespace {

using kernels::BFloat16ToFloat;
using kernels::Float16ToFloat;
using kernels::FloatToBFloat16;
using kernels::FloatToFloat16;

using test_support::Narrow;
using test_support::Widen;

bool SameBits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

const DType kHalves[] = {DType::kBFloat16, DType::kFloat16};

// A bf16/fp16 parameter and its gradient, owned by the test.
struct Half {
  DType dtype;
  std::vector<uint16_t> data, grad;
  Half(DType d, const std::vector<float>& values) : dtype(d), data(values.size()), grad(values.size()) {
    for (size_t i = 0; i < values.size(); ++i) data[i] = Narrow(d, values[i]);
  }
  ParamView view() { return {data.data(), grad.data(), static_cast<int64_t>(data.size()), dtype}; }
  std::vector<float> widened() const {
    std::vector<float> out(data.size());
    for (size_t i = 0; i < data.size(); ++i) out[i] = Widen(dtype, data[i]);
    return out;
  }
};

std::vector<float> Normal(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Each algorithm by factory name, with options that exercise its state (momentum, amsgrad, centered...).
struct Algo {
  const char* name;
  const char* options;
};
const Algo kAlgos[] = {
    {"adam", "lr=0.05 amsgrad=true weight_decay=0.01"},
    {"adamw", "lr=0.05"},
    {"adamax", "lr=0.05"},
    {"nadam", "lr=0.05"},
    {"radam", "lr=0.05"},
    {"adagrad", "lr=0.3"},
    {"rmsprop", "lr=0.01 momentum=0.5 centered=true"},
    {"adadelta", "lr=1.0"},
    {"sgd", "lr=0.1 momentum=0.9 nesterov=true"},
    {"lion", "lr=0.01 weight_decay=0.1"},
};

TEST(PrecisionTest, EveryAlgorithmIsExercised) {
  for (std::string_view name : AlgorithmNames()) {
    bool found = false;
    for (const Algo& a : kAlgos) found = found || name == a.name;
    EXPECT_TRUE(found) << name << " is missing from kAlgos";
  }
}

std::unique_ptr<Optimizer> Make(const Algo& a, std::vector<ParamView> params) {
  return CreateOptimizer(a.name, std::move(params), ParseOptionList(a.options));
}

double Loss(const std::vector<float>& p, const std::vector<float>& target) {
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) s += 0.5 * (p[i] - target[i]) * (p[i] - target[i]);
  return s;
}

// bf16 and fp16 parameters train with every algorithm (a quadratic towards a target), keep float32 state
// of their size under PyTorch's names, and have no master copy unless asked for.
TEST(PrecisionTest, HalfParametersTrainWithEveryAlgorithm) {
  EXPECT_EQ(StateDType(DType::kBFloat16), DType::kFloat32);
  EXPECT_EQ(StateDType(DType::kFloat16), DType::kFloat32);
  EXPECT_EQ(StateDType(DType::kFloat32), DType::kFloat32);
  EXPECT_EQ(StateDType(DType::kFloat64), DType::kFloat64);
  const std::vector<float> target = Normal(257, 1, 0.5f);
  for (DType d : kHalves) {
    for (const Algo& a : kAlgos) {
      SCOPED_TRACE(std::string(a.name) + " " + std::string(DTypeName(d)));
      Half p(d, Normal(257, 2, 0.5f));
      auto opt = Make(a, {p.view()});
      const double initial = Loss(p.widened(), target);
      for (int step = 0; step < 300; ++step) {
        const std::vector<float> w = p.widened();
        for (size_t i = 0; i < w.size(); ++i) p.grad[i] = Narrow(d, w[i] - target[i]);
        opt->Step();
      }
      const double final_loss = Loss(p.widened(), target);
      EXPECT_TRUE(std::isfinite(final_loss));
      EXPECT_LT(final_loss, 0.1 * initial) << "initial loss " << initial;
      const ParamState& s = opt->state(0, 0);
      EXPECT_FALSE(s.buffers.empty());
      EXPECT_FALSE(s.has("master_param"));
      for (const auto& [name, buf] : s.buffers) {
        EXPECT_EQ(buf.dtype(), DType::kFloat32) << name;
        EXPECT_EQ(buf.numel(), 257) << name;
      }
      if (std::string(a.name) != "sgd") {
        EXPECT_EQ(s.step, 300);
      }
    }
  }
}

// A fixed gradient sequence of values exact in `d` (so the float32 run can be given the same values).
std::vector<std::vector<uint16_t>> GradSequence(DType d, size_t n, int steps, uint64_t seed) {
  std::vector<std::vector<uint16_t>> out;
  for (int k = 0; k < steps; ++k) {
    const std::vector<float> g = Normal(n, seed + static_cast<uint64_t>(k), k % 7 == 3 ? 1e-3f : 1.0f);
    std::vector<uint16_t> h(n);
    for (size_t i = 0; i < n; ++i) h[i] = Narrow(d, g[i]);
    out.push_back(std::move(h));
  }
  return out;
}

// With master weights the copy starts as the widened parameter: a step with lr = 0 leaves it there.
TEST(PrecisionTest, MasterCopyStartsAsTheWidenedParameter) {
  for (DType d : kHalves) {
    Half p(d, Normal(100, 3));
    p.grad = GradSequence(d, 100, 1, 9)[0];
    AdamOptions o;
    o.lr = 0.0;
    Adam opt({p.view()}, o);
    opt.set_precision({.master_weights = true});
    const std::vector<float> before = p.widened();
    opt.Step();
    ASSERT_TRUE(opt.state(0, 0).has("master_param"));
    const Buffer& m = opt.state(0, 0).at("master_param");
    ASSERT_EQ(m.dtype(), DType::kFloat32);
    ASSERT_EQ(m.numel(), 100);
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(SameBits(m.as<float>()[i], before[i])) << i;
  }
}

// Switching master weights on after some steps makes the copy from the parameter as it is then.
TEST(PrecisionTest, MasterCopyMadeLateStartsFromTheCurrentParameter) {
  Half p(DType::kBFloat16, Normal(64, 4));
  const auto grads = GradSequence(DType::kBFloat16, 64, 4, 10);
  Adam opt({p.view()}, AdamOptions{.lr = 0.05});
  for (int k = 0; k < 3; ++k) {
    p.grad = grads[k];
    opt.Step();
  }
  EXPECT_FALSE(opt.state(0, 0).has("master_param"));
  opt.set_precision({.master_weights = true});
  opt.set_lr(0, 0.0);
  const std::vector<float> now = p.widened();
  p.grad = grads[3];
  opt.Step();
  ASSERT_TRUE(opt.state(0, 0).has("master_param"));
  for (int i = 0; i < 64; ++i) EXPECT_TRUE(SameBits(opt.state(0, 0).at("master_param").as<float>()[i], now[i]));
}

// 50 steps with master weights: the master copy (and every state buffer) is bitwise the float32 run from
// the same widened start with the same gradients, and the parameter is the master's nearest rounding.
// Adam as the brief's case, and every other algorithm too.
TEST(PrecisionTest, MasterCopyIsTheFloat32Trajectory) {
  constexpr size_t kN = 333;
  constexpr int kSteps = 50;
  for (DType d : kHalves) {
    for (const Algo& a : kAlgos) {
      SCOPED_TRACE(std::string(a.name) + " " + std::string(DTypeName(d)));
      Half h(d, Normal(kN, 5));
      std::vector<float> f = h.widened(), fg(kN);
      auto half_opt = Make(a, {h.view()});
      half_opt->set_precision({.master_weights = true});
      auto f32_opt = Make(a, {MakeParam(f.data(), fg.data(), kN)});
      const auto grads = GradSequence(d, kN, kSteps, 20);
      for (int k = 0; k < kSteps; ++k) {
        h.grad = grads[k];
        for (size_t i = 0; i < kN; ++i) fg[i] = Widen(d, grads[k][i]);
        half_opt->Step();
        f32_opt->Step();
        const ParamState& hs = half_opt->state(0, 0);
        const ParamState& fs = f32_opt->state(0, 0);
        ASSERT_TRUE(hs.has("master_param"));
        const float* m = hs.at("master_param").as<float>().data();
        for (size_t i = 0; i < kN; ++i) {
          ASSERT_TRUE(SameBits(m[i], f[i]))
              << "step " << k + 1 << " element " << i << ": master " << m[i] << ", float32 " << f[i];
          ASSERT_EQ(h.data[i], Narrow(d, m[i])) << "step " << k + 1 << " element " << i;
        }
        EXPECT_EQ(hs.step, fs.step);
        EXPECT_EQ(hs.buffers.size(), fs.buffers.size() + 1);
        for (const auto& [name, buf] : fs.buffers) {
          ASSERT_TRUE(hs.has(name)) << name;
          ASSERT_EQ(std::memcmp(hs.at(name).data(), buf.data(), buf.nbytes()), 0) << name << " at step " << k + 1;
        }
      }
    }
  }
}

// Stochastic rounding with a seed: two optimizers fed the same gradients give the same bits at every
// step; another seed gives other bits.
TEST(PrecisionTest, StochasticRoundingIsReproducibleForASeed) {
  constexpr size_t kN = 1000;
  for (DType d : kHalves) {
    for (const Algo& a : kAlgos) {
      SCOPED_TRACE(std::string(a.name) + " " + std::string(DTypeName(d)));
      const std::vector<float> init = Normal(kN, 6);
      Half p1(d, init), p2(d, init), p3(d, init);
      auto o1 = Make(a, {p1.view()});
      auto o2 = Make(a, {p2.view()});
      auto o3 = Make(a, {p3.view()});
      o1->set_precision({.rounding = Rounding::kStochastic, .seed = 42});
      o2->set_precision({.rounding = Rounding::kStochastic, .seed = 42});
      o3->set_precision({.rounding = Rounding::kStochastic, .seed = 43});
      const auto grads = GradSequence(d, kN, 10, 30);
      bool differs = false;
      for (int k = 0; k < 10; ++k) {
        p1.grad = p2.grad = p3.grad = grads[k];
        o1->Step();
        o2->Step();
        o3->Step();
        ASSERT_EQ(p1.data, p2.data) << "step " << k + 1;
        differs |= p1.data != p3.data;
        EXPECT_FALSE(o1->state(0, 0).has("master_param"));
      }
      EXPECT_TRUE(differs) << "seeds 42 and 43 gave the same parameters";
    }
  }
}

// With a tiny learning rate every update is below half an ulp: nearest rounding never moves the
// parameter, stochastic rounding moves it by the right amount on average.
TEST(PrecisionTest, StochasticRoundingProgressesWhereNearestIsStuck) {
  constexpr size_t kN = 4096;
  constexpr int kSteps = 300;
  constexpr double kLr = 1e-4;  // below half the spacing under 1.0: 2^-9 (bf16), 2^-12 (fp16)
  for (DType d : kHalves) {
    SCOPED_TRACE(std::string(DTypeName(d)));
    const std::vector<float> ones(kN, 1.0f);
    Half nearest(d, ones), stochastic(d, ones);
    nearest.grad.assign(kN, Narrow(d, 1.0f));
    stochastic.grad.assign(kN, Narrow(d, 1.0f));
    Adam on({nearest.view()}, AdamOptions{.lr = kLr});
    Adam os({stochastic.view()}, AdamOptions{.lr = kLr});
    os.set_precision({.rounding = Rounding::kStochastic, .seed = 7});
    for (int k = 0; k < kSteps; ++k) {
      on.Step();
      os.Step();
    }
    for (size_t i = 0; i < kN; ++i) ASSERT_EQ(nearest.data[i], Narrow(d, 1.0f)) << "nearest rounding moved " << i;
    // A constant gradient makes every Adam update lr / (1 + eps): the expected parameter is 1 - steps * lr.
    // The rounding noise of one element is a random walk of ~0.011 (bf16); the mean of 4096 is far tighter.
    double mean = 0;
    for (size_t i = 0; i < kN; ++i) mean += Widen(d, stochastic.data[i]);
    mean /= kN;
    EXPECT_NEAR(mean, 1.0 - kSteps * kLr, 0.1 * kSteps * kLr);
  }
}

// Tensor i of one param group and tensor i of another draw different rounding bits (the seed is mixed with
// the group's index), and each group's stream is the documented one: the functional step called with
// Mix(seed ^ Mix(steps_taken ^ Mix(group))) gives the same bits, as the Python drop-ins' stream_seed does.
TEST(PrecisionTest, EachParamGroupHasItsOwnRoundingStream) {
  constexpr size_t kN = 2048;
  constexpr uint64_t kSeed = 11;
  for (DType d : kHalves) {
    SCOPED_TRACE(std::string(DTypeName(d)));
    const std::vector<float> ones(kN, 1.0f);
    Half a(d, ones), b(d, ones), alone(d, ones);
    for (Half* h : {&a, &b, &alone}) h->grad.assign(kN, Narrow(d, 1.0f));
    Adam opt(std::vector<ParamView>{a.view()}, AdamOptions{.lr = 1e-4});
    opt.AddParamGroup({b.view()});
    opt.set_precision({.rounding = Rounding::kStochastic, .seed = kSeed});
    std::vector<float> m(kN), v(kN);
    for (uint64_t step = 0; step < 3; ++step) {
      opt.Step();
      // Group 1's tensor 0, stepped alone through the functional layer with the documented seed.
      const Precision p{.rounding = Rounding::kStochastic,
                        .seed = core::Mix(kSeed ^ core::Mix(step ^ core::Mix(uint64_t{1})))};
      const functional::Tensor t{alone.view(), {m.data(), v.data()}, static_cast<int64_t>(step + 1)};
      functional::Step(std::span<const functional::Tensor>(&t, 1), AdamOptions{.lr = 1e-4}, p);
    }
    EXPECT_NE(a.data, b.data) << "the two groups' tensor 0 drew the same bits";
    EXPECT_EQ(b.data, alone.data);
  }
}

// float64 parameters keep float64 state, and ignore the mixed-precision settings.
TEST(PrecisionTest, Float64ParametersKeepFloat64State) {
  for (const Algo& a : kAlgos) {
    SCOPED_TRACE(a.name);
    std::vector<double> w(50, 0.5), g(50, 0.25);
    auto opt = Make(a, {MakeParam(w.data(), g.data(), 50)});
    opt->set_precision({.master_weights = true, .rounding = Rounding::kStochastic, .seed = 1});
    opt->Step();
    opt->Step();
    const ParamState& s = opt->state(0, 0);
    EXPECT_FALSE(s.buffers.empty());
    EXPECT_FALSE(s.has("master_param"));
    for (const auto& [name, buf] : s.buffers) EXPECT_EQ(buf.dtype(), DType::kFloat64) << name;
    EXPECT_NE(w[0], 0.5);
  }
}

// float32 parameters ignore master weights and stochastic rounding: no master copy, the same bits as
// without the settings.
TEST(PrecisionTest, Float32ParametersIgnoreThePrecisionSettings) {
  for (const Algo& a : kAlgos) {
    SCOPED_TRACE(a.name);
    std::vector<float> w1 = Normal(70, 8), w2 = w1, g = Normal(70, 9);
    auto o1 = Make(a, {MakeParam(w1.data(), g.data(), 70)});
    auto o2 = Make(a, {MakeParam(w2.data(), g.data(), 70)});
    o2->set_precision({.master_weights = true, .rounding = Rounding::kStochastic, .seed = 3});
    for (int k = 0; k < 3; ++k) {
      o1->Step();
      o2->Step();
    }
    EXPECT_FALSE(o2->state(0, 0).has("master_param"));
    EXPECT_EQ(std::memcmp(w1.data(), w2.data(), 70 * 4), 0);
  }
}

// One group holding float32, float64, bf16 and fp16 parameters: each is updated exactly as it would be
// alone, with state of its own dtype, and only the 16-bit ones get master copies.
TEST(PrecisionTest, MixedDTypesInOneGroup) {
  for (const Algo& a : kAlgos) {
    for (bool master : {false, true}) {
      SCOPED_TRACE(std::string(a.name) + (master ? " master" : ""));
      const std::vector<float> init = Normal(47, 11);
      std::vector<float> f32(init.begin(), init.begin() + 37), f32g(37);
      std::vector<double> f64(init.begin(), init.begin() + 41), f64g(41);
      Half bf(DType::kBFloat16, std::vector<float>(init.begin(), init.begin() + 43));
      Half hf(DType::kFloat16, init);
      // The same, each alone.
      std::vector<float> f32a = f32, f32ga(37);
      std::vector<double> f64a = f64, f64ga(41);
      Half bfa = bf, hfa = hf;
      auto mixed = Make(
          a, {MakeParam(f32.data(), f32g.data(), 37), bf.view(), MakeParam(f64.data(), f64g.data(), 41), hf.view()});
      std::vector<std::unique_ptr<Optimizer>> alone;
      alone.push_back(Make(a, {MakeParam(f32a.data(), f32ga.data(), 37)}));
      alone.push_back(Make(a, {bfa.view()}));
      alone.push_back(Make(a, {MakeParam(f64a.data(), f64ga.data(), 41)}));
      alone.push_back(Make(a, {hfa.view()}));
      mixed->set_precision({.master_weights = master});
      for (auto& o : alone) o->set_precision({.master_weights = master});
      for (int k = 0; k < 5; ++k) {
        const std::vector<float> g = Normal(47, 100 + static_cast<uint64_t>(k));
        for (size_t i = 0; i < 37; ++i) f32g[i] = f32ga[i] = g[i];
        for (size_t i = 0; i < 41; ++i) f64g[i] = f64ga[i] = g[i];
        for (size_t i = 0; i < 43; ++i) bf.grad[i] = bfa.grad[i] = Narrow(DType::kBFloat16, g[i]);
        for (size_t i = 0; i < 47; ++i) hf.grad[i] = hfa.grad[i] = Narrow(DType::kFloat16, g[i]);
        mixed->Step();
        for (auto& o : alone) o->Step();
      }
      EXPECT_EQ(std::memcmp(f32.data(), f32a.data(), 37 * 4), 0);
      EXPECT_EQ(std::memcmp(f64.data(), f64a.data(), 41 * 8), 0);
      EXPECT_EQ(bf.data, bfa.data);
      EXPECT_EQ(hf.data, hfa.data);
      const DType state_dtypes[] = {DType::kFloat32, DType::kFloat32, DType::kFloat64, DType::kFloat32};
      const bool has_master[] = {false, master, false, master};
      for (size_t i = 0; i < 4; ++i) {
        const ParamState& s = mixed->state(0, i);
        const ParamState& sa = alone[i]->state(0, 0);
        EXPECT_EQ(s.has("master_param"), has_master[i]) << "param " << i;
        ASSERT_EQ(s.buffers.size(), sa.buffers.size()) << "param " << i;
        for (const auto& [name, buf] : s.buffers) {
          EXPECT_EQ(buf.dtype(), name == "master_param" ? DType::kFloat32 : state_dtypes[i]) << name;
          ASSERT_TRUE(sa.has(name));
          EXPECT_EQ(std::memcmp(buf.data(), sa.at(name).data(), buf.nbytes()), 0) << "param " << i << " " << name;
        }
      }
    }
  }
}

// Master weights take precedence over stochastic rounding: the parameter is the master's nearest rounding.
TEST(PrecisionTest, MasterWeightsWithStochasticRoundingRoundToNearest) {
  for (DType d : kHalves) {
    Half p(d, Normal(200, 12));
    Adam opt({p.view()}, AdamOptions{.lr = 0.01});
    opt.set_precision({.master_weights = true, .rounding = Rounding::kStochastic, .seed = 5});
    const auto grads = GradSequence(d, 200, 5, 40);
    for (int k = 0; k < 5; ++k) {
      p.grad = grads[k];
      opt.Step();
      const float* m = opt.state(0, 0).at("master_param").as<float>().data();
      for (size_t i = 0; i < 200; ++i) ASSERT_EQ(p.data[i], Narrow(d, m[i]));
    }
  }
}

// --- errors ---------------------------------------------------------------------------------------------

using test_support::ErrorOf;

TEST(PrecisionTest, MasterPointerForFullPrecisionParametersIsRejected) {
  std::vector<float> w(4, 1.0f), g(4, 1.0f), m(4), s0(4), s1(4);
  std::vector<double> wd(4, 1.0), gd(4, 1.0), sd0(4), sd1(4);
  std::vector<float> m2(4);
  const std::vector<functional::Tensor> f32 = {{MakeParam(w.data(), g.data(), 4), {s0.data(), s1.data()}, 1, m.data()}};
  EXPECT_EQ(ErrorOf([&] { functional::Step(f32, AdamOptions{}); }),
            "adam: tensor 0: master weights are for bfloat16 and float16 parameters, not float32");
  const std::vector<functional::Tensor> f64 = {{.param = MakeParam(wd.data(), gd.data(), 4), .fresh = true},
                                               {.param = MakeParam(wd.data(), gd.data(), 4), .master = m2.data(), .fresh = true}};
  EXPECT_EQ(ErrorOf([&] { functional::Step(f64, SGDOptions{}); }),
            "sgd: tensor 1: master weights are for bfloat16 and float16 parameters, not float64");
  EXPECT_EQ(wd[0], 1.0);  // nothing was updated
  EXPECT_EQ(w[0], 1.0f);
}

// State made for one dtype is not silently reused for a parameter whose state dtype changed.
TEST(PrecisionTest, ParameterWhoseStateDTypeChangedIsAnError) {
  std::vector<float> w(8, 1.0f), g(8, 1.0f);
  std::vector<double> wd(8, 1.0), gd(8, 1.0);
  Adam opt({MakeParam(w.data(), g.data(), 8)});
  opt.Step();
  opt.params(0)[0] = MakeParam(wd.data(), gd.data(), 8);
  EXPECT_EQ(ErrorOf([&] { opt.Step(); }),
            "adam: param group 0, parameter 0: state 'exp_avg' has 8 elements of float32 but the float64 parameter needs 8 of float64");
  EXPECT_EQ(opt.state(0, 0).step, 1);
  EXPECT_EQ(wd[0], 1.0);
}

}  // namespace
}  // namespace adamant
