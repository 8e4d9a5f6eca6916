// The optimizers remember where each parameter's state buffers are between steps (Optimizer::StateRefs).
// Whatever the caller changes between steps must still be seen: each test changes state or options one
// way, steps, and compares with an optimizer that has never stepped before (it looks everything up by
// name), given the same parameters, gradients and state.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include "adamant/optimizer.h"

namespace adamant {
namespace {

constexpr int64_t kNumel = 37;

std::vector<float> Random(uint32_t seed, int64_t n = kNumel) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

// Parameters and gradients of a model: two float32 tensors of kNumel elements.
struct Model {
  std::vector<std::vector<float>> data, grad;
  Model() {
    for (uint32_t i = 0; i < 2; ++i) {
      data.push_back(Random(i));
      grad.push_back(Random(100 + i));
    }
  }
  std::vector<ParamView> views() {
    std::vector<ParamView> v;
    for (size_t i = 0; i < data.size(); ++i) v.push_back(MakeParam(data[i].data(), grad[i].data(), kNumel));
    return v;
  }
};

// Steps `opt` (over `model`) and, for comparison, a new optimizer made by `make` over a copy of the model
// with a copy of every state; both must give the same parameters and state, bit for bit.
template <class Opt, class Make>
void StepAndCompare(Opt& opt, Model& model, Make make, const StepArgs& args = {}) {
  Model copy = model;
  std::unique_ptr<Opt> fresh = make(copy.views());
  fresh->set_precision(opt.precision());
  fresh->set_steps_taken(opt.steps_taken());
  fresh->param_group(0).options = opt.param_group(0).options;
  for (size_t i = 0; i < copy.data.size(); ++i) fresh->state(0, i) = std::as_const(opt).state(0, i);
  opt.Step(args);
  fresh->Step(args);
  for (size_t i = 0; i < model.data.size(); ++i) {
    EXPECT_EQ(0, std::memcmp(model.data[i].data(), copy.data[i].data(), kNumel * sizeof(float))) << "param " << i;
    const ParamState& a = std::as_const(opt).state(0, i);
    const ParamState& b = std::as_const(*fresh).state(0, i);
    EXPECT_EQ(a.step, b.step);
    ASSERT_EQ(a.buffers.size(), b.buffers.size()) << "param " << i;
    for (const auto& [name, buffer] : a.buffers) {
      ASSERT_TRUE(b.has(name)) << name;
      EXPECT_EQ(0, std::memcmp(buffer.data(), b.at(name).data(), buffer.nbytes())) << "param " << i << " " << name;
    }
  }
}

std::unique_ptr<Adam> MakeAdam(std::vector<ParamView> views) { return std::make_unique<Adam>(std::move(views)); }

TEST(StateRefs, ABufferReplacedThroughAReferenceKeptFromBeforeAStepIsUsed) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  Buffer& exp_avg = opt.state(0, 0).at("exp_avg");  // kept across the next step
  opt.Step();
  Buffer replacement(DType::kFloat32, kNumel);
  replacement.Fill(0.25);
  exp_avg = std::move(replacement);  // the old memory is freed; nothing renews the state's stamp
  StepAndCompare(opt, model, MakeAdam);
}

TEST(StateRefs, StateClearedThroughAReferenceKeptFromBeforeAStepStartsAgain) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  ParamState& state = opt.state(0, 1);
  opt.Step();
  state.buffers.clear();
  StepAndCompare(opt, model, MakeAdam);
  EXPECT_TRUE(std::as_const(opt).state(0, 1).has("exp_avg_sq"));
}

TEST(StateRefs, SwappedStatesFollowTheirNewParameters) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  opt.Step();
  std::swap(opt.state(0, 0), opt.state(0, 1));
  StepAndCompare(opt, model, MakeAdam);
}

TEST(StateRefs, ABufferReplacedByOneOfAnotherSizeIsRefused) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  Buffer& exp_avg_sq = opt.state(0, 0).at("exp_avg_sq");
  opt.Step();
  exp_avg_sq = Buffer(DType::kFloat32, kNumel + 1);
  EXPECT_THROW(opt.Step(), std::invalid_argument);
}

TEST(StateRefs, AParameterOfAnotherSizeIsRefused) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  opt.params(0)[1].numel = kNumel - 1;
  EXPECT_THROW(opt.Step(), std::invalid_argument);
}

TEST(StateRefs, OptionsThatAskForMoreStateCreateIt) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  opt.param_group(0).options.amsgrad = true;
  StepAndCompare(opt, model, MakeAdam);
  EXPECT_TRUE(std::as_const(opt).state(0, 0).has("max_exp_avg_sq"));
}

TEST(StateRefs, RMSpropMomentumSwitchedOnLater) {
  Model model;
  RMSprop opt(model.views());
  opt.Step();
  opt.param_group(0).options.momentum = 0.9;
  opt.param_group(0).options.centered = true;
  StepAndCompare(opt, model, [](std::vector<ParamView> v) { return std::make_unique<RMSprop>(std::move(v)); });
  EXPECT_TRUE(std::as_const(opt).state(0, 0).has("momentum_buffer"));
  EXPECT_TRUE(std::as_const(opt).state(0, 0).has("grad_avg"));
}

TEST(StateRefs, SGDMomentumBufferErasedIsSetToTheGradientAgain) {
  Model model;
  const auto make = [](std::vector<ParamView> v) { return std::make_unique<SGD>(std::move(v), SGDOptions{.momentum = 0.9}); };
  std::unique_ptr<SGD> opt = make(model.views());
  opt->Step();
  opt->Step();
  opt->state(0, 0).buffers.erase("momentum_buffer");
  StepAndCompare(*opt, model, make);
  StepAndCompare(*opt, model, make);
}

TEST(StateRefs, MasterWeightsSwitchedOnLaterAreMade) {
  std::vector<uint16_t> data(kNumel, 0x3f80), grad(kNumel, 0x3c00);  // bf16 1.0 and 0.0078125
  Adam opt({ParamView{data.data(), grad.data(), kNumel, DType::kBFloat16}});
  opt.Step();
  EXPECT_FALSE(std::as_const(opt).state(0, 0).has("master_param"));
  opt.set_precision({.master_weights = true});
  opt.Step();
  EXPECT_TRUE(std::as_const(opt).state(0, 0).has("master_param"));
}

// A step over the same tensors and state as the last one reruns the last step's kernel slots
// (core/step_plan.h); each of these changes between two steps must be seen all the same.
TEST(KeptStep, AGradientMovedBetweenStepsIsRead) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  opt.Step();
  model.grad[0] = Random(7);  // new memory
  opt.params(0)[0].grad = model.grad[0].data();
  StepAndCompare(opt, model, MakeAdam);
}

TEST(KeptStep, AParameterMovedBetweenStepsIsUpdated) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  opt.Step();
  std::vector<float> moved = model.data[1];
  model.data[1] = std::move(moved);
  opt.params(0)[1].data = model.data[1].data();
  StepAndCompare(opt, model, MakeAdam);
}

TEST(KeptStep, AGradientMovedOntoStateIsRefused) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  opt.Step();
  opt.params(0)[0].grad = opt.state(0, 0).at("exp_avg").data();
  EXPECT_THROW(opt.Step(), std::invalid_argument);
}

TEST(KeptStep, AGradientTakenAwayAndGivenBack) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  opt.Step();
  opt.params(0)[0].grad = nullptr;
  const std::vector<float> before = model.data[0];
  opt.Step();
  EXPECT_EQ(model.data[0], before);
  EXPECT_EQ(std::as_const(opt).state(0, 0).step, 2);
  EXPECT_EQ(std::as_const(opt).state(0, 1).step, 3);
  opt.params(0)[0].grad = model.grad[0].data();
  StepAndCompare(opt, model, MakeAdam);
  EXPECT_EQ(std::as_const(opt).state(0, 0).step, 3);
  EXPECT_EQ(std::as_const(opt).state(0, 1).step, 4);
}

TEST(KeptStep, AStepCountSetByHandIsUsed) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  opt.Step();
  opt.state(0, 0).step = 1000;
  StepAndCompare(opt, model, MakeAdam);
  EXPECT_EQ(std::as_const(opt).state(0, 0).step, 1001);
}

TEST(KeptStep, NAdamMuProductSetByHandIsUsed) {
  Model model;
  const auto make = [](std::vector<ParamView> v) { return std::make_unique<NAdam>(std::move(v)); };
  std::unique_ptr<NAdam> opt = make(model.views());
  opt->Step();
  opt->Step();
  opt->state(0, 1).mu_product = 0.5;
  StepAndCompare(*opt, model, make);
  StepAndCompare(*opt, model, make);
}

TEST(KeptStep, OptionsAndLossScaleChangedBetweenSteps) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  opt.Step();
  opt.set_lr(0, 0.5);
  opt.param_group(0).options.weight_decay = 0.1;
  StepAndCompare(opt, model, MakeAdam);
  StepAndCompare(opt, model, MakeAdam, StepArgs{.grad_scale = 4.0});
  StepAndCompare(opt, model, MakeAdam);
}

TEST(KeptStep, StochasticRoundingSwitchedOnBetweenSteps) {
  // bf16 parameters: 0x3f80 is 1.0; gradients of varied sizes.
  std::vector<uint16_t> data(kNumel, 0x3f80), grad(kNumel);
  for (int64_t k = 0; k < kNumel; ++k) grad[k] = static_cast<uint16_t>(0x3a00 + 37 * k);
  std::vector<uint16_t> data2 = data;
  Adam opt({ParamView{data.data(), grad.data(), kNumel, DType::kBFloat16}});
  opt.Step();
  opt.Step();
  opt.set_precision({.rounding = Rounding::kStochastic, .seed = 5});
  Adam fresh({ParamView{data2.data(), grad.data(), kNumel, DType::kBFloat16}});
  data2 = data;
  fresh.state(0, 0) = std::as_const(opt).state(0, 0);
  fresh.set_precision(opt.precision());
  fresh.set_steps_taken(opt.steps_taken());
  opt.Step();
  fresh.Step();
  EXPECT_EQ(data, data2);
}

TEST(KeptStep, ARangeSetAfterStateExistsIsStillRefused) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  opt.Step();
  opt.set_range(0, {5, kNumel + 3});
  EXPECT_THROW(opt.Step(), std::invalid_argument);
}

TEST(KeptStep, ACopiedOptimizerStepsItsOwnState) {
  Model model;
  Adam opt(model.views());
  opt.Step();
  opt.Step();
  Adam copy = opt;
  copy.Step();  // on the same parameters: the copy's state, not the original's, advances
  EXPECT_EQ(std::as_const(copy).state(0, 0).step, 3);
  EXPECT_EQ(std::as_const(opt).state(0, 0).step, 2);
  EXPECT_NE(0, std::memcmp(std::as_const(copy).state(0, 0).at("exp_avg").data(),
                           std::as_const(opt).state(0, 0).at("exp_avg").data(), kNumel * sizeof(float)));
  StepAndCompare(opt, model, MakeAdam);
}

// A step creates the buffers of one name for all its parameters before those of the next name, so that
// the buffers of one name follow each other in memory (a step streams them in that order). Seen here
// through the addresses an allocator that hands out memory in order gives: each parameter's next exp_avg
// is nearer its exp_avg than its own exp_avg_sq is. Created parameter by parameter, exp_avg_sq would lie
// between them.
TEST(StateLayout, BuffersOfOneNameAreCreatedOneAfterAnother) {
  constexpr int kTensors = 64;
  constexpr int64_t kOddNumel = 1237;  // a size no other test frees, so no freed block is handed out again
  std::vector<std::vector<float>> data, grad;
  std::vector<ParamView> views;
  for (int t = 0; t < kTensors; ++t) {
    data.push_back(Random(static_cast<uint32_t>(t), kOddNumel));
    grad.push_back(Random(static_cast<uint32_t>(1000 + t), kOddNumel));
  }
  for (int t = 0; t < kTensors; ++t) views.push_back(MakeParam(data[t].data(), grad[t].data(), kOddNumel));
  Adam opt(std::move(views));
  opt.Step();
  const auto at = [&](int t, const char* name) {
    return reinterpret_cast<intptr_t>(std::as_const(opt).state(0, t).at(name).data());
  };
  int nearer = 0;
  for (int t = 0; t + 1 < kTensors; ++t) {
    if (std::abs(at(t + 1, "exp_avg") - at(t, "exp_avg")) < std::abs(at(t, "exp_avg_sq") - at(t, "exp_avg"))) ++nearer;
  }
  EXPECT_GE(nearer, kTensors * 9 / 10) << "of " << kTensors - 1;
}

// Buffer::Contiguous: one allocation, each buffer on the next 64-byte boundary, zero-filled; a copy has
// an array of its own, and the allocation outlives any one of its buffers.
TEST(StateLayout, ContiguousBuffersFollowEachOther) {
  const std::vector<int64_t> numels = {3, 0, 16, 17, 1};
  std::vector<Buffer> buffers = Buffer::Contiguous(DType::kFloat32, numels);
  ASSERT_EQ(buffers.size(), numels.size());
  const auto at = [&](size_t k) { return reinterpret_cast<uintptr_t>(buffers[k].data()); };
  EXPECT_EQ(at(0) % 64, 0u);
  EXPECT_EQ(buffers[1].data(), nullptr);
  EXPECT_EQ(at(2), at(0) + 64);
  EXPECT_EQ(at(3), at(2) + 64);
  EXPECT_EQ(at(4), at(3) + 128);
  for (size_t k = 0; k < buffers.size(); ++k) {
    EXPECT_EQ(buffers[k].numel(), numels[k]);
    for (float x : buffers[k].as<float>()) EXPECT_EQ(x, 0.0f);
  }
  buffers[2].Fill(2.0);
  Buffer copy = buffers[2];
  EXPECT_NE(copy.data(), buffers[2].data());
  EXPECT_EQ(copy.as<float>()[15], 2.0f);
  buffers[4].Fill(4.0);
  Buffer last = std::move(buffers[4]);
  buffers.clear();  // every other buffer of the allocation is gone
  EXPECT_EQ(last.as<float>()[0], 4.0f);
  EXPECT_EQ(copy.as<float>()[0], 2.0f);
}

// A step makes the buffers of one name of a group's parameters in one arena, per state dtype: each
// parameter's exp_avg starts where the one before it ends (rounded up to 64 bytes), float64 parameters'
// among themselves; a parameter without a gradient gets none.
TEST(StateLayout, AGroupsBuffersOfOneNameAreOneArena) {
  constexpr int kTensors = 40;
  std::vector<std::vector<float>> data, grad;
  std::vector<std::vector<double>> data64, grad64;
  std::vector<ParamView> views;
  std::vector<int64_t> numels;
  for (int t = 0; t < kTensors; ++t) {
    const int64_t n = 100 + 37 * t;
    numels.push_back(n);
    if (t % 5 == 3) {
      data64.emplace_back(static_cast<size_t>(n), 0.5);
      grad64.emplace_back(static_cast<size_t>(n), 0.25);
      views.push_back(MakeParam(data64.back().data(), grad64.back().data(), n));
    } else {
      data.push_back(Random(static_cast<uint32_t>(t), n));
      grad.push_back(Random(static_cast<uint32_t>(500 + t), n));
      views.push_back(MakeParam(data.back().data(), t == 7 ? nullptr : grad.back().data(), n));
    }
  }
  // (The outer vectors may grow: moving an inner vector keeps its element array, which the views point into.)
  Adam opt(views);
  opt.Step();
  for (const char* name : {"exp_avg", "exp_avg_sq"}) {
    for (const DType dtype : {DType::kFloat32, DType::kFloat64}) {
      uintptr_t expected = 0;
      for (int t = 0; t < kTensors; ++t) {
        const ParamView& p = views[static_cast<size_t>(t)];
        if (p.dtype != dtype) continue;
        const ParamState& state = std::as_const(opt).state(0, static_cast<size_t>(t));
        if (p.grad == nullptr) {
          EXPECT_FALSE(state.has(name));
          continue;
        }
        const auto at = reinterpret_cast<uintptr_t>(state.at(name).data());
        if (expected != 0) {
          EXPECT_EQ(at, expected) << name << " of parameter " << t;
        }
        expected = at + (static_cast<uintptr_t>(p.numel) * SizeOf(dtype) + 63) / 64 * 64;
      }
    }
  }
  // Erasing all but one buffer of an arena leaves that one whole, and the erased ones are made again.
  Model model;
  Adam small(model.views());
  small.Step();
  const std::vector<float> kept(std::as_const(small).state(0, 1).at("exp_avg").as<float>().begin(),
                                std::as_const(small).state(0, 1).at("exp_avg").as<float>().end());
  small.state(0, 0).buffers.erase("exp_avg");
  const auto survivor = std::as_const(small).state(0, 1).at("exp_avg").as<float>();
  EXPECT_EQ(std::vector<float>(survivor.begin(), survivor.end()), kept);
  StepAndCompare(small, model, MakeAdam);
}

}  // namespace
}  // namespace adamant
