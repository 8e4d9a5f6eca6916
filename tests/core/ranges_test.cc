// Optimizer::set_range: optimizers whose ranges partition the param groups update them, together, bitwise
// as one optimizer over the whole groups (parameters, state slices, step counts, NAdam's mu_product), for
// every algorithm, float32/float64/bfloat16 parameters, master weights and stochastic rounding; a range's
// elements only are read and written; checkpoints record the range; bad ranges are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adamant/algorithm_info.h"
#include "adamant/checkpoint.h"
#include "adamant/element_range.h"
#include "adamant/optimizer.h"
#include "support/error_of.h"
#include "support/half.h"
#include "support/optimizer_types.h"

namespace adamant {
namespace {

using test_support::ErrorOf;

struct Spec {
  int64_t numel;
  DType dtype;
  bool grad = true;
};

// Parameters and gradients of a few groups, as bytes, so that groups can mix dtypes.
class Model {
 public:
  explicit Model(std::vector<std::vector<Spec>> groups) : specs_(std::move(groups)) {
    for (size_t g = 0; g < specs_.size(); ++g) {
      data_.emplace_back();
      grad_.emplace_back();
      for (size_t i = 0; i < specs_[g].size(); ++i) {
        const Spec& s = specs_[g][i];
        data_[g].emplace_back(static_cast<size_t>(s.numel) * SizeOf(s.dtype));
        grad_[g].emplace_back(static_cast<size_t>(s.numel) * SizeOf(s.dtype));
        for (int64_t k = 0; k < s.numel; ++k) Set(data_[g][i], s.dtype, k, 0.3 - 0.011 * static_cast<double>(k % 53 + 5 * i + 7 * g));
      }
    }
  }

  std::vector<ParamView> Views(size_t g) {
    std::vector<ParamView> out;
    for (size_t i = 0; i < specs_[g].size(); ++i) {
      const Spec& s = specs_[g][i];
      out.push_back({data_[g][i].data(), s.grad ? grad_[g][i].data() : nullptr, s.numel, s.dtype});
    }
    return out;
  }

  void SetGrads(int step) {
    for (size_t g = 0; g < specs_.size(); ++g) {
      for (size_t i = 0; i < specs_[g].size(); ++i) {
        const Spec& s = specs_[g][i];
        for (int64_t k = 0; k < s.numel; ++k) {
          Set(grad_[g][i], s.dtype, k, static_cast<double>((k * 7 + static_cast<int64_t>(i) * 13 + step * 5 + static_cast<int64_t>(g) * 3) % 23 - 11) / 8.0);
        }
      }
    }
  }

  const std::vector<std::vector<std::vector<uint8_t>>>& data() const { return data_; }
  size_t groups() const { return specs_.size(); }

 private:
  static void Set(std::vector<uint8_t>& bytes, DType dtype, int64_t k, double v) {
    const size_t at = static_cast<size_t>(k) * SizeOf(dtype);
    if (dtype == DType::kFloat64) {
      std::memcpy(bytes.data() + at, &v, 8);
    } else if (dtype == DType::kFloat32) {
      const float f = static_cast<float>(v);
      std::memcpy(bytes.data() + at, &f, 4);
    } else {
      const uint16_t h = test_support::Narrow(dtype, static_cast<float>(v));
      std::memcpy(bytes.data() + at, &h, 2);
    }
  }

  std::vector<std::vector<Spec>> specs_;
  std::vector<std::vector<std::vector<uint8_t>>> data_, grad_;
};

// Two groups: float32 and float64 parameters cut by the ranges below (one of no elements, one without a
// gradient), and bfloat16 ones (the first without a gradient).
std::vector<std::vector<Spec>> Specs() {
  return {{{37, DType::kFloat32}, {0, DType::kFloat32}, {100, DType::kFloat64}, {9, DType::kFloat32, false}, {5, DType::kFloat32}},
          {{8, DType::kBFloat16, false}, {64, DType::kBFloat16}, {19, DType::kBFloat16}, {30, DType::kBFloat16}}};
}

// Three ranges per group that partition it: group 0 (151 elements) cut inside its first and third
// parameters and at the start of the empty one; group 1 (121) with an empty range in the middle, and a
// last range that starts inside its third parameter (whose stochastic rounding must draw as the third's).
std::vector<std::vector<ElementRange>> Partition() {
  return {{{0, 37}, {37, 120}, {120, ElementRange::kToTheEnd}}, {{0, 80}, {80, 80}, {80, ElementRange::kToTheEnd}}};
}

template <class Opt>
std::unique_ptr<Opt> Build(Model& model, const Precision& precision) {
  auto opt = std::make_unique<Opt>(model.Views(0));
  typename Opt::OptionsType options = opt->param_group(0).options;
  if constexpr (requires { options.momentum; }) options.momentum = 0.9;
  if constexpr (requires { options.weight_decay; }) options.weight_decay = 0.01;
  opt->param_group(0).options = options;
  for (size_t g = 1; g < model.groups(); ++g) opt->AddParamGroup({model.Views(g), options});
  opt->set_precision(precision);
  return opt;
}

template <class Opt>
class Ranges : public ::testing::Test {};
using AllOptimizers = test_support::OptimizerTypes;
TYPED_TEST_SUITE(Ranges, AllOptimizers);

TYPED_TEST(Ranges, APartitionStepsLikeOneOptimizer) {
  const Precision kPrecisions[] = {{.master_weights = true},
                                   {.rounding = Rounding::kStochastic, .seed = 77}};
  for (const Precision& precision : kPrecisions) {
    SCOPED_TRACE(precision.master_weights ? "master weights" : "stochastic rounding");
    Model whole_model(Specs()), shared_model(Specs());
    auto whole = Build<TypeParam>(whole_model, precision);
    // The shards update one shared model, each its own elements.
    std::vector<std::unique_ptr<TypeParam>> shards;
    const auto partition = Partition();
    for (size_t r = 0; r < 3; ++r) {
      shards.push_back(Build<TypeParam>(shared_model, precision));
      for (size_t g = 0; g < 2; ++g) shards.back()->set_range(g, partition[g][r]);
    }
    for (int step = 1; step <= 3; ++step) {
      whole_model.SetGrads(step);
      shared_model.SetGrads(step);
      whole->Step();
      for (auto& shard : shards) shard->Step();
    }
    EXPECT_EQ(shared_model.data(), whole_model.data());
    // The shards hold the whole optimizer's state between them, and no byte more.
    size_t shard_bytes = 0;
    for (auto& shard : shards) shard_bytes += shard->state_nbytes();
    EXPECT_EQ(shard_bytes, whole->state_nbytes());
    EXPECT_GT(whole->state_nbytes(), 0u);
    // Each parameter's state is the concatenation of its slices' in the shards that hold part of it.
    for (size_t g = 0; g < 2; ++g) {
      for (size_t i = 0; i < whole->params(g).size(); ++i) {
        SCOPED_TRACE("group " + std::to_string(g) + ", parameter " + std::to_string(i));
        const ParamState& expected = whole->state(g, i);
        std::map<std::string, std::vector<uint8_t>> joined;
        int holders = 0;
        for (auto& shard : shards) {
          const std::optional<ElementRange> inside = shard->OwnedElements(g)[i];
          const ParamState& s = shard->state(g, i);
          if (!inside) {
            EXPECT_TRUE(s.empty());
            continue;
          }
          ++holders;
          if (expected.empty()) {
            EXPECT_TRUE(s.empty());
            continue;
          }
          EXPECT_EQ(s.step, expected.step);
          EXPECT_EQ(s.mu_product, expected.mu_product);
          EXPECT_EQ(s.buffers.size(), expected.buffers.size());
          for (const auto& [name, buffer] : s.buffers) {
            EXPECT_EQ(buffer.numel(), inside->end - inside->begin) << name;
            const auto* bytes = static_cast<const uint8_t*>(buffer.data());
            joined[name].insert(joined[name].end(), bytes, bytes + buffer.nbytes());
          }
        }
        EXPECT_GE(holders, 1);
        for (const auto& [name, buffer] : expected.buffers) {
          const auto* bytes = static_cast<const uint8_t*>(buffer.data());
          EXPECT_EQ(joined[name], std::vector<uint8_t>(bytes, bytes + buffer.nbytes())) << name;
        }
      }
    }
  }
}

TEST(Ranges, OnlyTheRangesElementsAreReadAndWritten) {
  std::vector<float> a(10, 1.0f), ga(10, 0.5f), b(6, 1.0f), gb(6, 0.5f);
  Adam opt({MakeParam(a.data(), ga.data(), 10), MakeParam(b.data(), gb.data(), 6)});
  opt.set_range(0, {8, 12});  // a[8, 10) and b[0, 2)
  ga[3] = std::nanf("");      // outside: not read, not even by the non-finite check
  opt.set_nonfinite(NonFinite::kRaise);
  opt.Step();
  for (int k = 0; k < 10; ++k) EXPECT_EQ(a[k] != 1.0f, k >= 8) << k;
  for (int k = 0; k < 6; ++k) EXPECT_EQ(b[k] != 1.0f, k < 2) << k;
  EXPECT_EQ(opt.state(0, 0).at("exp_avg").numel(), 2);
  EXPECT_EQ(opt.state(0, 1).at("exp_avg").numel(), 2);
  EXPECT_EQ(opt.state_nbytes(), 4 * 2 * sizeof(float));  // exp_avg and exp_avg_sq of 4 elements
  gb[1] = std::nanf("");  // inside
  EXPECT_THROW(opt.Step(), NonFiniteGradientError);
}

TEST(Ranges, LossScalingUnscalesTheRangesGradientsOnly) {
  std::vector<float> a(8, 1.0f), ga(8, 0.5f);
  Adam opt({MakeParam(a.data(), ga.data(), 8)});
  opt.set_range(0, {2, 5});
  opt.Step(StepArgs{.grad_scale = 2.0});
  for (int k = 0; k < 8; ++k) {
    const bool inside = k >= 2 && k < 5;
    EXPECT_EQ(ga[k], inside ? 0.25f : 0.5f) << k;  // written back unscaled inside, untouched outside
    EXPECT_EQ(a[k] != 1.0f, inside) << k;
  }
}

TEST(Ranges, ParametersOutsideGetNoState) {
  std::vector<float> a(4, 1.0f), ga(4, 0.5f), b(4, 1.0f), gb(4, 0.5f);
  Adam opt({MakeParam(a.data(), ga.data(), 4), ParamView{nullptr, nullptr, 0, DType::kFloat32},
            MakeParam(b.data(), gb.data(), 4)});
  opt.param_group(0).params[1].grad = ga.data();  // a gradient pointer for the parameter of no elements
  opt.set_range(0, {4, 8});
  const std::vector<std::optional<ElementRange>> owned = opt.OwnedElements(0);
  ASSERT_EQ(owned.size(), 3u);
  EXPECT_FALSE(owned[0].has_value());
  EXPECT_EQ(owned[1], (ElementRange{0, 0}));  // it starts at 4
  EXPECT_EQ(owned[2], (ElementRange{0, 4}));
  opt.Step();
  EXPECT_TRUE(opt.state(0, 0).empty());
  EXPECT_EQ(opt.state(0, 1).step, 1);
  EXPECT_EQ(opt.state(0, 2).step, 1);
  EXPECT_EQ(a, std::vector<float>(4, 1.0f));
}

TEST(Ranges, BadRangesAreRefused) {
  std::vector<float> w(4), g(4);
  Adam opt({MakeParam(w.data(), g.data(), 4)});
  EXPECT_EQ(opt.range(0), ElementRange{});
  EXPECT_TRUE(opt.range(0).whole());
  EXPECT_EQ(ErrorOf([&] { opt.set_range(0, {-1, 3}); }),
            "param group 0: invalid element range [-1, 3): it must satisfy 0 <= begin <= end");
  EXPECT_EQ(ErrorOf([&] { opt.set_range(0, {3, 2}); }),
            "param group 0: invalid element range [3, 2): it must satisfy 0 <= begin <= end");
  EXPECT_THROW(opt.set_range(1, {0, 1}), std::out_of_range);
  EXPECT_EQ(opt.range(0), ElementRange{});
  // State made for the whole parameter does not fit a range of part of it.
  opt.Step();
  opt.set_range(0, {0, 2});
  EXPECT_EQ(ErrorOf([&] { opt.Step(); }),
            "adam: param group 0, parameter 0: state 'exp_avg' has 4 elements of float32 but the float32 parameter "
            "needs 2 of float32");
}

TEST(Ranges, CheckpointsRecordTheRange) {
  std::vector<float> w(10, 1.0f), g(10, 0.5f);
  Adam opt({MakeParam(w.data(), g.data(), 10)});
  opt.set_range(0, {3, 7});
  opt.Step();
  const std::string bytes = SerializeState(opt);

  Adam same({MakeParam(w.data(), g.data(), 10)});
  same.set_range(0, {3, 7});
  DeserializeState(same, bytes);
  EXPECT_EQ(SerializeState(same), bytes);
  EXPECT_EQ(same.state(0, 0).at("exp_avg").numel(), 4);

  Adam other({MakeParam(w.data(), g.data(), 10)});
  other.set_range(0, {3, 8});
  try {
    DeserializeState(other, bytes);
    ADD_FAILURE() << "loaded into another range";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("param group 0 holds the state of elements [3, 7) of the group in the "
                                         "checkpoint, but the optimizer's range is [3, 8)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(other.state(0, 0).empty());

  Adam whole({MakeParam(w.data(), g.data(), 10)});
  try {
    DeserializeState(whole, bytes);
    ADD_FAILURE() << "loaded into the whole group";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("but the optimizer's range is [0, the end)"), std::string::npos) << e.what();
  }
  // A whole group's checkpoint has no range in it, as before ranges existed.
  whole.Step();
  EXPECT_EQ(SerializeState(whole).find("range"), std::string::npos);
}

}  // namespace
}  // namespace adamant
