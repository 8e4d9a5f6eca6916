// Validation at the API boundaries, each refusal with its message and without side effects: parameters and
// gradients handed to the optimizers (null, negative or absurd sizes, unsupported dtypes, a gradient sharing
// memory with its parameter), the tensors handed to the functional layer (any two buffers of a tensor
// overlapping), state buffers, and options set several at a time. docs/reliability.md lists where the other
// boundary checks are tested.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "adamant/algorithm_info.h"
#include "adamant/buffer.h"
#include "adamant/checkpoint.h"
#include "adamant/factory.h"
#include "adamant/functional.h"
#include "adamant/optimizer.h"
#include "support/optimizer_types.h"

namespace adamant {
namespace {

template <class F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  } catch (const std::out_of_range& e) {
    return std::string("out_of_range: ") + e.what();
  }
  return "<no error>";
}

// Every algorithm, built by name over `params`, stepping once; the message of the refusal, after checking
// that nothing changed.
class EveryAlgorithm : public ::testing::TestWithParam<std::string> {
 protected:
  std::string StepError(std::vector<ParamView> params, const std::vector<float>& watched,
                        const OptionList& options = {}) {
    auto opt = CreateOptimizer(GetParam(), std::move(params), options);
    const std::vector<float> before = watched;
    const std::string msg = ErrorOf([&] { opt->Step(); });
    EXPECT_EQ(watched, before) << "a refused step changed a parameter";
    for (size_t g = 0; g < opt->num_param_groups(); ++g) {
      for (size_t i = 0; i < opt->params(g).size(); ++i) EXPECT_TRUE(opt->state(g, i).empty());
    }
    return msg;
  }
  std::string Where(size_t i) { return GetParam() + ": param group 0, parameter " + std::to_string(i) + ": "; }
};

TEST_P(EveryAlgorithm, GradientSharingMemoryWithItsParameter) {
  std::vector<float> good(4, 1.0f), good_grad(4, 0.5f), w(8, 1.0f);
  // The same pointer: e.g. a caller who passed the parameter as its own gradient.
  EXPECT_EQ(StepError({MakeParam(good.data(), good_grad.data(), 4), MakeParam(w.data(), w.data(), 4)}, w),
            Where(1) + "grad and param data overlap in memory (the same pointer): the gradient must be a buffer of "
                       "its own");
  // Overlapping ranges, either way round.
  EXPECT_EQ(StepError({MakeParam(w.data(), w.data() + 3, 4)}, w),
            Where(0) + "grad and param data overlap in memory: the gradient must be a buffer of its own");
  EXPECT_EQ(StepError({MakeParam(w.data() + 3, w.data(), 4)}, w),
            Where(0) + "grad and param data overlap in memory: the gradient must be a buffer of its own");
  // Adjacent is fine.
  auto opt = CreateOptimizer(GetParam(), {MakeParam(w.data(), w.data() + 4, 4)});
  EXPECT_EQ(ErrorOf([&] { opt->Step(); }), "<no error>");
  // Overlap is in bytes: a bf16 gradient starting inside the parameter's last element.
  std::vector<uint16_t> h(8, 0x3F80);
  const ParamView half{h.data(), h.data() + 3, 4, DType::kBFloat16};
  std::vector<float> none;
  EXPECT_EQ(StepError({half}, none),
            Where(0) + "grad and param data overlap in memory: the gradient must be a buffer of its own");
}

TEST_P(EveryAlgorithm, NullPointersAndBadSizes) {
  std::vector<float> w(4, 1.0f), g(4, 0.5f);
  EXPECT_EQ(StepError({MakeParam(w.data(), g.data(), 4), ParamView{nullptr, g.data(), 4, DType::kFloat32}}, w),
            Where(1) + "param data is null");
  EXPECT_EQ(StepError({MakeParam(w.data(), g.data(), 4), MakeParam(w.data(), g.data(), -1)}, w),
            Where(1) + "negative element count -1");
  EXPECT_EQ(StepError({MakeParam(w.data(), g.data(), std::numeric_limits<int64_t>::max())}, w),
            Where(0) + "element count 9223372036854775807 is too large");
  EXPECT_EQ(StepError({ParamView{w.data(), g.data(), 4, static_cast<DType>(7)}}, w),
            Where(0) + "unsupported dtype (supported: float32, float64, bfloat16, float16)");
  // A null gradient is "no gradient": skipped, not an error (PyTorch's p.grad is None).
  auto opt = CreateOptimizer(GetParam(), {ParamView{nullptr, nullptr, 4, DType::kFloat32}});
  EXPECT_EQ(ErrorOf([&] { opt->Step(); }), "<no error>");
  // A zero-element parameter needs no memory at all.
  auto empty = CreateOptimizer(GetParam(), {ParamView{nullptr, g.data(), 0, DType::kFloat32}});
  EXPECT_EQ(ErrorOf([&] { empty->Step(); }), "<no error>");
}

TEST_P(EveryAlgorithm, StateThatNoLongerFitsItsParameter) {
  std::vector<float> w(4, 1.0f), g(4, 0.5f);
  const OptionList options = GetParam() == "sgd" ? OptionList{{"momentum", "0.9"}} : OptionList{};
  auto opt = CreateOptimizer(GetParam(), {MakeParam(w.data(), g.data(), 4)}, options);
  opt->Step();
  const std::string name = opt->state(0, 0).buffers.begin()->first;
  opt->params(0)[0].numel = 3;  // the caller resized its tensor
  const std::vector<float> before = w;
  EXPECT_EQ(ErrorOf([&] { opt->Step(); }), Where(0) + "state '" + name +
                                               "' has 4 elements of float32 but the float32 parameter needs 3 of "
                                               "float32");
  EXPECT_EQ(w, before);
}

TEST_P(EveryAlgorithm, OptionsOutOfRangeAtEveryEntryPoint) {
  std::vector<float> w(4, 1.0f), g(4, 0.5f);
  EXPECT_EQ(ErrorOf([&] { CreateOptimizer(GetParam(), {MakeParam(w.data(), g.data(), 4)}, {{"lr", "-1"}}); }),
            "Invalid learning rate: -1.0");
  auto opt = CreateOptimizer(GetParam(), {MakeParam(w.data(), g.data(), 4)});
  EXPECT_EQ(ErrorOf([&] { opt->SetOption(0, "weight_decay", "-0.5"); }), "Invalid weight_decay value: -0.5");
  EXPECT_EQ(ErrorOf([&] { opt->SetOptions(0, {{"lr", "0.5"}, {"weight_decay", "-0.5"}}); }),
            "Invalid weight_decay value: -0.5");
  EXPECT_EQ(ErrorOf([&] { opt->CheckOptions(0, {{"weight_decay", "-0.5"}}); }), "Invalid weight_decay value: -0.5");
  EXPECT_EQ(opt->GetOption(0, "weight_decay"), GetParam() == "adamw" ? "0.01" : "0.0");
  EXPECT_NE(opt->GetOption(0, "lr"), "0.5");  // all or nothing
  EXPECT_EQ(ErrorOf([&] { opt->SetOptions(0, {{"lr", "0.5"}, {"lr", "0.25"}}); }),
            "option 'lr' given twice for " + GetParam());
  EXPECT_EQ(ErrorOf([&] { opt->SetOptions(0, {{"learning_rate", "0.5"}}); }).substr(0, 32),
            "unknown option 'learning_rate' f");
  EXPECT_EQ(ErrorOf([&] { opt->SetOptions(3, {{"lr", "0.5"}}); }),
            "out_of_range: param group 3 does not exist (there are 1)");
  EXPECT_EQ(ErrorOf([&] { opt->CheckOptions(3, {{"lr", "0.5"}}); }),
            "out_of_range: param group 3 does not exist (there are 1)");
  opt->CheckOptions(0, {{"lr", "0.5"}});
  EXPECT_NE(opt->GetOption(0, "lr"), "0.5");  // checking changes nothing
  opt->SetOptions(0, {{"lr", "0.5"}});
  EXPECT_EQ(opt->GetOption(0, "lr"), "0.5");
}

std::vector<std::string> EveryName() {
  std::vector<std::string> names;
  for (std::string_view name : AlgorithmNames()) names.emplace_back(name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Validation, EveryAlgorithm, ::testing::ValuesIn(EveryName()));

TEST(SetOptions, OptionsThatConstrainEachOtherChangeTogether) {
  std::vector<float> w(4, 1.0f), g(4, 0.5f);
  auto sgd = CreateOptimizer("sgd", {MakeParam(w.data(), g.data(), 4)});
  // One at a time, nesterov first is refused (momentum is still 0); together they are valid.
  EXPECT_EQ(ErrorOf([&] { sgd->SetOption(0, "nesterov", "true"); }),
            "Nesterov momentum requires a momentum and zero dampening");
  sgd->SetOptions(0, {{"nesterov", "true"}, {"momentum", "0.9"}});
  EXPECT_EQ(sgd->GetOption(0, "nesterov"), "true");
  EXPECT_EQ(sgd->GetOption(0, "momentum"), "0.9");
  EXPECT_EQ(ErrorOf([&] { sgd->SetOptions(0, {{"momentum", "0"}}); }),
            "Nesterov momentum requires a momentum and zero dampening");
  EXPECT_EQ(sgd->GetOption(0, "momentum"), "0.9");
}

TEST(SetOptions, AdamWHasNoDecoupledOption) {
  std::vector<float> w(4, 1.0f), g(4, 0.5f);
  auto adamw = CreateOptimizer("adamw", {MakeParam(w.data(), g.data(), 4)});
  const std::string msg = "unknown option 'decoupled_weight_decay' for adamw (AdamW always decouples; use adam)";
  EXPECT_EQ(ErrorOf([&] { adamw->SetOptions(0, {{"lr", "0.1"}, {"decoupled_weight_decay", "false"}}); }), msg);
  EXPECT_EQ(ErrorOf([&] { adamw->CheckOptions(0, {{"decoupled_weight_decay", "true"}}); }), msg);
  EXPECT_EQ(adamw->GetOption(0, "lr"), "0.001");
}

// ---------------------------------------------------------------------------------------------------------
// The functional layer: no two buffers of a tensor may overlap.

struct Arrays {
  std::vector<float> p = std::vector<float>(16, 1.0f), g = std::vector<float>(16, 0.5f);
  std::vector<float> a = std::vector<float>(16, 0.0f), b = std::vector<float>(16, 0.0f);
  std::vector<float> c = std::vector<float>(16, 0.0f);
};

// One of Adam's tensors: its parameter, exp_avg, exp_avg_sq, max_exp_avg_sq, step and master copy.
functional::Tensor AdamTensor(ParamView p, void* m, void* v, void* v_max = nullptr, int64_t step = 1,
                              float* master = nullptr) {
  return {p, {m, v, v_max}, step, master};
}

std::string AdamError(const functional::Tensor& t, const AdamOptions& o = {}) {
  std::vector<functional::Tensor> tensors = {t};
  return ErrorOf([&] { functional::Step(tensors, o); });
}

TEST(FunctionalOverlap, AnyTwoBuffersOfATensor) {
  Arrays x;
  const ParamView p = MakeParam(x.p.data(), x.g.data(), 8);
  const std::string same = " overlap in memory (the same pointer): each must be a buffer of its own";
  const std::string partial = " overlap in memory: each must be a buffer of its own";
  EXPECT_EQ(AdamError(AdamTensor(MakeParam(x.p.data(), x.p.data(), 8), x.a.data(), x.b.data())),
            "adam: tensor 0: param data and grad" + same);
  EXPECT_EQ(AdamError(AdamTensor(MakeParam(x.p.data(), x.p.data() + 7, 8), x.a.data(), x.b.data())),
            "adam: tensor 0: param data and grad" + partial);
  EXPECT_EQ(AdamError(AdamTensor(p, x.g.data(), x.b.data())), "adam: tensor 0: grad and exp_avg" + same);
  EXPECT_EQ(AdamError(AdamTensor(p, x.a.data(), x.a.data() + 4)), "adam: tensor 0: exp_avg and exp_avg_sq" + partial);
  EXPECT_EQ(AdamError(AdamTensor(p, x.a.data(), x.p.data() + 2)), "adam: tensor 0: param data and exp_avg_sq" + partial);
  AdamOptions amsgrad;
  amsgrad.amsgrad = true;
  EXPECT_EQ(AdamError(AdamTensor(p, x.a.data(), x.b.data(), x.b.data() + 1), amsgrad),
            "adam: tensor 0: exp_avg_sq and max_exp_avg_sq" + partial);
  // Master weights of a bf16 parameter (4 bytes per element, against 2 of the parameter).
  std::vector<uint16_t> h(16, 0x3F80), hg(16, 0x3F00);
  const ParamView half{h.data(), hg.data(), 8, DType::kBFloat16};
  EXPECT_EQ(AdamError(AdamTensor(half, x.a.data(), x.b.data(), nullptr, 1, x.a.data() + 7)),
            "adam: tensor 0: exp_avg and master" + partial);
  // Nothing was written by the refused calls.
  EXPECT_EQ(x.p, std::vector<float>(16, 1.0f));
  EXPECT_EQ(x.a, std::vector<float>(16, 0.0f));
  EXPECT_EQ(h, std::vector<uint16_t>(16, 0x3F80));
  // A buffer of a mode that is off is not used, so it is not checked.
  EXPECT_EQ(AdamError(AdamTensor(p, x.a.data(), x.b.data(), x.b.data())), "<no error>");
  EXPECT_EQ(AdamError(AdamTensor(half, x.a.data(), x.b.data(), nullptr, 1, x.c.data())), "<no error>");
}

TEST(FunctionalOverlap, EveryAlgorithmChecksItsBuffers) {
  Arrays x;
  const ParamView alias = MakeParam(x.p.data(), x.p.data(), 8);
  const ParamView p = MakeParam(x.p.data(), x.g.data(), 8);
  const std::string same = " overlap in memory (the same pointer): each must be a buffer of its own";
  double mu = 1.0;
  {
    std::vector<functional::Tensor> t = {{p, {x.a.data(), x.a.data()}}};
    EXPECT_EQ(ErrorOf([&] { functional::Step(t, AdamaxOptions{}); }), "adamax: tensor 0: exp_avg and exp_inf" + same);
  }
  {
    std::vector<functional::Tensor> t = {{alias, {x.a.data(), x.b.data()}, 1, nullptr, &mu}};
    EXPECT_EQ(ErrorOf([&] { functional::Step(t, NAdamOptions{}); }), "nadam: tensor 0: param data and grad" + same);
  }
  {
    std::vector<functional::Tensor> t = {{p, {x.g.data(), x.b.data()}}};
    EXPECT_EQ(ErrorOf([&] { functional::Step(t, RAdamOptions{}); }), "radam: tensor 0: grad and exp_avg" + same);
  }
  {
    std::vector<functional::Tensor> t = {{p, {x.p.data()}}};
    EXPECT_EQ(ErrorOf([&] { functional::Step(t, AdagradOptions{}); }), "adagrad: tensor 0: param data and sum" + same);
  }
  {
    RMSpropOptions o;
    o.centered = true;
    std::vector<functional::Tensor> t = {{p, {x.a.data(), nullptr, x.a.data()}}};
    EXPECT_EQ(ErrorOf([&] { functional::Step(t, o); }), "rmsprop: tensor 0: square_avg and grad_avg" + same);
  }
  {
    std::vector<functional::Tensor> t = {{p, {x.b.data(), x.b.data()}}};
    EXPECT_EQ(ErrorOf([&] { functional::Step(t, AdadeltaOptions{}); }), "adadelta: tensor 0: square_avg and acc_delta" + same);
  }
  {
    SGDOptions o;
    o.momentum = 0.9;
    std::vector<functional::Tensor> t = {{p, {x.g.data()}}};
    EXPECT_EQ(ErrorOf([&] { functional::Step(t, o); }), "sgd: tensor 0: grad and momentum_buffer" + same);
    // Without momentum the buffer is not used.
    std::vector<functional::Tensor> plain = {{p, {x.g.data()}}};
    EXPECT_EQ(ErrorOf([&] { functional::Step(plain, SGDOptions{}); }), "<no error>");
  }
  EXPECT_EQ(mu, 1.0);
}

// ---------------------------------------------------------------------------------------------------------
// Buffers

TEST(BufferValidation, SizesAndDtypes) {
  EXPECT_EQ(ErrorOf([] { Buffer(DType::kFloat32, -1); }), "Buffer: negative element count -1");
  EXPECT_EQ(ErrorOf([] { Buffer(DType::kFloat64, std::numeric_limits<int64_t>::max()); }),
            "Buffer: element count 9223372036854775807 is too large");
  EXPECT_EQ(ErrorOf([] { Buffer(static_cast<DType>(9), 4); }), "Buffer: unsupported dtype");
  Buffer b(DType::kFloat32, 3);
  EXPECT_EQ(ErrorOf([&] { b.as<double>(); }), "Buffer holds float32, not float64");
}

// bfloat16 and float16 buffers (bfloat16 state) fill with the value rounded to nearest even through
// float32, as torch converts a Python float.
TEST(BufferValidation, HalfBuffersFillRoundedToNearestEven) {
  Buffer b(DType::kBFloat16, 3);
  b.Fill(1.0);
  const auto* bits = static_cast<const uint16_t*>(b.data());
  EXPECT_EQ(bits[0], 0x3F80u);
  EXPECT_EQ(bits[2], 0x3F80u);
  b.Fill(0.1);  // float32 0x3DCCCCCD: the dropped half 0xCCCD is above the midpoint, so up
  EXPECT_EQ(bits[1], 0x3DCDu);
  Buffer h(DType::kFloat16, 2);
  h.Fill(-2.0);
  EXPECT_EQ(static_cast<const uint16_t*>(h.data())[1], 0xC000u);
}

// Small arrays are cache-line aligned; from 2 MiB they start on a huge-page boundary (so that transparent
// huge pages can back them), and every one starts zeroed.
TEST(BufferValidation, AlignmentAndZeros) {
  for (int64_t numel : {int64_t{1}, int64_t{1000}, (int64_t{2} << 20) / 4 - 1, (int64_t{2} << 20) / 4, int64_t{3000000}}) {
    Buffer b(DType::kFloat32, numel);
    const auto address = reinterpret_cast<uintptr_t>(b.data());
    const uintptr_t alignment = b.nbytes() >= (size_t{2} << 20) ? (uintptr_t{2} << 20) : 64;
    EXPECT_EQ(address % alignment, 0u) << numel;
    const std::span<float> x = b.as<float>();
    EXPECT_TRUE(std::all_of(x.begin(), x.end(), [](float v) { return v == 0.0f; })) << numel;
  }
}

// A fault that only a group's own update used to find (a state step out of range, a gradient aliasing a
// state buffer or the master copy), put in the last parameter of the last of three groups: the step is
// refused naming group and parameter, and no byte of any group changes (parameters, state, master copies,
// steps_taken()), nor is state made for a parameter never stepped.
template <class Opt>
class FaultInTheLastGroup : public ::testing::Test {};
using AllOptimizers = test_support::OptimizerTypes;
TYPED_TEST_SUITE(FaultInTheLastGroup, AllOptimizers);

TYPED_TEST(FaultInTheLastGroup, ChangesNothing) {
  enum Fault { kStepNegative, kStepAtTheLimit, kGradIsState, kGradInsideState, kGradIsMaster };
  for (Fault fault : {kStepNegative, kStepAtTheLimit, kGradIsState, kGradInsideState, kGradIsMaster}) {
    SCOPED_TRACE(static_cast<int>(fault));
    std::vector<std::vector<float>> data(6, std::vector<float>(8)), grad(6, std::vector<float>(8));
    for (size_t i = 0; i < 6; ++i) {
      for (size_t j = 0; j < 8; ++j) {
        data[i][j] = 0.25f * static_cast<float>(i + 1) - 0.1f * static_cast<float>(j);
        grad[i][j] = 0.5f - 0.07f * static_cast<float>(i * 8 + j);
      }
    }
    // The last parameter is bfloat16 with master weights, for the master fault.
    std::vector<uint16_t> half(8, 0x3F80), half_grad(8, 0x3F00);
    const auto view = [&](size_t i) { return MakeParam(data[i].data(), grad[i].data(), 8); };
    TypeParam opt(std::vector<ParamView>{view(0), view(1)});
    typename TypeParam::OptionsType options = opt.param_group(0).options;
    if constexpr (requires { options.momentum; }) options.momentum = 0.9;
    opt.param_group(0).options = options;
    opt.AddParamGroup({{view(2), view(3)}, options});
    opt.AddParamGroup({{view(4), ParamView{half.data(), half_grad.data(), 8, DType::kBFloat16}}, options});
    Precision precision;
    precision.master_weights = true;
    opt.set_precision(precision);
    opt.Step();
    opt.param_group(0).params.push_back(view(5));  // no state until a step succeeds
    ParamState& last = opt.state(2, 1);
    ParamView& p = opt.param_group(2).params[1];
    Buffer* buffer = nullptr;  // one of the algorithm's buffers
    for (auto& [name, b] : last.buffers) {
      if (name != "master_param" && buffer == nullptr) buffer = &b;
    }
    ASSERT_NE(buffer, nullptr);
    // Taken before the fault (a checkpoint refuses a negative step); the step's fault is undone after.
    const std::string state_before = SerializeState(opt);
    const std::vector<std::vector<float>> data_before = data;
    const std::vector<uint16_t> half_before = half;
    const uint64_t steps_before = opt.steps_taken();
    const int64_t step_before = last.step;
    switch (fault) {
      case kStepNegative: last.step = -1; break;
      case kStepAtTheLimit: last.step = std::numeric_limits<int64_t>::max(); break;
      // A float32 state buffer seen as the bfloat16 gradient: its first 16 bytes, or bytes in its middle.
      case kGradIsState: p.grad = buffer->data(); break;
      case kGradInsideState: p.grad = static_cast<char*>(buffer->data()) + 6; break;
      case kGradIsMaster: p.grad = last.at("master_param").data(); break;
    }
    const std::string msg = ErrorOf([&] { opt.Step(); });
    EXPECT_EQ(msg.rfind(std::string(opt.name()) + ": param group 2, parameter 1: ", 0), 0u) << msg;
    last.step = step_before;
    EXPECT_EQ(SerializeState(opt), state_before);
    EXPECT_EQ(data, data_before);
    EXPECT_EQ(half, half_before);
    EXPECT_EQ(opt.steps_taken(), steps_before);
    EXPECT_TRUE(opt.state(0, 2).empty());
  }
}

// The largest state step a step accepts (one below the int64 limit, as a checkpoint may hold it) is taken
// without overflow (the sanitizer builds run this): with the default options every step-dependent scalar
// has reached its limit by step 2^40 (beta^t underflows to 0 in double), so both steps give the same bits.
template <class Opt>
class LargestStateStep : public ::testing::Test {};
TYPED_TEST_SUITE(LargestStateStep, AllOptimizers);

TYPED_TEST(LargestStateStep, IsTakenLikeAnyLargeStep) {
  std::vector<std::vector<float>> result;
  for (const int64_t step : {int64_t{1} << 40, std::numeric_limits<int64_t>::max() - 1}) {
    std::vector<float> data(8), grad(8);
    for (size_t j = 0; j < 8; ++j) {
      data[j] = 0.25f - 0.1f * static_cast<float>(j);
      grad[j] = 0.5f - 0.07f * static_cast<float>(j);
    }
    TypeParam opt(std::vector<ParamView>{MakeParam(data.data(), grad.data(), 8)});
    opt.Step();
    opt.state(0, 0).step = step;
    opt.Step();
    EXPECT_EQ(opt.state(0, 0).step, FindAlgorithm(opt.name())->counts_steps ? step + 1 : step);
    result.push_back(data);
  }
  EXPECT_EQ(result[0], result[1]);
}

}  // namespace
}  // namespace adamant
