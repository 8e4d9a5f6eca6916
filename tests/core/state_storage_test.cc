// State stored apart from the compute type (functional::Tensor::state_storage): a bfloat16 buffer gives the
// update that float32 state holding the same values gives, and then holds that state rounded to nearest
// even; for every algorithm, parameter dtype, target and thread count, each buffer on its own.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "adamant/checkpoint.h"
#include "adamant/factory.h"
#include "adamant/functional.h"
#include "adamant/optimizer.h"
#include "adamant/option_text.h"
#include "adamant/options.h"
#include "adamant/param.h"
#include "adamant/precision.h"
#include "adamant/threads.h"
#include "kernels/kernels.h"
#include "support/error_of.h"
#include "support/state_storage_cases.h"
#include "support/half.h"

namespace adamant {
namespace {

using test_support::Narrow;
using test_support::Widen;

// Sizes across the stage (256 elements) and the AVX-512 copy's prefetching (from 2048).
constexpr int64_t kSizes[] = {1000, 37, 4097};

// A tensor whose state buffers are bfloat16 where `bf16[k]`, and the same tensor with float32 state.
struct Pair {
  DType dtype;
  bool bf16[kMaxStateBuffers];
  std::vector<uint16_t> param16, grad16;
  std::vector<float> param32, grad32, master;
  std::vector<uint16_t> state16[kMaxStateBuffers];
  std::vector<float> state32[kMaxStateBuffers];
  double mu_product = 1.0;

  Pair(DType d, int64_t n, bool with_master, const bool (&which)[kMaxStateBuffers], uint32_t seed) : dtype(d) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const auto size = static_cast<size_t>(n);
    for (size_t j = 0; j < size; ++j) {
      param32.push_back(normal(rng));
      grad32.push_back(normal(rng) * 0.1f);
      param16.push_back(Narrow(d == DType::kFloat32 ? DType::kBFloat16 : d, param32.back()));
      grad16.push_back(Narrow(d == DType::kFloat32 ? DType::kBFloat16 : d, grad32.back()));
    }
    if (with_master) {
      for (uint16_t h : param16) master.push_back(Widen(d, h));
    }
    for (int k = 0; k < kMaxStateBuffers; ++k) {
      bf16[k] = which[k];
      // Non-negative values, which every buffer of every algorithm may hold.
      for (size_t j = 0; j < size; ++j) {
        const float x = std::fabs(normal(rng)) * 0.01f;
        state16[k].push_back(Narrow(DType::kBFloat16, x));
        state32[k].push_back(which[k] ? Widen(DType::kBFloat16, state16[k].back()) : x);
      }
    }
  }

  // The tensor with its own storages (`wide` false), or with float32 state holding the bfloat16 buffers'
  // values widened (`wide`, the reference).
  functional::Tensor Tensor(int64_t step, bool wide) {
    const bool half = dtype != DType::kFloat32;
    functional::Tensor t{ParamView{half ? static_cast<void*>(param16.data()) : param32.data(),
                                   half ? static_cast<void*>(grad16.data()) : grad32.data(),
                                   static_cast<int64_t>(param32.size()), dtype}};
    for (int k = 0; k < kMaxStateBuffers; ++k) {
      if (bf16[k] && !wide) {
        t.state[k] = state16[k].data();
        t.state_storage[k] = StateStorage::kBFloat16;
      } else {
        if (bf16[k]) {
          for (size_t j = 0; j < state16[k].size(); ++j) state32[k][j] = Widen(DType::kBFloat16, state16[k][j]);
        }
        t.state[k] = state32[k].data();
      }
    }
    t.step = step;
    t.master = master.empty() ? nullptr : master.data();
    t.scalar_state = &mu_product;
    t.fresh = step == 1;
    return t;
  }
};

std::string Name(DType d) { return std::string(DTypeName(d)); }

// Bitwise equality of two float arrays (NaNs by their bits); memcmp is not given the null data() of an
// empty vector.
bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Steps `model` (bfloat16 buffers where it says) and, each step, the reference from the same values; the
// parameter, master copy and scalar state must be the same bits, each bfloat16 buffer the reference's
// float32 buffer rounded to nearest even, and each float32 buffer the reference's.
template <class Options>
void CheckAgainstWidened(const char* algorithm, const Options& options, DType dtype, bool with_master,
                         const bool (&which)[kMaxStateBuffers]) {
  for (int64_t n : kSizes) {
    Pair test(dtype, n, with_master, which, 11);
    Pair reference = test;
    for (int64_t step = 1; step <= 3; ++step) {
      reference = test;  // the state the test run holds now, to step from in float32
      const functional::Tensor t = test.Tensor(step, false);
      const functional::Tensor r = reference.Tensor(step, true);
      functional::Step({&t, 1}, options);
      functional::Step({&r, 1}, options);
      const std::string where = std::string(algorithm) + " " + Name(dtype) + (with_master ? " master" : "") +
                                " n=" + std::to_string(n) + " step " + std::to_string(step);
      ASSERT_EQ(test.param16, reference.param16) << where;
      ASSERT_TRUE(SameBits(test.param32, reference.param32)) << where;
      ASSERT_TRUE(SameBits(test.master, reference.master)) << where;
      ASSERT_EQ(0, std::memcmp(&test.mu_product, &reference.mu_product, sizeof(double))) << where;
      for (int k = 0; k < kMaxStateBuffers; ++k) {
        for (size_t j = 0; j < test.state32[k].size(); ++j) {
          if (which[k]) {
            ASSERT_EQ(test.state16[k][j], Narrow(DType::kBFloat16, reference.state32[k][j]))
                << where << " buffer " << k << " element " << j;
          } else {
            ASSERT_EQ(0, std::memcmp(&test.state32[k][j], &reference.state32[k][j], 4))
                << where << " buffer " << k << " element " << j;
          }
        }
      }
    }
  }
}

class BFloat16State : public ::testing::TestWithParam<int> {};

TEST_P(BFloat16State, IsTheFloat32UpdateRoundedToNearestEven) {
  test_support::ForEveryTarget(GetParam(), [] {
    test_support::ForEveryAlgorithmUsingEveryBuffer([&](const char* name, const auto& options) {
      const bool all[kMaxStateBuffers] = {true, true, true};
      for (DType d : {DType::kFloat32, DType::kBFloat16, DType::kFloat16}) CheckAgainstWidened(name, options, d, false, all);
      CheckAgainstWidened(name, options, DType::kBFloat16, true, all);
      // One buffer at a time in bfloat16, the others float32.
      for (int k = 0; k < kMaxStateBuffers; ++k) {
        bool one[kMaxStateBuffers] = {false, false, false};
        one[k] = true;
        CheckAgainstWidened(name, options, DType::kFloat32, false, one);
      }
    });
  });
}

INSTANTIATE_TEST_SUITE_P(Threads, BFloat16State, ::testing::Values(1, 2));

// Stochastic rounding of the state: each stored value is one of the two bfloat16 neighbours of the float32
// state the same step gives (the value itself when it is one), and the bits depend on the seed only: the
// same for every target and thread count.
TEST(BFloat16State, StochasticRoundingStoresANeighbourOfTheFloat32State) {
  const bool all[kMaxStateBuffers] = {true, true, true};
  const Precision precision{.seed = 17};
  std::vector<uint16_t> first[kMaxStateBuffers];
  for (int threads : {1, 2}) {
    SetNumThreads(threads);
    for (int target = 0; target < kernels::NumAvailableTargets(); ++target) {
      kernels::SetTarget(kernels::AvailableTarget(target).target);
      Pair test(DType::kFloat32, 4097, false, all, 23);
      Pair reference = test;
      functional::Tensor t = test.Tensor(1, false);
      t.state_storage = {StateStorage::kBFloat16Stochastic, StateStorage::kBFloat16Stochastic,
                         StateStorage::kBFloat16Stochastic};
      const functional::Tensor r = reference.Tensor(1, true);
      functional::Step({&t, 1}, AdamOptions{.amsgrad = true}, precision);
      functional::Step({&r, 1}, AdamOptions{.amsgrad = true}, precision);
      int64_t up = 0, inexact = 0;
      for (int k = 0; k < kMaxStateBuffers; ++k) {
        for (size_t j = 0; j < test.state16[k].size(); ++j) {
          uint32_t u;
          std::memcpy(&u, &reference.state32[k][j], 4);
          const auto down = static_cast<uint16_t>(u >> 16);
          const uint16_t got = test.state16[k][j];
          if ((u & 0xFFFFu) == 0) {
            ASSERT_EQ(got, down) << k << " " << j;
          } else {
            ASSERT_TRUE(got == down || got == down + 1) << k << " " << j;
            up += got != down;
            ++inexact;
          }
        }
        if (first[k].empty()) {
          first[k] = test.state16[k];
        } else {
          EXPECT_EQ(test.state16[k], first[k]) << "threads " << threads << " target " << target << " buffer " << k;
        }
      }
      // Both neighbours occur (the fractions are spread over [0, 1)).
      EXPECT_GT(up, inexact / 4);
      EXPECT_LT(up, inexact * 3 / 4);
    }
  }
  kernels::SetTarget("");
  SetNumThreads(0);
  // Another seed, other bits; nearest-even rounding is not what it stores.
  Pair other(DType::kFloat32, 4097, false, all, 23);
  functional::Tensor t = other.Tensor(1, false);
  t.state_storage = {StateStorage::kBFloat16Stochastic, StateStorage::kBFloat16Stochastic,
                     StateStorage::kBFloat16Stochastic};
  functional::Step({&t, 1}, AdamOptions{.amsgrad = true}, Precision{.seed = 18});
  EXPECT_NE(other.state16[0], first[0]);
}

// Unbiased: x = 1 + 2^-9 lies a quarter of the spacing (2^-7) above 1, so a quarter of the elements round
// up. SGD sets a fresh momentum buffer to the gradient, which then holds x exactly before it is stored.
TEST(BFloat16State, StochasticRoundingIsUnbiased) {
  constexpr int64_t n = 200000;
  const float x = 1.0f + 1.0f / 512;
  std::vector<float> w(n, 0.0f), g(n, x);
  std::vector<uint16_t> momentum(n);
  functional::Tensor t{ParamView{w.data(), g.data(), n, DType::kFloat32}, {momentum.data()}};
  t.state_storage[0] = StateStorage::kBFloat16Stochastic;
  t.fresh = true;
  functional::Step({&t, 1}, SGDOptions{.lr = 0.1, .momentum = 0.9}, Precision{.seed = 3});
  int64_t up = 0;
  for (uint16_t h : momentum) {
    ASSERT_TRUE(h == 0x3F80 || h == 0x3F81) << h;
    up += h == 0x3F81;
  }
  EXPECT_NEAR(static_cast<double>(up) / n, 0.25, 0.01);
}

TEST(BFloat16State, SlicesInAnyCallGiveTheWholeTensorsBits) {
  for (const StateStorage storage : {StateStorage::kBFloat16, StateStorage::kBFloat16Stochastic}) {
  const bool all[kMaxStateBuffers] = {true, true, true};
  Pair whole(DType::kFloat32, 4097, false, all, 3);
  Pair sliced = whole;
  functional::Tensor w = whole.Tensor(1, false);
  w.state_storage = {storage, storage, storage};
  functional::Step({&w, 1}, AdamOptions{.amsgrad = true}, Precision{.seed = 5});
  // Cuts that are not multiples of the stage.
  const int64_t cuts[] = {0, 1, 300, 2500, 4097};
  for (int c = 0; c + 1 < static_cast<int>(std::size(cuts)); ++c) {
    functional::Tensor t = sliced.Tensor(1, false);
    const int64_t begin = cuts[c];
    t.param.data = sliced.param32.data() + begin;
    t.param.grad = sliced.grad32.data() + begin;
    t.param.numel = cuts[c + 1] - begin;
    for (int k = 0; k < kMaxStateBuffers; ++k) t.state[k] = sliced.state16[k].data() + begin;
    t.state_storage = {storage, storage, storage};
    t.offset = begin;
    t.position = 0;
    functional::Step({&t, 1}, AdamOptions{.amsgrad = true}, Precision{.seed = 5});
  }
  EXPECT_EQ(0, std::memcmp(whole.param32.data(), sliced.param32.data(), whole.param32.size() * 4));
  for (int k = 0; k < kMaxStateBuffers; ++k) EXPECT_EQ(whole.state16[k], sliced.state16[k]) << k;
  }
}

TEST(BFloat16State, IsRefusedForFloat64Parameters) {
  std::vector<double> p(8, 1.0), g(8, 1.0);
  std::vector<uint16_t> m(8), v(8);
  functional::Tensor t{ParamView{p.data(), g.data(), 8, DType::kFloat64}, {m.data(), v.data()}};
  t.state_storage = {StateStorage::kBFloat16, StateStorage::kBFloat16};
  EXPECT_EQ(test_support::ErrorOf([&] { functional::Step({&t, 1}, AdamOptions{}); }),
            "adam: tensor 0: exp_avg: bfloat16 state is not for float64 parameters");
  EXPECT_EQ(p, std::vector<double>(8, 1.0));
}

TEST(BFloat16State, BuffersAreCheckedForOverlapAtTheirOwnSize) {
  // Two bfloat16 buffers of 8 elements, 16 bytes apart: apart at their size, overlapping at float32's.
  std::vector<float> p(8, 1.0f), g(8, 1.0f);
  std::vector<uint16_t> state(16);
  functional::Tensor t{ParamView{p.data(), g.data(), 8, DType::kFloat32}, {state.data(), state.data() + 8}};
  t.state_storage = {StateStorage::kBFloat16, StateStorage::kBFloat16};
  EXPECT_NO_THROW(functional::Step({&t, 1}, AdamOptions{}));
  t.state_storage = {StateStorage::kBFloat16, StateStorage::kFull};
  t.state[1] = state.data() + 4;
  EXPECT_NE(test_support::ErrorOf([&] { functional::Step({&t, 1}, AdamOptions{}); }).find("overlap"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------------
// The state_dtype option of the optimizers

// Two float32 parameters and their gradients.
struct Params {
  std::vector<float> w0 = std::vector<float>(300), g0 = std::vector<float>(300), w1 = std::vector<float>(5),
                     g1 = std::vector<float>(5);
  explicit Params(uint32_t seed = 5) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& x : w0) x = normal(rng);
    for (float& x : w1) x = normal(rng);
    Grads(1);
  }
  void Grads(int step) {
    std::mt19937 rng(100 + static_cast<uint32_t>(step));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& x : g0) x = normal(rng);
    for (float& x : g1) x = normal(rng);
  }
  std::vector<ParamView> Views() {
    return {ParamView{w0.data(), g0.data(), 300, DType::kFloat32}, ParamView{w1.data(), g1.data(), 5, DType::kFloat32}};
  }
};

TEST(StateDTypeOption, MakesBFloat16BuffersThatStepAsTheFunctionalStep) {
  Params a, b;
  Adam opt(a.Views(), AdamOptions{.lr = 0.01, .amsgrad = true, .state_dtype = StateStorage::kBFloat16});
  std::vector<uint16_t> state[2][3];
  for (int i = 0; i < 2; ++i) {
    for (auto& s : state[i]) s.assign(i == 0 ? 300 : 5, 0);
  }
  for (int step = 1; step <= 3; ++step) {
    a.Grads(step);
    b.Grads(step);
    opt.Step();
    std::vector<ParamView> views = b.Views();
    functional::Tensor t[2];
    for (int i = 0; i < 2; ++i) {
      t[i].param = views[static_cast<size_t>(i)];
      for (int k = 0; k < 3; ++k) {
        t[i].state[k] = state[i][k].data();
        t[i].state_storage[k] = StateStorage::kBFloat16;
      }
      t[i].step = step;
    }
    functional::Step(t, AdamOptions{.lr = 0.01, .amsgrad = true});
  }
  EXPECT_EQ(a.w0, b.w0);
  EXPECT_EQ(a.w1, b.w1);
  const char* names[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  for (int k = 0; k < 3; ++k) {
    const Buffer& buffer = opt.state(0, 0).at(names[k]);
    ASSERT_EQ(buffer.dtype(), DType::kBFloat16) << names[k];
    EXPECT_EQ(0, std::memcmp(buffer.data(), state[0][k].data(), 600)) << names[k];
  }
  EXPECT_EQ(opt.state_nbytes(), 305u * 3 * 2);
}

TEST(StateDTypeOption, IsChosenPerBufferByName) {
  Params a;
  Adam opt(a.Views());
  opt.SetOption(0, "state_dtype", "exp_avg_sq:bfloat16");
  EXPECT_EQ(opt.GetOption(0, "state_dtype"), "exp_avg_sq:bfloat16");
  opt.Step();
  EXPECT_EQ(opt.state(0, 0).at("exp_avg").dtype(), DType::kFloat32);
  EXPECT_EQ(opt.state(0, 0).at("exp_avg_sq").dtype(), DType::kBFloat16);
  EXPECT_EQ(opt.state_nbytes(), 305u * 6);
  // The factory takes it like any option.
  Params c;
  std::unique_ptr<Optimizer> made = CreateOptimizer("rmsprop", c.Views(), {{"state_dtype", "bfloat16"}, {"momentum", "0.9"}});
  made->Step();
  EXPECT_EQ(made->state(0, 1).at("square_avg").dtype(), DType::kBFloat16);
  EXPECT_EQ(made->state(0, 1).at("momentum_buffer").dtype(), DType::kBFloat16);
}

TEST(StateDTypeOption, TextRoundTripsAndBadTextIsRefused) {
  for (const char* text : {"float32", "bfloat16", "bfloat16_stochastic", "int8", "exp_avg:int8,exp_avg_sq:bfloat16",
                           "exp_avg:bfloat16",
                           "exp_avg:bfloat16,exp_avg_sq:bfloat16_stochastic", "exp_avg:float32,bfloat16"}) {
    StateDTypes d;
    OptionFromString("state_dtype", text, d);
    EXPECT_EQ(OptionToString(d), text);
  }
  StateDTypes d;
  OptionFromString("state_dtype", " exp_avg : bfloat16 ", d);
  EXPECT_EQ(d.Of("exp_avg"), StateStorage::kBFloat16);
  EXPECT_EQ(d.Of("exp_avg_sq"), StateStorage::kFull);
  for (const char* bad : {"", "int4", "float64", "exp_avg:", ":bfloat16", "exp_avg:bfloat16,exp_avg:float32",
                          "bfloat16,float32", "exp_avg=bfloat16"}) {
    EXPECT_EQ(test_support::ErrorOf([&] { OptionFromString("state_dtype", bad, d); }),
              std::string("invalid value for option 'state_dtype': '") + bad +
                  "' (expected float32, bfloat16, bfloat16_stochastic or int8, or name:dtype pairs separated by commas)");
  }
}

TEST(StateDTypeOption, NamesOnlyTheAlgorithmsBuffers) {
  Params a;
  Adam opt(a.Views());
  EXPECT_EQ(test_support::ErrorOf([&] { opt.SetOption(0, "state_dtype", "exp_inf:bfloat16"); }),
            "invalid value for option 'state_dtype': 'exp_inf:bfloat16' (adam keeps no state 'exp_inf'; its "
            "buffers: exp_avg, exp_avg_sq, max_exp_avg_sq)");
  EXPECT_EQ(opt.GetOption(0, "state_dtype"), "float32");
  EXPECT_EQ(test_support::ErrorOf([&] {
              Adamax bad(a.Views(), AdamaxOptions{.state_dtype = {StateStorage::kFull, {{"exp_avg_sq", StateStorage::kBFloat16}}}});
            }),
            "invalid value for option 'state_dtype': 'exp_avg_sq:bfloat16' (adamax keeps no state 'exp_avg_sq'; "
            "its buffers: exp_avg, exp_inf)");
}

// A group's state_dtype is for its float32, bfloat16 and float16 parameters: a float64 one keeps float64
// state, and steps as with the default.
TEST(StateDTypeOption, Float64ParametersKeepFloat64State) {
  std::vector<double> w(4, 1.0), g(4, 0.5), w_default(4, 1.0), g_default(4, 0.5);
  Params a;
  Adam opt({ParamGroup<AdamOptions>{{a.Views()[0], ParamView{w.data(), g.data(), 4, DType::kFloat64}},
                                    {.state_dtype = StateStorage::kBFloat16}}});
  Adam plain(std::vector<ParamView>{ParamView{w_default.data(), g_default.data(), 4, DType::kFloat64}});
  for (int step = 0; step < 2; ++step) {
    opt.Step();
    plain.Step();
  }
  EXPECT_EQ(opt.state(0, 0).at("exp_avg").dtype(), DType::kBFloat16);
  EXPECT_EQ(opt.state(0, 1).at("exp_avg").dtype(), DType::kFloat64);
  EXPECT_EQ(w, w_default);
  EXPECT_EQ(0, std::memcmp(opt.state(0, 1).at("exp_avg_sq").data(), plain.state(0, 0).at("exp_avg_sq").data(), 32));
}

TEST(StateDTypeOption, StateOfAnotherDTypeIsRefusedNotReset) {
  Params a;
  Adam opt(a.Views());
  opt.Step();
  opt.SetOption(0, "state_dtype", "bfloat16");
  EXPECT_EQ(test_support::ErrorOf([&] { opt.Step(); }),
            "adam: param group 0, parameter 0: state 'exp_avg' has 300 elements of float32 but the float32 parameter "
            "needs 300 of bfloat16");
  EXPECT_EQ(opt.state(0, 0).step, 1);
}

TEST(StateDTypeOption, CheckpointsCarryBFloat16Buffers) {
  Params a;
  Adagrad opt(a.Views(), AdagradOptions{.initial_accumulator_value = 0.1, .state_dtype = StateStorage::kBFloat16});
  opt.Step();
  const std::string bytes = SerializeState(opt);
  Params b;
  Adagrad loaded(b.Views());
  DeserializeState(loaded, bytes);
  EXPECT_EQ(loaded.GetOption(0, "state_dtype"), "bfloat16");
  const Buffer& sum = loaded.state(0, 0).at("sum");
  ASSERT_EQ(sum.dtype(), DType::kBFloat16);
  EXPECT_EQ(0, std::memcmp(sum.data(), opt.state(0, 0).at("sum").data(), sum.nbytes()));
  EXPECT_EQ(SerializeState(loaded), bytes);
}

}  // namespace
}  // namespace adamant
