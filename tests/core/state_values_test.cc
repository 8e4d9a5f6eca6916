// The values each algorithm's state buffers hold (StateSpec, adamant/algorithm_info.h): a buffer declared
// never negative stays so through steps with gradients of both signs, weight decay and maximize, every
// algorithm with all its buffers on; a checkpoint whose such buffer holds a value below zero is refused
// (its square root would turn the next step's parameters into NaN), while NaN and negative first moments
// load.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <string_view>

#include "adamant/algorithm_info.h"
#include "adamant/checkpoint.h"
#include "adamant/factory.h"
#include "fuzz/checkpoint_harness.h"

namespace adamant {
namespace {

using fuzz::FullStateOptions;
using fuzz::MakeOptimizer;
using fuzz::Model;

// Every element of a state buffer, widened.
template <class F>
void ForEachElement(const Buffer& b, F f) {
  if (b.dtype() == DType::kFloat64) {
    for (double x : b.as<double>()) f(x);
  } else {
    for (float x : b.as<float>()) f(static_cast<double>(x));
  }
}

TEST(StateValues, EveryAlgorithmNamesEachBufferOnceWithItsValues) {
  for (const AlgorithmInfo& a : Algorithms()) {
    ASSERT_EQ(a.buffers.size(), a.state.size()) << a.name;
    for (size_t k = 0; k < a.state.size(); ++k) EXPECT_EQ(a.buffers[k].name, a.state[k]) << a.name;
  }
}

TEST(StateValues, BuffersThatAreNeverNegativeStaySo) {
  for (std::string_view name : AlgorithmNames()) {
    for (const bool maximize : {false, true}) {
      SCOPED_TRACE(std::string(name) + (maximize ? ", maximize" : ""));
      Model model = Model::Small();
      OptionList options = FullStateOptions(name);
      std::unique_ptr<Optimizer> opt = MakeOptimizer(name, model, options);
      const std::vector<std::string> names = opt->option_names();
      const auto has = [&](const char* key) { return std::find(names.begin(), names.end(), key) != names.end(); };
      OptionList more;
      if (has("maximize")) more.emplace_back("maximize", maximize ? "true" : "false");
      if (has("weight_decay")) more.emplace_back("weight_decay", "0.1");
      for (size_t g = 0; g < opt->num_param_groups(); ++g) opt->SetOptions(g, more);
      int negatives = 0;  // in the buffers of either sign, so that the gradients are seen to have both
      for (int step = 1; step <= 4; ++step) {
        model.SetGrads(step);
        opt->Step();
      }
      const AlgorithmInfo& info = *FindAlgorithm(name);
      for (size_t g = 0; g < opt->num_param_groups(); ++g) {
        for (size_t i = 0; i < opt->params(g).size(); ++i) {
          for (const StateSpec& spec : info.buffers) {
            if (!opt->state(g, i).has(spec.name)) continue;
            ForEachElement(opt->state(g, i).at(spec.name), [&](double x) {
              if (spec.values == StateValues::kNonNegative) {
                EXPECT_FALSE(x < 0.0) << spec.name << " of group " << g << ", parameter " << i << ": " << x;
              } else {
                negatives += x < 0.0 ? 1 : 0;
              }
            });
          }
        }
      }
      const bool any_signed = std::any_of(info.buffers.begin(), info.buffers.end(),
                                          [](const StateSpec& s) { return s.values == StateValues::kSigned; });
      if (any_signed) {
        EXPECT_GT(negatives, 0);
      }
    }
  }
}

TEST(StateValues, ACheckpointWithANegativeSecondMomentIsRefused) {
  for (const AlgorithmInfo& info : Algorithms()) {
    for (const StateSpec& spec : info.buffers) {
      SCOPED_TRACE(std::string(info.name) + " " + std::string(spec.name));
      Model model = Model::Small();
      std::unique_ptr<Optimizer> opt = MakeOptimizer(info.name, model, FullStateOptions(info.name));
      model.SetGrads(1);
      opt->Step();
      Buffer& b = opt->state(0, 0).at(spec.name);
      ASSERT_EQ(b.dtype(), DType::kFloat32);
      b.as<float>()[2] = -0.25f;
      const std::string bytes = SerializeState(*opt);
      Model other_model = Model::Small();
      std::unique_ptr<Optimizer> other = MakeOptimizer(info.name, other_model, FullStateOptions(info.name));
      if (spec.values == StateValues::kSigned) {
        EXPECT_NO_THROW(DeserializeState(*other, bytes));
        continue;
      }
      try {
        DeserializeState(*other, bytes);
        ADD_FAILURE() << "loaded";
      } catch (const CheckpointError& e) {
        EXPECT_NE(std::string(e.what()).find("tensor 'state.0.0." + std::string(spec.name) + "': element 2 is -0.25, but " +
                                             std::string(spec.name) + " is never negative"),
                  std::string::npos)
            << e.what();
      }
      EXPECT_TRUE(other->state(0, 0).empty());
      // NaN is not below zero: a run under the propagate policy may have saved one.
      b.as<float>()[2] = std::nanf("");
      EXPECT_NO_THROW(DeserializeState(*other, SerializeState(*opt)));
    }
  }
}

}  // namespace
}  // namespace adamant
