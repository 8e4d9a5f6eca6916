// int8 state in the stateful optimizers (state_dtype "int8", min_quant_size; docs/algorithms.md "int8
// state"): the state they keep (uint8 codes under PyTorch's names, float32 block maxima under
// "<name>_absmax"), that a step is the functional layer's int8 step on that state, which parameters keep
// float32, the bytes held, resuming from a checkpoint bit for bit, shards, and what is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "adamant/algorithm_info.h"
#include "adamant/checkpoint.h"
#include "adamant/factory.h"
#include "adamant/functional.h"
#include "adamant/optimizer.h"
#include "adamant/options.h"
#include "adamant/state_layout.h"
#include "adamant/threads.h"
#include "support/error_of.h"
#include "support/state_storage_cases.h"

namespace adamant {
namespace {

// Parameters and gradients of the given sizes, float32, with deterministic values.
struct Model {
  std::vector<std::vector<float>> params, grads;

  explicit Model(const std::vector<int64_t>& sizes) {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int64_t n : sizes) {
      params.emplace_back(static_cast<size_t>(n));
      grads.emplace_back(static_cast<size_t>(n));
      for (float& v : params.back()) v = normal(rng);
    }
  }
  std::vector<ParamView> Views() {
    std::vector<ParamView> views;
    for (size_t i = 0; i < params.size(); ++i) {
      views.push_back({params[i].data(), grads[i].data(), static_cast<int64_t>(params[i].size()), DType::kFloat32});
    }
    return views;
  }
  void SetGrads(int step) {
    for (size_t i = 0; i < grads.size(); ++i) {
      for (size_t j = 0; j < grads[i].size(); ++j) {
        grads[i][j] = std::sin(0.37f * static_cast<float>(j + 1) * static_cast<float>(step) + static_cast<float>(i)) *
                      std::pow(10.0f, -static_cast<float>(j % 5));
      }
    }
  }
};

std::unique_ptr<Optimizer> Make(std::string_view name, Model& model, OptionList options) {
  return CreateOptimizer(name, model.Views(), options);
}

// The options under which `name` keeps every buffer int8 state can (as ForEveryAlgorithmWithInt8State's).
OptionList EveryBuffer(std::string_view name) {
  if (name == "adam") return {{"amsgrad", "true"}, {"weight_decay", "0.01"}};
  if (name == "rmsprop") return {{"momentum", "0.9"}};  // not centered: int8 is refused then
  if (name == "sgd") return {{"momentum", "0.9"}, {"nesterov", "true"}, {"lr", "0.1"}};
  return {};
}

OptionList With(OptionList a, const OptionList& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Each step of an int8 optimizer is functional::Step over its own state: a copy of the parameter and of
// the state before the step, stepped by the functional layer with int8 storage, gives the same bits.
TEST(Int8Optimizer, EachStepIsTheFunctionalInt8StepOnItsState) {
  for (std::string_view name : AlgorithmNames()) {
    SCOPED_TRACE(std::string(name));
    const AlgorithmInfo& info = *FindAlgorithm(name);
    Model model({5000});
    std::unique_ptr<Optimizer> opt = Make(name, model, With(EveryBuffer(name), {{"state_dtype", "int8"}}));
    for (int step = 1; step <= 3; ++step) {
      model.SetGrads(step);
      // The reference: the parameter and the state as they are before this step.
      std::vector<float> param = model.params[0];
      std::vector<float> grad = model.grads[0];
      const ParamState before = opt->state(0, 0);
      opt->Step();
      const ParamState& after = opt->state(0, 0);
      functional::Tensor t{ParamView{param.data(), grad.data(), 5000, DType::kFloat32}};
      std::vector<std::vector<uint8_t>> codes(info.state.size());
      std::vector<std::vector<float>> absmax(info.state.size());
      for (size_t k = 0; k < info.state.size(); ++k) {
        const std::string buffer(info.state[k]);
        if (!after.has(buffer)) continue;  // not used by these options
        ASSERT_EQ(after.at(buffer).dtype(), DType::kUInt8) << buffer;
        ASSERT_EQ(after.at(buffer).numel(), 5000) << buffer;
        ASSERT_EQ(after.at(AbsmaxName(buffer)).dtype(), DType::kFloat32) << buffer;
        ASSERT_EQ(after.at(AbsmaxName(buffer)).numel(), AbsmaxNumel(5000)) << buffer;
        if (before.has(buffer)) {
          const auto c = static_cast<const uint8_t*>(before.at(buffer).data());
          codes[k].assign(c, c + 5000);
          const std::span<const float> m = before.at(AbsmaxName(buffer)).as<float>();
          absmax[k].assign(m.begin(), m.end());
        } else {
          // First step: what the optimizer creates (zeros; AnInitialValueIsStoredExactly has the others).
          std::vector<float> init(5000, 0.0f);
          codes[k].resize(5000);
          absmax[k].resize(static_cast<size_t>(AbsmaxNumel(5000)));
          QuantizeBlockwise(init.data(), 5000, info.buffers[k].values == StateValues::kSigned, codes[k].data(),
                            absmax[k].data());
        }
        t.state[k] = codes[k].data();
        t.state_absmax[k] = absmax[k].data();
        t.state_storage[k] = StateStorage::kInt8;
      }
      double mu_product = before.mu_product;
      t.scalar_state = &mu_product;
      t.step = before.step + 1;
      t.fresh = before.buffers.empty() && (name == "sgd");
      const std::string error = test_support::ErrorOf([&] {
        // The functional step with the group's options, by algorithm.
        test_support::ForEveryAlgorithmWithInt8State([&](const char* n, const auto& o) {
          if (n == name) functional::Step({&t, 1}, o);
        });
      });
      ASSERT_EQ(error, "<no error>");
      ASSERT_EQ(0, std::memcmp(param.data(), model.params[0].data(), param.size() * 4)) << "step " << step;
      for (size_t k = 0; k < info.state.size(); ++k) {
        if (codes[k].empty()) continue;
        const std::string buffer(info.state[k]);
        EXPECT_EQ(0, std::memcmp(codes[k].data(), after.at(buffer).data(), 5000)) << buffer << " step " << step;
        EXPECT_EQ(0, std::memcmp(absmax[k].data(), after.at(AbsmaxName(buffer)).data(), absmax[k].size() * 4))
            << buffer << " step " << step;
      }
    }
  }
}

// Adagrad's initial accumulator is stored exactly: map[255] * |init| is init.
TEST(Int8Optimizer, AnInitialValueIsStoredExactly) {
  Model model({4096});
  std::unique_ptr<Optimizer> opt =
      Make("adagrad", model, {{"state_dtype", "int8"}, {"initial_accumulator_value", "0.25"}, {"lr", "0"}});
  model.SetGrads(1);
  std::fill(model.grads[0].begin(), model.grads[0].end(), 0.0f);
  opt->Step();
  const Buffer& sum = opt->state(0, 0).at("sum");
  std::vector<float> values(4096);
  DequantizeBlockwise(static_cast<const uint8_t*>(sum.data()), opt->state(0, 0).at("sum_absmax").as<float>().data(),
                      4096, false, values.data());
  for (float v : values) ASSERT_EQ(v, 0.25f);
}

// Parameters under min_quant_size elements (4096 by default) keep float32 state; 0 quantizes every one.
// Per buffer, the others keep what the option says.
TEST(Int8Optimizer, SmallParametersKeepFloat32State) {
  Model model({4095, 4096, 10});
  std::unique_ptr<Optimizer> opt = Make("adam", model, {{"state_dtype", "exp_avg:int8,exp_avg_sq:bfloat16"}});
  model.SetGrads(1);
  opt->Step();
  EXPECT_EQ(opt->state(0, 0).at("exp_avg").dtype(), DType::kFloat32);
  EXPECT_FALSE(opt->state(0, 0).has("exp_avg_absmax"));
  EXPECT_EQ(opt->state(0, 1).at("exp_avg").dtype(), DType::kUInt8);
  EXPECT_EQ(opt->state(0, 1).at("exp_avg_absmax").numel(), 16);
  EXPECT_EQ(opt->state(0, 1).at("exp_avg_sq").dtype(), DType::kBFloat16);
  EXPECT_EQ(opt->state(0, 0).at("exp_avg_sq").dtype(), DType::kBFloat16);
  EXPECT_EQ(opt->GetOption(0, "min_quant_size"), "4096");

  Model small({10, 300});
  std::unique_ptr<Optimizer> all = Make("adam", small, {{"state_dtype", "int8"}, {"min_quant_size", "0"}});
  small.SetGrads(1);
  all->Step();
  EXPECT_EQ(all->state(0, 0).at("exp_avg_sq").dtype(), DType::kUInt8);
  EXPECT_EQ(all->state(0, 0).at("exp_avg_sq_absmax").numel(), 1);
  EXPECT_EQ(all->state(0, 1).at("exp_avg_absmax").numel(), 2);
  // A change that would store existing state otherwise is refused at the next step, as state_dtype's are.
  all->SetOption(0, "min_quant_size", "100");
  small.SetGrads(2);
  EXPECT_EQ(test_support::ErrorOf([&] { all->Step(); }),
            "adam: param group 0, parameter 0: state 'exp_avg' has 10 elements of uint8 but the float32 parameter "
            "needs 10 of float32");
}

// state_nbytes: 2 bytes per element and 4 per block of 256 for Adam's two int8 buffers.
TEST(Int8Optimizer, StateNbytesCountsCodesAndBlockMaxima) {
  Model model({50000, 4096});
  std::unique_ptr<Optimizer> opt = Make("adam", model, {{"state_dtype", "int8"}});
  model.SetGrads(1);
  opt->Step();
  EXPECT_EQ(opt->state_nbytes(), size_t{2} * (50000 + 4096) + size_t{8} * (AbsmaxNumel(50000) + AbsmaxNumel(4096)));
}

// A run that saves and loads a checkpoint between steps goes on bit for bit as the uninterrupted one,
// for every algorithm, with every state dtype.
TEST(Int8Optimizer, ResumesBitwiseFromACheckpoint) {
  for (std::string_view name : AlgorithmNames()) {
    for (const char* dtype : {"float32", "bfloat16", "int8"}) {
      SCOPED_TRACE(std::string(name) + " " + dtype);
      const OptionList options = With(EveryBuffer(name), {{"state_dtype", dtype}, {"min_quant_size", "1000"}});
      Model a({5000, 300}), b({5000, 300});
      std::unique_ptr<Optimizer> first = Make(name, a, options);
      for (int step = 1; step <= 2; ++step) {
        a.SetGrads(step);
        first->Step();
      }
      const std::string bytes = SerializeState(*first);
      b.params = a.params;
      std::unique_ptr<Optimizer> second = Make(name, b, {});
      DeserializeState(*second, bytes);
      EXPECT_EQ(second->GetOption(0, "state_dtype"), dtype);
      EXPECT_EQ(second->state_nbytes(), first->state_nbytes());
      for (int step = 3; step <= 4; ++step) {
        a.SetGrads(step);
        b.SetGrads(step);
        first->Step();
        second->Step();
      }
      ASSERT_EQ(a.params, b.params);
      EXPECT_EQ(SerializeState(*first), SerializeState(*second));
    }
  }
}

// A checkpoint whose int8 state lacks half of a pair, or whose block maxima are negative, is refused.
TEST(Int8Optimizer, ACheckpointWithHalfAPairIsRefused) {
  Model model({5000});
  std::unique_ptr<Optimizer> opt = Make("adam", model, {{"state_dtype", "int8"}});
  model.SetGrads(1);
  opt->Step();
  ParamState kept = opt->state(0, 0);
  opt->state(0, 0).buffers.erase("exp_avg_absmax");
  EXPECT_EQ(test_support::ErrorOf<CheckpointError>([&] { SerializeState(*opt); }),
            "checkpoint: cannot save param group 0, parameter 0: state 'exp_avg' is int8 but its block maxima "
            "'exp_avg_absmax' are missing");
  EXPECT_EQ(test_support::ErrorOf([&] { opt->Step(); }),
            "adam: param group 0, parameter 0: state 'exp_avg' is int8 but its block maxima 'exp_avg_absmax' are "
            "missing");
  opt->state(0, 0) = kept;
  opt->state(0, 0).buffers.erase("exp_avg_sq");
  EXPECT_EQ(test_support::ErrorOf([&] { opt->Step(); }),
            "adam: param group 0, parameter 0: state 'exp_avg_sq_absmax' holds the block maxima of int8 state "
            "'exp_avg_sq', which is missing");
  opt->state(0, 0) = kept;
  opt->state(0, 0).at("exp_avg_absmax").as<float>()[3] = -1.0f;
  const std::string bytes = SerializeState(*opt);
  Model other({5000});
  std::unique_ptr<Optimizer> fresh = Make("adam", other, {});
  EXPECT_EQ(test_support::ErrorOf<CheckpointError>([&] { DeserializeState(*fresh, bytes); }),
            "checkpoint: tensor 'state.0.0.exp_avg_absmax': element 3 is -1.0, but a block maximum is never "
            "negative");
  EXPECT_TRUE(fresh->state(0, 0).empty());
}

// Shards whose ranges cut parameters on block boundaries step together as one optimizer over the whole
// group, bit for bit, with any thread count; a cut inside a block is refused.
TEST(Int8Optimizer, ShardsOnBlockBoundariesAreTheWhole) {
  for (int threads : {1, 2}) {
    const int saved = GetNumThreads();
    SetNumThreads(threads);
    Model whole({70000, 5000}), sharded({70000, 5000});
    std::unique_ptr<Optimizer> one = Make("adamw", whole, {{"state_dtype", "int8"}});
    std::unique_ptr<Optimizer> lo = Make("adamw", sharded, {{"state_dtype", "int8"}});
    std::unique_ptr<Optimizer> hi = Make("adamw", sharded, {{"state_dtype", "int8"}});
    lo->set_range(0, {0, 256 * 100});
    hi->set_range(0, {256 * 100, ElementRange::kToTheEnd});
    for (int step = 1; step <= 3; ++step) {
      whole.SetGrads(step);
      sharded.SetGrads(step);
      one->Step();
      lo->Step();
      hi->Step();
    }
    EXPECT_EQ(whole.params, sharded.params) << threads;
    EXPECT_EQ(0, std::memcmp(one->state(0, 0).at("exp_avg").data(), lo->state(0, 0).at("exp_avg").data(), 25600));
    SetNumThreads(saved);
  }
  Model model({5000});
  std::unique_ptr<Optimizer> cut = Make("adam", model, {{"state_dtype", "int8"}});
  cut->set_range(0, {100, ElementRange::kToTheEnd});
  model.SetGrads(1);
  EXPECT_EQ(test_support::ErrorOf([&] { cut->Step(); }),
            "adam: param group 0, parameter 0: the group's range starts inside it at element 100, which is not a "
            "multiple of 256: int8 state needs the range's ends on its blocks");
  EXPECT_TRUE(cut->state(0, 0).empty());
}

TEST(Int8Optimizer, OptionsAreValidated) {
  Model model({10});
  EXPECT_EQ(test_support::ErrorOf([&] { Make("adam", model, {{"min_quant_size", "-1"}}); }),
            "Invalid min_quant_size value: -1");
  EXPECT_EQ(test_support::ErrorOf([&] { Make("adam", model, {{"min_quant_size", "4k"}}); }),
            "invalid value for option 'min_quant_size': '4k' (expected an integer)");
  EXPECT_EQ(test_support::ErrorOf([&] { Make("rmsprop", model, {{"centered", "true"}, {"state_dtype", "grad_avg:int8"}}); }),
            "Invalid state_dtype for centered RMSprop: int8 square_avg or grad_avg would make square_avg - "
            "grad_avg^2 negative (use bfloat16 or float32 for them)");
  EXPECT_EQ(test_support::ErrorOf([&] { Make("lion", model, {{"state_dtype", "exp_avg_sq:int8"}}); }),
            "invalid value for option 'state_dtype': 'exp_avg_sq:int8' (lion keeps no state 'exp_avg_sq'; its "
            "buffers: exp_avg)");
}

}  // namespace
}  // namespace adamant
