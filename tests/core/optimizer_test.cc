// The stateful optimizers and the functional layer under them: lazily created state under PyTorch's names,
// step counting, skipped parameters, groups and their options, validation before any update, dtypes, the
// errors, and the update formulas of the modes that PyTorch does not have (checked against double-precision
// formulas written here).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "adamant/factory.h"
#include "adamant/functional.h"
#include "adamant/option_text.h"
#include "adamant/optimizer.h"
#include "adamant/options.h"
#include "support/error_of.h"
#include "support/optimizer_types.h"

namespace adamant {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Helpers

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

using test_support::ErrorOf;

template <class F>
std::string OutOfRangeOf(F&& f) {
  return test_support::ErrorOf<std::out_of_range>(f);
}

template <typename T>
std::vector<T> RandomVector(size_t n, uint32_t seed, double scale = 1.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(normal(rng));
  return v;
}

template <typename T>
bool Bitwise(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool SameBuffer(const Buffer& a, const Buffer& b) {
  return a.dtype() == b.dtype() && a.numel() == b.numel() &&
         (a.nbytes() == 0 || std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
}

// Every field of two states equal, buffers bitwise.
::testing::AssertionResult SameState(const ParamState& a, const ParamState& b) {
  if (a.step != b.step) return ::testing::AssertionFailure() << "step " << a.step << " vs " << b.step;
  if (a.mu_product != b.mu_product) return ::testing::AssertionFailure() << "mu_product differs";
  if (a.buffers.size() != b.buffers.size()) {
    return ::testing::AssertionFailure() << a.buffers.size() << " vs " << b.buffers.size() << " buffers";
  }
  for (const auto& [name, buf] : a.buffers) {
    if (!b.has(name)) return ::testing::AssertionFailure() << "no buffer " << name;
    if (!SameBuffer(buf, b.at(name))) return ::testing::AssertionFailure() << "buffer " << name << " differs";
  }
  return ::testing::AssertionSuccess();
}

std::set<std::string> BufferNames(const ParamState& s) {
  std::set<std::string> names;
  for (const auto& [name, buf] : s.buffers) names.insert(name);
  return names;
}

// A float32 parameter and its gradient, owned by the test.
struct Param {
  std::vector<float> data, grad;
  Param(size_t n, uint32_t seed) : data(RandomVector<float>(n, seed)), grad(RandomVector<float>(n, seed + 1000)) {}
  ParamView view() { return MakeParam(data.data(), grad.data(), static_cast<int64_t>(data.size())); }
};

// ---------------------------------------------------------------------------------------------------------
// Per-algorithm facts: options that give every state buffer, and PyTorch's state names for them.

template <class Opt>
struct Traits;

template <>
struct Traits<Adam> {
  using DefaultsT = AdamOptions;
  static AdamOptions Options() { return {}; }
  static std::set<std::string> State() { return {"exp_avg", "exp_avg_sq"}; }
  static constexpr bool kCountsSteps = true;
};
template <>
struct Traits<AdamW> {
  using DefaultsT = AdamWOptions;  // AdamW's constructors take AdamWOptions
  static AdamWOptions Options() { return {}; }
  static std::set<std::string> State() { return {"exp_avg", "exp_avg_sq"}; }
  static constexpr bool kCountsSteps = true;
};
template <>
struct Traits<Adamax> {
  using DefaultsT = AdamaxOptions;
  static AdamaxOptions Options() { return {}; }
  static std::set<std::string> State() { return {"exp_avg", "exp_inf"}; }
  static constexpr bool kCountsSteps = true;
};
template <>
struct Traits<NAdam> {
  using DefaultsT = NAdamOptions;
  static NAdamOptions Options() { return {}; }
  static std::set<std::string> State() { return {"exp_avg", "exp_avg_sq"}; }
  static constexpr bool kCountsSteps = true;
};
template <>
struct Traits<RAdam> {
  using DefaultsT = RAdamOptions;
  static RAdamOptions Options() { return {}; }
  static std::set<std::string> State() { return {"exp_avg", "exp_avg_sq"}; }
  static constexpr bool kCountsSteps = true;
};
template <>
struct Traits<Adagrad> {
  using DefaultsT = AdagradOptions;
  static AdagradOptions Options() { return {}; }
  static std::set<std::string> State() { return {"sum"}; }
  static constexpr bool kCountsSteps = true;
};
template <>
struct Traits<RMSprop> {
  using DefaultsT = RMSpropOptions;
  static RMSpropOptions Options() { return {}; }
  static std::set<std::string> State() { return {"square_avg"}; }
  static constexpr bool kCountsSteps = true;
};
template <>
struct Traits<Adadelta> {
  using DefaultsT = AdadeltaOptions;
  static AdadeltaOptions Options() { return {}; }
  static std::set<std::string> State() { return {"square_avg", "acc_delta"}; }
  static constexpr bool kCountsSteps = true;
};
template <>
struct Traits<SGD> {
  using DefaultsT = SGDOptions;
  static SGDOptions Options() { return {.momentum = 0.9}; }  // without momentum SGD keeps no state
  static std::set<std::string> State() { return {"momentum_buffer"}; }
  static constexpr bool kCountsSteps = false;  // torch's SGD keeps no step
};
template <>
struct Traits<Lion> {
  using DefaultsT = LionOptions;
  static LionOptions Options() { return {}; }
  static std::set<std::string> State() { return {"exp_avg"}; }
  static constexpr bool kCountsSteps = true;
};

template <class Opt>
class EveryOptimizer : public ::testing::Test {
 public:
  using Options = typename Traits<Opt>::DefaultsT;
  using GroupOptions = typename Opt::OptionsType;
  static Options Defaults() { return Traits<Opt>::Options(); }
  static std::unique_ptr<Opt> Make(std::vector<ParamView> params, Options o = Defaults()) {
    return std::make_unique<Opt>(std::vector<ParamGroup<GroupOptions>>{{std::move(params), o}}, o);
  }
  static std::unique_ptr<Opt> Make(std::vector<ParamGroup<GroupOptions>> groups) {
    return std::make_unique<Opt>(std::move(groups), Defaults());
  }
  static int64_t Steps(int64_t n) { return Traits<Opt>::kCountsSteps ? n : 0; }
};

using OptimizerTypes = test_support::OptimizerTypes;
TYPED_TEST_SUITE(EveryOptimizer, OptimizerTypes);

TYPED_TEST(EveryOptimizer, StateIsCreatedLazilyUnderPyTorchsNames) {
  Param a(5, 1), b(3, 2);
  auto opt = this->Make({a.view(), b.view()});
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(opt->state(0, i).empty());
    EXPECT_TRUE(opt->state(0, i).buffers.empty());
    EXPECT_EQ(opt->state(0, i).step, 0);
  }
  opt->Step();
  for (size_t i = 0; i < 2; ++i) {
    const ParamState& s = opt->state(0, i);
    EXPECT_EQ(BufferNames(s), Traits<TypeParam>::State());
    for (const auto& [name, buf] : s.buffers) {
      EXPECT_EQ(buf.numel(), i == 0 ? 5 : 3) << name;
      EXPECT_EQ(buf.dtype(), DType::kFloat32) << name;
    }
    EXPECT_EQ(s.step, this->Steps(1));
    EXPECT_FALSE(s.empty());
  }
  opt->Step();
  opt->Step();
  EXPECT_EQ(opt->state(0, 0).step, this->Steps(3));
  EXPECT_EQ(opt->state(0, 1).step, this->Steps(3));
  EXPECT_EQ(BufferNames(opt->state(0, 0)), Traits<TypeParam>::State());
}

// PyTorch's `if p.grad is None: continue`: no state, no change, no step; the others step.
TYPED_TEST(EveryOptimizer, ParamWithoutGradIsSkipped) {
  Param a(4, 10), b(4, 20), c(4, 30);
  const std::vector<float> b0 = b.data;
  ParamView vb = b.view();
  vb.grad = nullptr;
  auto opt = this->Make({a.view(), vb, c.view()});
  const std::vector<float> a0 = a.data;
  opt->Step();
  opt->Step();
  EXPECT_TRUE(opt->state(0, 1).empty());
  EXPECT_EQ(opt->state(0, 1).step, 0);
  EXPECT_TRUE(Bitwise(b.data, b0));
  EXPECT_EQ(opt->state(0, 0).step, this->Steps(2));
  EXPECT_EQ(opt->state(0, 2).step, this->Steps(2));
  EXPECT_FALSE(Bitwise(a.data, a0));

  // Given a gradient, b takes its first step (bias corrections of step 1) while a and c take their third.
  opt->params(0)[1].grad = b.grad.data();
  opt->Step();
  EXPECT_EQ(opt->state(0, 1).step, this->Steps(1));
  EXPECT_EQ(opt->state(0, 0).step, this->Steps(3));
  Param fresh(4, 20);
  ASSERT_TRUE(Bitwise(fresh.data, b0));
  auto ref = this->Make({fresh.view()});
  ref->Step();
  EXPECT_TRUE(Bitwise(b.data, fresh.data));
  EXPECT_TRUE(SameState(opt->state(0, 1), ref->state(0, 0)));
}

TYPED_TEST(EveryOptimizer, ZeroElementParam) {
  float dummy_grad = 0;
  ParamView empty = MakeParam(static_cast<float*>(nullptr), &dummy_grad, 0);
  Param a(3, 5);
  const std::vector<float> a0 = a.data;
  auto opt = this->Make({empty, a.view()});
  opt->Step();
  opt->Step();
  EXPECT_EQ(opt->state(0, 0).step, this->Steps(2));
  for (const auto& [name, buf] : opt->state(0, 0).buffers) EXPECT_EQ(buf.numel(), 0) << name;
  EXPECT_EQ(opt->state(0, 1).step, this->Steps(2));
  EXPECT_FALSE(Bitwise(a.data, a0));
}

TYPED_TEST(EveryOptimizer, ZeroGradZeroesGradientsInPlace) {
  Param a(4, 1), b(2, 2);
  std::vector<double> w64 = {1.0, 2.0, 3.0}, g64 = {-1.0, 0.5, 7.0};
  ParamView no_grad = b.view();
  no_grad.grad = nullptr;
  using Options = typename TypeParam::OptionsType;
  auto opt = this->Make(std::vector<ParamGroup<Options>>{{{a.view(), no_grad}, this->Defaults()},
                                                         {{MakeParam(w64.data(), g64.data(), 3)}, this->Defaults()}});
  const std::vector<float> a0 = a.data, b_grad = b.grad;
  const float* grad_ptr = a.grad.data();
  opt->ZeroGrad();
  EXPECT_TRUE(Bitwise(a.grad, std::vector<float>(4, 0.0f)));
  EXPECT_TRUE(Bitwise(g64, std::vector<double>(3, 0.0)));
  EXPECT_EQ(opt->params(0)[0].grad, grad_ptr);
  EXPECT_TRUE(Bitwise(a.data, a0));
  EXPECT_TRUE(Bitwise(b.grad, b_grad));  // not the optimizer's to touch
  EXPECT_TRUE(opt->state(0, 0).empty());
}

// Each group steps with its own options: a two-group optimizer equals two one-group optimizers.
TYPED_TEST(EveryOptimizer, GroupsHaveTheirOwnLearningRate) {
  using Options = typename TestFixture::Options;
  using GroupOptions = typename TypeParam::OptionsType;
  Param a(6, 7), b(6, 7), ra(6, 7), rb(6, 7);
  Options slow = this->Defaults(), fast = this->Defaults();
  slow.lr = 0.01;
  fast.lr = 0.3;
  auto opt = this->Make(std::vector<ParamGroup<GroupOptions>>{{{a.view()}, slow}, {{b.view()}, fast}});
  auto ref_a = this->Make({ra.view()}, slow);
  auto ref_b = this->Make({rb.view()}, fast);
  EXPECT_EQ(opt->num_param_groups(), 2u);
  EXPECT_EQ(opt->lr(0), 0.01);
  EXPECT_EQ(opt->lr(1), 0.3);
  for (int i = 0; i < 3; ++i) {
    opt->Step();
    ref_a->Step();
    ref_b->Step();
  }
  EXPECT_TRUE(Bitwise(a.data, ra.data));
  EXPECT_TRUE(Bitwise(b.data, rb.data));
  EXPECT_FALSE(Bitwise(a.data, b.data));
}

// Options changed between steps take effect at the next step, whichever way they are changed.
TYPED_TEST(EveryOptimizer, OptionsChangedBetweenStepsApplyToTheNextStep) {
  using Options = typename TypeParam::OptionsType;
  Param a(5, 3), r(5, 3);
  auto opt = this->Make({a.view()});
  auto ref = this->Make({r.view()});
  opt->Step();
  ref->Step();
  // Three ways to set lr: set_lr, SetOption, param_group().options; the reference gets the same lr.
  opt->set_lr(0, 0.5);
  ref->param_group(0).options.lr = 0.5;
  EXPECT_EQ(opt->lr(0), 0.5);
  EXPECT_EQ(opt->GetOption(0, "lr"), "0.5");
  opt->Step();
  ref->Step();
  EXPECT_TRUE(Bitwise(a.data, r.data));
  opt->SetOption(0, "lr", "0.125");
  EXPECT_EQ(opt->param_group(0).options.lr, 0.125);
  ref->set_lr(0, 0.125);
  opt->SetOption(0, "weight_decay", "0.25");
  Options changed = ref->param_group(0).options;
  changed.weight_decay = 0.25;
  ref->param_group(0).options = changed;
  EXPECT_EQ(opt->GetOption(0, "weight_decay"), "0.25");
  opt->Step();
  ref->Step();
  EXPECT_TRUE(Bitwise(a.data, r.data));
  // And it does make a difference: a third optimizer that kept lr=default differs.
  Param k(5, 3);
  auto kept = this->Make({k.view()});
  for (int i = 0; i < 3; ++i) kept->Step();
  EXPECT_FALSE(Bitwise(a.data, k.data));
}

TYPED_TEST(EveryOptimizer, SetOptionErrorsKeepTheOldValue) {
  Param a(2, 1);
  auto opt = this->Make({a.view()});
  const std::string lr = opt->GetOption(0, "lr");
  std::string valid;
  for (const std::string& n : opt->option_names()) valid += (valid.empty() ? "" : ", ") + n;
  const std::string name(opt->name());
  EXPECT_EQ(ErrorOf([&] { opt->SetOption(0, "learning_rate", "0.1"); }),
            "unknown option 'learning_rate' for " + name + " (valid: " + valid + ")");
  EXPECT_EQ(ErrorOf([&] { opt->GetOption(0, "learning_rate"); }),
            "unknown option 'learning_rate' for " + name + " (valid: " + valid + ")");
  EXPECT_EQ(ErrorOf([&] { opt->SetOption(0, "lr", "-1"); }), "Invalid learning rate: -1.0");
  // NaN: rejected as PyTorch's `not 0.0 <= lr` rejects it, except by SGD, whose `lr < 0.0` lets it pass.
  if (std::string_view(opt->name()) != "sgd") {
    EXPECT_EQ(ErrorOf([&] { opt->SetOption(0, "lr", "nan"); }), "Invalid learning rate: nan");
  }
  EXPECT_EQ(ErrorOf([&] { opt->SetOption(0, "lr", "fast"); }),
            "invalid value for option 'lr': 'fast' (expected a number)");
  EXPECT_EQ(ErrorOf([&] { opt->SetOption(0, "weight_decay", "-0.5"); }), "Invalid weight_decay value: -0.5");
  EXPECT_EQ(ErrorOf([&] { opt->SetOption(0, "maximize", "perhaps"); }),
            "invalid value for option 'maximize': 'perhaps' (expected true or false)");
  EXPECT_EQ(opt->GetOption(0, "lr"), lr);
  EXPECT_EQ(opt->GetOption(0, "weight_decay"), OptionToString(this->Defaults().weight_decay));
  EXPECT_EQ(opt->GetOption(0, "maximize"), "false");
  EXPECT_EQ(opt->param_group(0).options.lr, this->Defaults().lr);
  // Group indices out of range.
  EXPECT_NE(OutOfRangeOf([&] { opt->SetOption(1, "lr", "0.1"); }), "<no error>");
  EXPECT_NE(OutOfRangeOf([&] { opt->GetOption(1, "lr"); }), "<no error>");
  EXPECT_NE(OutOfRangeOf([&] { opt->lr(1); }), "<no error>");
  EXPECT_NE(OutOfRangeOf([&] { opt->set_lr(1, 0.1); }), "<no error>");
  EXPECT_NE(OutOfRangeOf([&] { opt->params(1); }), "<no error>");
  EXPECT_EQ(OutOfRangeOf([&] { opt->param_group(3); }), "param group 3 does not exist (there are 1)");
}

TYPED_TEST(EveryOptimizer, InvalidOptionsRejectedAtConstruction) {
  using Options = typename Traits<TypeParam>::DefaultsT;
  using GroupOptions = typename TypeParam::OptionsType;
  Param a(2, 1);
  Options bad = this->Defaults();
  bad.lr = -1;
  EXPECT_EQ(ErrorOf([&] { TypeParam opt({a.view()}, bad); }), "Invalid learning rate: -1.0");
  EXPECT_EQ(ErrorOf([&] { this->Make(std::vector<ParamGroup<GroupOptions>>{{{a.view()}, this->Defaults()}, {{}, bad}}); }),
            "Invalid learning rate: -1.0");
  auto opt = this->Make({a.view()});
  EXPECT_EQ(ErrorOf([&] { opt->AddParamGroup({{a.view()}, bad}); }), "Invalid learning rate: -1.0");
  EXPECT_EQ(opt->num_param_groups(), 1u);
}

// An invalid option in any group is found before any group is updated: params and state stay as they were.
TYPED_TEST(EveryOptimizer, InvalidGroupOptionRejectedAtStepBeforeAnyUpdate) {
  using Options = typename TypeParam::OptionsType;
  Param a(4, 1), b(4, 2);
  auto opt = this->Make(std::vector<ParamGroup<Options>>{{{a.view()}, this->Defaults()}, {{b.view()}, this->Defaults()}});
  opt->Step();
  const std::vector<float> a1 = a.data, b1 = b.data;
  const ParamState sa = opt->state(0, 0), sb = opt->state(1, 0);
  opt->set_lr(1, -1.0);  // set_lr and param_group().options do not validate; Step does
  EXPECT_EQ(ErrorOf([&] { opt->Step(); }), "Invalid learning rate: -1.0");
  opt->set_lr(1, this->Defaults().lr);
  opt->param_group(1).options.weight_decay = -0.5;
  EXPECT_EQ(ErrorOf([&] { opt->Step(); }), "Invalid weight_decay value: -0.5");
  EXPECT_TRUE(Bitwise(a.data, a1));
  EXPECT_TRUE(Bitwise(b.data, b1));
  EXPECT_TRUE(SameState(opt->state(0, 0), sa));
  EXPECT_TRUE(SameState(opt->state(1, 0), sb));
  // Once repaired, the step goes ahead.
  opt->param_group(1).options.weight_decay = 0;
  opt->Step();
  EXPECT_EQ(opt->state(0, 0).step, this->Steps(2));
  EXPECT_FALSE(Bitwise(a.data, a1));
}

TYPED_TEST(EveryOptimizer, ParamWhoseSizeOrDtypeChangedThrows) {
  Param a(4, 1);
  auto opt = this->Make({a.view()});
  opt->Step();
  const std::string state_name = *Traits<TypeParam>::State().begin();
  opt->params(0)[0].numel = 3;
  EXPECT_PRED2(Contains, ErrorOf([&] { opt->Step(); }),
               "has 4 elements of float32 but the float32 parameter needs 3 of float32");
  opt->params(0)[0].numel = 5;
  EXPECT_PRED2(Contains, ErrorOf([&] { opt->Step(); }), "but the float32 parameter needs 5 of float32");
  std::vector<double> w(4, 1.0), g(4, 1.0);
  opt->params(0)[0] = MakeParam(w.data(), g.data(), 4);
  EXPECT_PRED2(Contains, ErrorOf([&] { opt->Step(); }), "has 4 elements of float32 but the float64 parameter needs 4 of float64");
  EXPECT_EQ(opt->state(0, 0).step, this->Steps(1));
}

// A rejected step changes nothing (the functional layer's promise, and the optimizer's for option errors),
// also when the parameter at fault comes after a fresh one in its group...
TYPED_TEST(EveryOptimizer, RejectedStepLeavesNoHalfMadeState) {
  Param a(4, 1), b(4, 2);
  ParamView vb = b.view();
  vb.grad = nullptr;
  auto opt = this->Make({vb, a.view()});
  opt->Step();  // a only
  // Now b (fresh) gets a gradient and a's size changes: the step must be rejected as a whole.
  opt->params(0)[0].grad = b.grad.data();
  opt->params(0)[1].numel = 3;
  const std::vector<float> a0 = a.data, b0 = b.data;
  const ParamState sa = opt->state(0, 1);
  EXPECT_PRED2(Contains, ErrorOf([&] { opt->Step(); }), "but the float32 parameter needs 3 of float32");
  EXPECT_TRUE(Bitwise(b.data, b0));
  EXPECT_TRUE(Bitwise(a.data, a0));
  EXPECT_TRUE(SameState(opt->state(0, 1), sa));
  EXPECT_TRUE(opt->state(0, 0).empty()) << "b has state buffers (step " << opt->state(0, 0).step
                                        << ") from a step that was rejected";
}

// ... or in a later group.
TYPED_TEST(EveryOptimizer, RejectedStepInALaterGroupLeavesEarlierGroupsAlone) {
  using GroupOptions = typename TypeParam::OptionsType;
  Param a(4, 1), c(4, 3);
  auto opt = this->Make(std::vector<ParamGroup<GroupOptions>>{{{c.view()}, this->Defaults()},
                                                              {{a.view()}, this->Defaults()}});
  opt->Step();
  opt->params(1)[0].numel = 3;
  const std::vector<float> a0 = a.data, c0 = c.data;
  const ParamState sa = opt->state(1, 0), sc = opt->state(0, 0);
  EXPECT_PRED2(Contains, ErrorOf([&] { opt->Step(); }), "but the float32 parameter needs 3 of float32");
  EXPECT_TRUE(Bitwise(a.data, a0));
  EXPECT_TRUE(SameState(opt->state(1, 0), sa));
  EXPECT_TRUE(Bitwise(c.data, c0)) << "group 0 was updated by a step that was rejected";
  EXPECT_TRUE(SameState(opt->state(0, 0), sc)) << "group 0's state advanced by a step that was rejected";
}

// What the half-made state of a rejected step does to SGD: the zero-filled momentum buffer left behind counts
// as initialized, so the next step decays it (buf = (1 - dampening) * g) instead of setting it to g.
TEST(OptimizerState, SGDMomentumAfterARejectedStepIsTheFirstGradient) {
  Param a(4, 1), b(4, 2);
  ParamView vb = b.view();
  vb.grad = nullptr;
  SGD opt({vb, a.view()}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  opt.Step();
  opt.params(0)[0].grad = b.grad.data();
  opt.params(0)[1].numel = 3;
  EXPECT_THROW(opt.Step(), std::invalid_argument);
  opt.params(0)[1].numel = 4;
  opt.Step();
  ASSERT_TRUE(opt.state(0, 0).has("momentum_buffer"));
  auto buf = opt.state(0, 0).at("momentum_buffer").as<float>();
  EXPECT_TRUE(Bitwise(std::vector<float>(buf.begin(), buf.end()), b.grad))
      << "b's first momentum buffer is " << buf[0] << ", ... instead of its gradient " << b.grad[0] << ", ...";
}

TYPED_TEST(EveryOptimizer, MaximizeEqualsMinimizingTheNegatedGradient) {
  Param a(7, 4), b(7, 4);
  for (float& g : b.grad) g = -g;
  auto up = this->Make({a.view()});
  auto down = this->Make({b.view()});
  up->SetOption(0, "maximize", "true");
  up->SetOption(0, "weight_decay", "0.1");
  down->SetOption(0, "weight_decay", "0.1");
  for (int i = 0; i < 4; ++i) {
    up->Step();
    down->Step();
    for (size_t j = 0; j < a.grad.size(); ++j) {
      a.grad[j] = a.grad[j] * 0.5f + static_cast<float>(j) * 0.01f;
      b.grad[j] = -a.grad[j];
    }
  }
  EXPECT_TRUE(Bitwise(a.data, b.data));
  EXPECT_TRUE(SameState(up->state(0, 0), down->state(0, 0)));
}

// float64 parameters: state in float64, and a mixed group steps each tensor in its own type exactly as a
// group of that type alone would.
TYPED_TEST(EveryOptimizer, Float64AndMixedGroups) {
  Param f(6, 8), rf(6, 8);
  std::vector<double> w = RandomVector<double>(6, 9), g = RandomVector<double>(6, 10);
  std::vector<double> rw = w;
  auto mixed = this->Make({f.view(), MakeParam(w.data(), g.data(), 6)});
  auto only_f = this->Make({rf.view()});
  auto only_d = this->Make({MakeParam(rw.data(), g.data(), 6)});
  for (int i = 0; i < 3; ++i) {
    mixed->Step();
    only_f->Step();
    only_d->Step();
  }
  EXPECT_TRUE(Bitwise(f.data, rf.data));
  EXPECT_TRUE(Bitwise(w, rw));
  for (const auto& [name, buf] : mixed->state(0, 1).buffers) EXPECT_EQ(buf.dtype(), DType::kFloat64) << name;
  for (const auto& [name, buf] : mixed->state(0, 0).buffers) EXPECT_EQ(buf.dtype(), DType::kFloat32) << name;
  // float64 and float32 runs of the same data agree to float precision (a rough check that float64 is not
  // routed through float32 or vice versa: they must differ somewhere, but not by much).
  Param f2(6, 8);
  std::vector<double> w2(f2.data.begin(), f2.data.end()), g2(f2.grad.begin(), f2.grad.end());
  auto as_f = this->Make({f2.view()});
  auto as_d = this->Make({MakeParam(w2.data(), g2.data(), 6)});
  for (int i = 0; i < 3; ++i) {
    as_f->Step();
    as_d->Step();
  }
  bool any_difference = false;
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(w2[i], f2.data[i], 1e-5 * (1 + std::abs(w2[i])));
    any_difference |= w2[i] != static_cast<double>(f2.data[i]);
  }
  EXPECT_TRUE(any_difference);
}

TYPED_TEST(EveryOptimizer, StateIndexOutOfRange) {
  Param a(2, 1);
  auto opt = this->Make({a.view()});
  EXPECT_EQ(OutOfRangeOf([&] { opt->state(1, 0); }), "param group 1 does not exist (there are 1)");
  EXPECT_EQ(OutOfRangeOf([&] { opt->state(0, 1); }), "param group 0 has no parameter 1");
  const Optimizer& c = *opt;
  EXPECT_EQ(OutOfRangeOf([&] { c.state(0, 7); }), "param group 0 has no parameter 7");
  EXPECT_EQ(OutOfRangeOf([&] { c.state(0, 0).at("exp_avg"); }), "no state named 'exp_avg'");
  opt->Step();
  EXPECT_EQ(OutOfRangeOf([&] { opt->state(0, 0).at("no_such_state"); }), "no state named 'no_such_state'");
  EXPECT_EQ(OutOfRangeOf([&] { opt->state(0, 0).at(*Traits<TypeParam>::State().begin()); }), "<no error>");
}

// ---------------------------------------------------------------------------------------------------------
// State per algorithm and option.

std::set<std::string> StateAfterOneStep(const std::string& name, const std::string& options) {
  Param a(3, 1);
  auto opt = CreateOptimizer(name, {a.view()}, ParseOptionList(options));
  opt->Step();
  return BufferNames(opt->state(0, 0));
}

TEST(OptimizerState, NamesDependOnOptionsAsInPyTorch) {
  using S = std::set<std::string>;
  EXPECT_EQ(StateAfterOneStep("adam", ""), (S{"exp_avg", "exp_avg_sq"}));
  EXPECT_EQ(StateAfterOneStep("adam", "amsgrad=true"), (S{"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}));
  EXPECT_EQ(StateAfterOneStep("adamw", "amsgrad=true"), (S{"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}));
  EXPECT_EQ(StateAfterOneStep("adamax", ""), (S{"exp_avg", "exp_inf"}));
  EXPECT_EQ(StateAfterOneStep("nadam", "decoupled_weight_decay=true weight_decay=0.1"), (S{"exp_avg", "exp_avg_sq"}));
  EXPECT_EQ(StateAfterOneStep("radam", ""), (S{"exp_avg", "exp_avg_sq"}));
  EXPECT_EQ(StateAfterOneStep("adagrad", "initial_accumulator_value=0.5"), (S{"sum"}));
  EXPECT_EQ(StateAfterOneStep("rmsprop", ""), (S{"square_avg"}));
  EXPECT_EQ(StateAfterOneStep("rmsprop", "momentum=0.9"), (S{"square_avg", "momentum_buffer"}));
  EXPECT_EQ(StateAfterOneStep("rmsprop", "centered=true"), (S{"square_avg", "grad_avg"}));
  EXPECT_EQ(StateAfterOneStep("rmsprop", "centered=true momentum=0.5"),
            (S{"square_avg", "grad_avg", "momentum_buffer"}));
  EXPECT_EQ(StateAfterOneStep("adadelta", ""), (S{"square_avg", "acc_delta"}));
  EXPECT_EQ(StateAfterOneStep("sgd", "momentum=0.9"), (S{"momentum_buffer"}));
  EXPECT_EQ(StateAfterOneStep("sgd", ""), S{});
  EXPECT_EQ(StateAfterOneStep("sgd", "weight_decay=0.1 maximize=true"), S{});
}

TEST(OptimizerState, NAdamMuProduct) {
  Param a(3, 1);
  NAdamOptions o;
  o.momentum_decay = 0.004;
  NAdam opt({a.view()}, o);
  EXPECT_EQ(opt.state(0, 0).mu_product, 1.0);
  auto mu = [&](double t) { return o.betas[0] * (1.0 - 0.5 * std::pow(0.96, t * o.momentum_decay)); };
  opt.Step();
  EXPECT_DOUBLE_EQ(opt.state(0, 0).mu_product, mu(1));
  opt.Step();
  EXPECT_DOUBLE_EQ(opt.state(0, 0).mu_product, mu(1) * mu(2));
  opt.Step();
  EXPECT_DOUBLE_EQ(opt.state(0, 0).mu_product, mu(1) * mu(2) * mu(3));
}

TEST(OptimizerState, AdagradSumStartsAtInitialAccumulatorValue) {
  for (double init : {0.0, 0.5, 0.1, 3.0}) {
    std::vector<float> w = {1, 2, 3, 4}, g = {0.0f, 0.5f, -2.0f, 0.375f};  // g*g exact in float
    Adagrad opt({MakeParam(w.data(), g.data(), 4)}, {.initial_accumulator_value = init});
    opt.Step();
    auto sum = opt.state(0, 0).at("sum").as<float>();
    for (size_t i = 0; i < 4; ++i) {
      // sum = init + g*g, one rounding (g*g is exact here, fused or not): exactly init for a zero gradient.
      const float expected = static_cast<float>(init) + g[i] * g[i];
      EXPECT_EQ(sum[i], expected) << "init " << init << " g " << g[i];
    }
    EXPECT_EQ(sum[0], static_cast<float>(init));
    EXPECT_EQ(w[0], 1.0f) << "a zero gradient leaves the parameter alone";
  }
}

TEST(OptimizerState, SGDMomentumBufferIsTheFirstGradient) {
  for (double dampening : {0.0, 0.5}) {
    Param a(8, 3);
    SGD opt({a.view()}, {.lr = 0.1, .momentum = 0.9, .dampening = dampening});
    opt.Step();
    auto buf = opt.state(0, 0).at("momentum_buffer").as<float>();
    EXPECT_TRUE(Bitwise(std::vector<float>(buf.begin(), buf.end()), a.grad)) << "dampening " << dampening;
    EXPECT_EQ(opt.state(0, 0).step, 0);
    // Second step: buf = momentum*buf + (1 - dampening)*g.
    const std::vector<float> b1(buf.begin(), buf.end());
    for (float& g : a.grad) g *= -2.0f;
    opt.Step();
    for (size_t i = 0; i < 8; ++i) {
      const double expected = 0.9 * b1[i] + (1.0 - dampening) * a.grad[i];
      EXPECT_NEAR(buf[i], expected, 4e-7 * (std::abs(0.9 * b1[i]) + std::abs(a.grad[i])));
    }
  }
}

TEST(OptimizerState, SGDWithoutMomentumKeepsNoStateUntilMomentumIsTurnedOn) {
  Param a(4, 5);
  const std::vector<float> p0 = a.data;
  SGD opt({a.view()}, {.lr = 0.5});
  opt.Step();
  opt.Step();
  EXPECT_TRUE(opt.state(0, 0).empty());
  for (size_t i = 0; i < 4; ++i) {
    // p - lr*g twice, as torch's p.add_(g, alpha=-lr); -0.5 * g is exact, so fused or not makes no difference.
    float p = p0[i];
    p = p + -0.5f * a.grad[i];
    p = p + -0.5f * a.grad[i];
    EXPECT_EQ(a.data[i], p);
  }
  opt.SetOption(0, "momentum", "0.9");
  opt.Step();
  auto buf = opt.state(0, 0).at("momentum_buffer").as<float>();
  EXPECT_TRUE(Bitwise(std::vector<float>(buf.begin(), buf.end()), a.grad));
}

// ---------------------------------------------------------------------------------------------------------
// AdamW

TEST(AdamW, EqualsAdamWithDecoupledWeightDecayBitwise) {
  Param a(16, 1), b(16, 1);
  AdamWOptions w;
  w.lr = 0.05;
  w.weight_decay = 0.1;
  w.amsgrad = true;
  AdamOptions d;
  d.lr = 0.05;
  d.weight_decay = 0.1;
  d.amsgrad = true;
  d.decoupled_weight_decay = true;
  AdamW adamw({a.view()}, w);
  Adam adam({b.view()}, d);
  Param l2(16, 1);
  d.decoupled_weight_decay = false;
  Adam coupled({l2.view()}, d);
  for (int i = 0; i < 5; ++i) {
    adamw.Step();
    adam.Step();
    coupled.Step();
    for (size_t j = 0; j < 16; ++j) a.grad[j] = b.grad[j] = l2.grad[j] = a.grad[j] * -0.7f + 0.01f;
  }
  EXPECT_TRUE(Bitwise(a.data, b.data));
  EXPECT_TRUE(SameState(adamw.state(0, 0), adam.state(0, 0)));
  EXPECT_FALSE(Bitwise(a.data, l2.data)) << "decoupled and L2 decay should differ";
}

TEST(AdamW, GroupsFromPlainAdamOptionsAreDecoupled) {
  Param a(8, 2), b(8, 2);
  AdamOptions plain;
  plain.lr = 0.1;
  plain.weight_decay = 0.5;
  AdamW adamw(std::vector<ParamGroup<AdamOptions>>{{{a.view()}, plain}});
  EXPECT_TRUE(adamw.param_group(0).options.decoupled_weight_decay);
  AdamOptions decoupled = plain;
  decoupled.decoupled_weight_decay = true;
  Adam adam({b.view()}, decoupled);
  for (int i = 0; i < 3; ++i) {
    adamw.Step();
    adam.Step();
  }
  EXPECT_TRUE(Bitwise(a.data, b.data));
}

TEST(AdamW, GroupsAddedLaterFromPlainAdamOptionsAreDecoupled) {
  Param a(4, 1), b(4, 2);
  AdamW adamw({a.view()});
  AdamOptions plain;
  plain.weight_decay = 0.5;
  adamw.AddParamGroup({{b.view()}, plain});
  EXPECT_TRUE(adamw.param_group(1).options.decoupled_weight_decay)
      << "AdamW::AddParamGroup with plain AdamOptions silently gives an Adam (L2) group";
  // A group added from a parameter list gets AdamW's defaults.
  Param c(4, 3);
  adamw.AddParamGroup(std::vector<ParamView>{c.view()});
  EXPECT_TRUE(adamw.param_group(2).options.decoupled_weight_decay);
  EXPECT_EQ(adamw.param_group(2).options.weight_decay, 1e-2);
}

// ---------------------------------------------------------------------------------------------------------
// Adam: changing options between steps, checked against the functional layer with its own state.

TEST(AdamOptionsBetweenSteps, MatchTheFunctionalLayer) {
  Param a(9, 11);
  std::vector<float> ref = a.data, m(9), v(9), vmax(9);
  AdamOptions o;
  o.amsgrad = true;
  Adam opt({a.view()}, o);
  auto reference_step = [&](const AdamOptions& opts, int64_t step) {
    const functional::Tensor t{MakeParam(ref.data(), a.grad.data(), 9), {m.data(), v.data(), vmax.data()}, step};
    functional::Step(std::span<const functional::Tensor>(&t, 1), opts);
  };
  opt.Step();
  reference_step(o, 1);
  opt.set_lr(0, 0.03);
  o.lr = 0.03;
  opt.Step();
  reference_step(o, 2);
  opt.SetOption(0, "betas", "0.5,0.75");
  o.betas = {0.5, 0.75};
  opt.param_group(0).options.eps = 1e-3;
  o.eps = 1e-3;
  opt.SetOption(0, "eps_mode", "tensorflow");
  o.eps_mode = EpsMode::kTensorFlow;
  opt.Step();
  reference_step(o, 3);
  EXPECT_TRUE(Bitwise(a.data, ref));
  auto sm = opt.state(0, 0).at("max_exp_avg_sq").as<float>();
  EXPECT_TRUE(Bitwise(std::vector<float>(sm.begin(), sm.end()), vmax));
}

// ---------------------------------------------------------------------------------------------------------
// Update formulas of adamant's own modes, against double-precision formulas. Each step's expectation is
// computed in double from the float state before the step, so only that step's float rounding separates the
// two: a few roundings of values of size |p| and |update|, hence the bound 8 * 2^-24 * (|p| + |update|).

constexpr double kFloatEps = 1.0 / (1 << 24);

struct AdamState {
  std::vector<float> p, g, m, v;
};

void ExpectNearFloat(double actual, double expected, double scale, const std::string& what) {
  EXPECT_LE(std::abs(actual - expected), 8 * kFloatEps * scale + 1e-30)
      << what << ": " << actual << " vs " << expected << " (scale " << scale << ")";
}

// Runs `steps` steps of Adam with options `o` on random data (new gradients every step) and calls
// check(t, before, after) with the float state before and after step t.
template <class Check>
void RunAdam(const AdamOptions& o, int steps, Check check) {
  const size_t n = 64;
  AdamState s{RandomVector<float>(n, 1), {}, {}, {}};
  Adam opt({MakeParam(s.p.data(), static_cast<float*>(nullptr), static_cast<int64_t>(n))}, o);
  for (int t = 1; t <= steps; ++t) {
    s.g = RandomVector<float>(n, 100 + t, 1.0 / t);
    s.g[0] = 0.0f;
    opt.params(0)[0].grad = s.g.data();
    AdamState before = s;
    if (t == 1) {
      before.m.assign(n, 0.0f);
      before.v.assign(n, 0.0f);
    }
    opt.Step();
    auto m = opt.state(0, 0).at("exp_avg").as<float>();
    auto v = opt.state(0, 0).at("exp_avg_sq").as<float>();
    s.m.assign(m.begin(), m.end());
    s.v.assign(v.begin(), v.end());
    check(t, before, s);
  }
}

// m and v from the float state before the step, in double; `scale_m/v` bound their float rounding.
struct Moments {
  double m, v, scale_m, scale_v;
};
Moments ExpectedMoments(const AdamOptions& o, double m, double v, double g) {
  const double b1 = o.betas[0], b2 = o.betas[1];
  return {b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g, std::abs(m) + std::abs(g), b2 * v + (1 - b2) * g * g};
}

TEST(AdamFormula, WithoutBiasCorrection) {
  AdamOptions o;
  o.lr = 0.01;
  o.bias_correction = false;
  int far_from_corrected = 0;
  RunAdam(o, 3, [&](int t, const AdamState& before, const AdamState& after) {
    for (size_t i = 0; i < before.p.size(); ++i) {
      const Moments e = ExpectedMoments(o, before.m[i], before.v[i], before.g[i]);
      ExpectNearFloat(after.m[i], e.m, e.scale_m, "m");
      ExpectNearFloat(after.v[i], e.v, e.scale_v, "v");
      // p -= lr * m / (sqrt(v) + eps)
      const double update = o.lr * e.m / (std::sqrt(e.v) + o.eps);
      ExpectNearFloat(after.p[i], before.p[i] - update, std::abs(before.p[i]) + std::abs(update),
                      "p at step " + std::to_string(t));
      // The bias-corrected update is another number altogether.
      const double bc1 = 1 - std::pow(o.betas[0], t), bc2 = 1 - std::pow(o.betas[1], t);
      const double corrected = o.lr / bc1 * e.m / (std::sqrt(e.v) / std::sqrt(bc2) + o.eps);
      far_from_corrected += std::abs(update - corrected) > 0.1 * std::abs(update);
    }
  });
  EXPECT_GT(far_from_corrected, 100);
}

TEST(AdamFormula, EpsilonHatWithTensorFlowEpsMode) {
  for (bool bias_correction : {true, false}) {
    AdamOptions o;
    o.lr = 0.01;
    o.eps = 1e-3;  // large enough for the placement to matter
    o.eps_mode = EpsMode::kTensorFlow;
    o.bias_correction = bias_correction;
    int far_from_pytorch = 0;
    RunAdam(o, 4, [&](int t, const AdamState& before, const AdamState& after) {
      const double bc1 = bias_correction ? 1 - std::pow(o.betas[0], t) : 1.0;
      const double bc2 = bias_correction ? 1 - std::pow(o.betas[1], t) : 1.0;
      for (size_t i = 0; i < before.p.size(); ++i) {
        const Moments e = ExpectedMoments(o, before.m[i], before.v[i], before.g[i]);
        // p -= lr * sqrt(bc2) / bc1 * m / (sqrt(v) + eps_hat)
        const double update = o.lr * std::sqrt(bc2) / bc1 * e.m / (std::sqrt(e.v) + o.eps);
        ExpectNearFloat(after.p[i], before.p[i] - update, std::abs(before.p[i]) + std::abs(update),
                        "p at step " + std::to_string(t));
        const double pytorch = o.lr / bc1 * e.m / (std::sqrt(e.v) / std::sqrt(bc2) + o.eps);
        far_from_pytorch += std::abs(update - pytorch) > 1e-3 * std::abs(update);
      }
    });
    if (bias_correction) {
      EXPECT_GT(far_from_pytorch, 100);
    }
  }
}

TEST(AdamFormula, PyTorchEpsModeForComparison) {
  AdamOptions o;
  o.lr = 0.01;
  o.eps = 1e-3;
  RunAdam(o, 4, [&](int t, const AdamState& before, const AdamState& after) {
    const double bc1 = 1 - std::pow(o.betas[0], t), bc2 = 1 - std::pow(o.betas[1], t);
    for (size_t i = 0; i < before.p.size(); ++i) {
      const Moments e = ExpectedMoments(o, before.m[i], before.v[i], before.g[i]);
      const double update = o.lr / bc1 * e.m / (std::sqrt(e.v) / std::sqrt(bc2) + o.eps);
      ExpectNearFloat(after.p[i], before.p[i] - update, std::abs(before.p[i]) + std::abs(update),
                      "p at step " + std::to_string(t));
    }
  });
}

TEST(AdamaxFormula, WithoutBiasCorrectionAndWithEpsilonOutside) {
  for (EpsMode mode : {EpsMode::kPyTorch, EpsMode::kTensorFlow}) {
    for (bool bias_correction : {true, false}) {
      AdamaxOptions o;
      o.lr = 0.01;
      o.eps = 1e-2;
      o.eps_mode = mode;
      o.bias_correction = bias_correction;
      const size_t n = 32;
      std::vector<float> p = RandomVector<float>(n, 3), g;
      Adamax opt({MakeParam(p.data(), static_cast<float*>(nullptr), static_cast<int64_t>(n))}, o);
      std::vector<float> m(n, 0.0f), u(n, 0.0f);
      for (int t = 1; t <= 3; ++t) {
        g = RandomVector<float>(n, 50 + t, 0.1);
        opt.params(0)[0].grad = g.data();
        const std::vector<float> p_before = p;
        opt.Step();
        const double bc1 = bias_correction ? 1 - std::pow(o.betas[0], t) : 1.0;
        for (size_t i = 0; i < n; ++i) {
          const double em = o.betas[0] * m[i] + (1 - o.betas[0]) * g[i];
          double eu, update;
          if (mode == EpsMode::kPyTorch) {
            eu = std::max(o.betas[1] * u[i], std::abs(g[i]) + o.eps);
            update = o.lr / bc1 * em / eu;
          } else {
            eu = std::max(o.betas[1] * u[i], static_cast<double>(std::abs(g[i])));
            update = o.lr / bc1 * em / (eu + o.eps);
          }
          ExpectNearFloat(p[i], p_before[i] - update, std::abs(p_before[i]) + std::abs(update), "adamax p");
        }
        auto sm = opt.state(0, 0).at("exp_avg").as<float>();
        auto su = opt.state(0, 0).at("exp_inf").as<float>();
        m.assign(sm.begin(), sm.end());
        u.assign(su.begin(), su.end());
      }
    }
  }
}

// RAdam: the un-rectified update p -= lr * m / bc1 while rho_t <= 5, the rectified adaptive one after.
TEST(RAdamFormula, RectifiedOnlyOnceRhoExceedsFive) {
  RAdamOptions o;
  o.lr = 0.01;
  const size_t n = 32;
  std::vector<float> p = RandomVector<float>(n, 4), g;
  RAdam opt({MakeParam(p.data(), static_cast<float*>(nullptr), static_cast<int64_t>(n))}, o);
  std::vector<float> m(n, 0.0f), v(n, 0.0f);
  int plain_steps = 0, rectified_steps = 0;
  for (int t = 1; t <= 10; ++t) {
    g = RandomVector<float>(n, 70 + t);
    opt.params(0)[0].grad = g.data();
    const std::vector<float> p_before = p;
    opt.Step();
    const double b1 = o.betas[0], b2 = o.betas[1];
    const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
    const double rho_inf = 2 / (1 - b2) - 1;
    const double rho_t = rho_inf - 2 * t * std::pow(b2, t) / bc2;
    const bool rectified = rho_t > 5;
    (rectified ? rectified_steps : plain_steps)++;
    for (size_t i = 0; i < n; ++i) {
      const double em = b1 * m[i] + (1 - b1) * g[i];
      const double ev = b2 * v[i] + (1 - b2) * static_cast<double>(g[i]) * g[i];
      const double plain = o.lr * em / bc1;
      double update = plain;
      if (rectified) {
        const double r = std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
        update = plain * r * std::sqrt(bc2) / (std::sqrt(ev) + o.eps);
        EXPECT_GT(std::abs(update - plain), 0.1 * std::abs(plain)) << "step " << t;
      }
      ExpectNearFloat(p[i], p_before[i] - update, std::abs(p_before[i]) + std::abs(update),
                      "radam p at step " + std::to_string(t) + (rectified ? " (rectified)" : " (plain)"));
    }
    auto sm = opt.state(0, 0).at("exp_avg").as<float>();
    auto sv = opt.state(0, 0).at("exp_avg_sq").as<float>();
    m.assign(sm.begin(), sm.end());
    v.assign(sv.begin(), sv.end());
  }
  EXPECT_EQ(plain_steps, 5);  // rho_t = 1, 2.0, 3.0, 4.0, 4.996 for beta2 = 0.999
  EXPECT_EQ(rectified_steps, 5);
}

// float64 parameters are updated in double: one Adam step agrees with the formula to double precision.
TEST(AdamFormula, Float64StepIsComputedInDouble) {
  std::vector<double> p = RandomVector<double>(16, 5), g = RandomVector<double>(16, 6);
  const std::vector<double> p0 = p;
  AdamOptions o;
  o.lr = 0.01;
  Adam opt({MakeParam(p.data(), g.data(), 16)}, o);
  opt.Step();
  const double bc1 = 1 - o.betas[0], bc2 = 1 - o.betas[1];
  for (size_t i = 0; i < 16; ++i) {
    const double m = (1 - o.betas[0]) * g[i], v = (1 - o.betas[1]) * g[i] * g[i];
    const double update = o.lr / bc1 * m / (std::sqrt(v) / std::sqrt(bc2) + o.eps);
    EXPECT_NEAR(p[i], p0[i] - update, 16 * std::numeric_limits<double>::epsilon() * (std::abs(p0[i]) + std::abs(update)));
  }
}

// ---------------------------------------------------------------------------------------------------------
// The functional layer: checks every tensor before touching any, with messages naming algorithm and index.

struct FunctionalFixture {
  std::vector<float> p0 = {1, 2, 3}, g0 = {0.1f, 0.2f, 0.3f}, a0 = {0, 0, 0}, b0 = {0, 0, 0}, c0 = {0, 0, 0};
  std::vector<float> p1 = {1, 2, 3}, g1 = {0.1f, 0.2f, 0.3f}, a1 = {0, 0, 0}, b1 = {0, 0, 0}, c1 = {0, 0, 0};
  double mu0 = 1.0, mu1 = 1.0;
  ParamView good() { return MakeParam(p0.data(), g0.data(), 3); }
  ParamView bad() { return MakeParam(p1.data(), g1.data(), 3); }
  bool untouched() const {
    return p0 == std::vector<float>{1, 2, 3} && a0 == std::vector<float>{0, 0, 0} &&
           b0 == std::vector<float>{0, 0, 0} && c0 == std::vector<float>{0, 0, 0} && mu0 == 1.0 && mu1 == 1.0;
  }
};

// Runs the algorithm of options `o` on [good tensor, bad tensor] where mutate(bad tensor) breaks it.
template <class Options>
std::string FunctionalError(const Options& o, std::function<functional::Tensor(FunctionalFixture&, int)> make,
                            std::function<void(functional::Tensor&)> mutate) {
  using Tensor = functional::Tensor;
  FunctionalFixture f;
  std::vector<Tensor> tensors = {make(f, 0), make(f, 1)};
  mutate(tensors[1]);
  const std::string msg = ErrorOf([&] { functional::Step(std::span<const Tensor>(tensors), o, Precision{}, StepArgs{}); });
  if (msg != "<no error>") {
    EXPECT_TRUE(f.untouched()) << "tensor 0 was updated before tensor 1 was found bad: " << msg;
  }
  return msg;
}

TEST(Functional, AdamErrors) {
  using T = functional::Tensor;
  AdamOptions o;
  o.amsgrad = true;
  auto make = [](FunctionalFixture& f, int i) {
    return i == 0 ? T{f.good(), {f.a0.data(), f.b0.data(), f.c0.data()}, 1}
                  : T{f.bad(), {f.a1.data(), f.b1.data(), f.c1.data()}, 1};
  };
  auto err = [&](std::function<void(T&)> mutate, const AdamOptions& opts) {
    return FunctionalError(opts, make, mutate);
  };
  EXPECT_EQ(err([](T&) {}, o), "<no error>");
  EXPECT_EQ(err([](T& t) { t.param.grad = nullptr; }, o), "adam: tensor 1: grad is null");
  EXPECT_EQ(err([](T& t) { t.param.data = nullptr; }, o), "adam: tensor 1: param data is null");
  EXPECT_EQ(err([](T& t) { t.state[0] = nullptr; }, o), "adam: tensor 1: exp_avg is null");
  EXPECT_EQ(err([](T& t) { t.state[1] = nullptr; }, o), "adam: tensor 1: exp_avg_sq is null");
  EXPECT_EQ(err([](T& t) { t.state[2] = nullptr; }, o), "adam: tensor 1: max_exp_avg_sq is null");
  EXPECT_EQ(err([](T& t) { t.param.numel = -1; }, o), "adam: tensor 1: negative element count -1");
  EXPECT_EQ(err([](T& t) { t.step = 0; }, o), "adam: tensor 1: step must be >= 1, got 0");
  EXPECT_EQ(err([](T& t) { t.step = -3; }, o), "adam: tensor 1: step must be >= 1, got -3");
  AdamOptions bad = o;
  bad.lr = -1;
  EXPECT_EQ(err([](T&) {}, bad), "Invalid learning rate: -1.0");
  // Without amsgrad, max_exp_avg_sq is not needed.
  AdamOptions plain;
  EXPECT_EQ(err([](T& t) { t.state[2] = nullptr; }, plain), "<no error>");
  // A zero-element tensor needs no pointers at all.
  EXPECT_EQ(err([](T& t) { t = T{{nullptr, nullptr, 0, DType::kFloat32}, {}, 1}; }, o),
            "<no error>");
}

TEST(Functional, AdamaxErrors) {
  using T = functional::Tensor;
  auto make = [](FunctionalFixture& f, int i) {
    return i == 0 ? T{f.good(), {f.a0.data(), f.b0.data()}, 1} : T{f.bad(), {f.a1.data(), f.b1.data()}, 1};
  };
  auto err = [&](std::function<void(T&)> mutate) {
    return FunctionalError(AdamaxOptions{}, make, mutate);
  };
  EXPECT_EQ(err([](T& t) { t.param.grad = nullptr; }), "adamax: tensor 1: grad is null");
  EXPECT_EQ(err([](T& t) { t.state[0] = nullptr; }), "adamax: tensor 1: exp_avg is null");
  EXPECT_EQ(err([](T& t) { t.state[1] = nullptr; }), "adamax: tensor 1: exp_inf is null");
  EXPECT_EQ(err([](T& t) { t.param.numel = -2; }), "adamax: tensor 1: negative element count -2");
  EXPECT_EQ(err([](T& t) { t.step = 0; }), "adamax: tensor 1: step must be >= 1, got 0");
}

TEST(Functional, NAdamErrors) {
  using T = functional::Tensor;
  auto make = [](FunctionalFixture& f, int i) {
    return i == 0 ? T{f.good(), {f.a0.data(), f.b0.data()}, 1, nullptr, &f.mu0} : T{f.bad(), {f.a1.data(), f.b1.data()}, 1, nullptr, &f.mu1};
  };
  auto err = [&](std::function<void(T&)> mutate) {
    return FunctionalError(NAdamOptions{}, make, mutate);
  };
  EXPECT_EQ(err([](T& t) { t.param.grad = nullptr; }), "nadam: tensor 1: grad is null");
  EXPECT_EQ(err([](T& t) { t.state[0] = nullptr; }), "nadam: tensor 1: exp_avg is null");
  EXPECT_EQ(err([](T& t) { t.state[1] = nullptr; }), "nadam: tensor 1: exp_avg_sq is null");
  EXPECT_EQ(err([](T& t) { t.scalar_state = nullptr; }), "nadam: tensor 1: mu_product is null");
  EXPECT_EQ(err([](T& t) { t.param.numel = -1; }), "nadam: tensor 1: negative element count -1");
  EXPECT_EQ(err([](T& t) { t.step = 0; }), "nadam: tensor 1: step must be >= 1, got 0");
}

TEST(Functional, RAdamErrors) {
  using T = functional::Tensor;
  auto make = [](FunctionalFixture& f, int i) {
    return i == 0 ? T{f.good(), {f.a0.data(), f.b0.data()}, 1} : T{f.bad(), {f.a1.data(), f.b1.data()}, 1};
  };
  auto err = [&](std::function<void(T&)> mutate) {
    return FunctionalError(RAdamOptions{}, make, mutate);
  };
  EXPECT_EQ(err([](T& t) { t.param.grad = nullptr; }), "radam: tensor 1: grad is null");
  EXPECT_EQ(err([](T& t) { t.state[0] = nullptr; }), "radam: tensor 1: exp_avg is null");
  EXPECT_EQ(err([](T& t) { t.state[1] = nullptr; }), "radam: tensor 1: exp_avg_sq is null");
  EXPECT_EQ(err([](T& t) { t.param.numel = -1; }), "radam: tensor 1: negative element count -1");
  EXPECT_EQ(err([](T& t) { t.step = 0; }), "radam: tensor 1: step must be >= 1, got 0");
}

TEST(Functional, AdagradErrors) {
  using T = functional::Tensor;
  auto make = [](FunctionalFixture& f, int i) {
    return i == 0 ? T{f.good(), {f.a0.data()}, 1} : T{f.bad(), {f.a1.data()}, 1};
  };
  auto err = [&](std::function<void(T&)> mutate) {
    return FunctionalError(AdagradOptions{}, make, mutate);
  };
  EXPECT_EQ(err([](T& t) { t.param.grad = nullptr; }), "adagrad: tensor 1: grad is null");
  EXPECT_EQ(err([](T& t) { t.state[0] = nullptr; }), "adagrad: tensor 1: sum is null");
  EXPECT_EQ(err([](T& t) { t.param.numel = -1; }), "adagrad: tensor 1: negative element count -1");
  EXPECT_EQ(err([](T& t) { t.step = 0; }), "adagrad: tensor 1: step must be >= 1, got 0");
}

TEST(Functional, RMSpropErrors) {
  using T = functional::Tensor;
  auto make = [](FunctionalFixture& f, int i) {
    return i == 0 ? T{f.good(), {f.a0.data(), f.b0.data(), f.c0.data()}, 1}
                  : T{f.bad(), {f.a1.data(), f.b1.data(), f.c1.data()}, 1};
  };
  auto err = [&](std::function<void(T&)> mutate, const RMSpropOptions& o) {
    return FunctionalError(o, make, mutate);
  };
  const RMSpropOptions full{.momentum = 0.9, .centered = true};
  EXPECT_EQ(err([](T& t) { t.param.grad = nullptr; }, full), "rmsprop: tensor 1: grad is null");
  EXPECT_EQ(err([](T& t) { t.state[0] = nullptr; }, full), "rmsprop: tensor 1: square_avg is null");
  EXPECT_EQ(err([](T& t) { t.state[1] = nullptr; }, full), "rmsprop: tensor 1: momentum_buffer is null");
  EXPECT_EQ(err([](T& t) { t.state[2] = nullptr; }, full), "rmsprop: tensor 1: grad_avg is null");
  EXPECT_EQ(err([](T& t) { t.param.numel = -1; }, full), "rmsprop: tensor 1: negative element count -1");
  EXPECT_EQ(err([](T& t) { t.step = 0; }, full), "rmsprop: tensor 1: step must be >= 1, got 0");
  // Buffers of modes that are off are not needed.
  EXPECT_EQ(err([](T& t) { t.state[1] = t.state[2] = nullptr; }, RMSpropOptions{}), "<no error>");
}

TEST(Functional, AdadeltaErrors) {
  using T = functional::Tensor;
  auto make = [](FunctionalFixture& f, int i) {
    return i == 0 ? T{f.good(), {f.a0.data(), f.b0.data()}, 1} : T{f.bad(), {f.a1.data(), f.b1.data()}, 1};
  };
  auto err = [&](std::function<void(T&)> mutate) {
    return FunctionalError(AdadeltaOptions{}, make, mutate);
  };
  EXPECT_EQ(err([](T& t) { t.param.grad = nullptr; }), "adadelta: tensor 1: grad is null");
  EXPECT_EQ(err([](T& t) { t.state[0] = nullptr; }), "adadelta: tensor 1: square_avg is null");
  EXPECT_EQ(err([](T& t) { t.state[1] = nullptr; }), "adadelta: tensor 1: acc_delta is null");
  EXPECT_EQ(err([](T& t) { t.param.numel = -1; }), "adadelta: tensor 1: negative element count -1");
  EXPECT_EQ(err([](T& t) { t.step = 0; }), "adadelta: tensor 1: step must be >= 1, got 0");
}

TEST(Functional, SGDErrors) {
  using T = functional::Tensor;
  auto make = [](FunctionalFixture& f, int i) {
    return i == 0 ? T{.param = f.good(), .state = {f.a0.data()}} : T{.param = f.bad(), .state = {f.a1.data()}};
  };
  auto err = [&](std::function<void(T&)> mutate, const SGDOptions& o) {
    return FunctionalError(o, make, mutate);
  };
  const SGDOptions momentum{.momentum = 0.9};
  EXPECT_EQ(err([](T& t) { t.param.grad = nullptr; }, momentum), "sgd: tensor 1: grad is null");
  EXPECT_EQ(err([](T& t) { t.state[0] = nullptr; }, momentum), "sgd: tensor 1: momentum_buffer is null");
  EXPECT_EQ(err([](T& t) { t.param.numel = -1; }, momentum), "sgd: tensor 1: negative element count -1");
  EXPECT_EQ(err([](T& t) { t.state[0] = nullptr; }, SGDOptions{}), "<no error>");
  EXPECT_EQ(err([](T&) {}, SGDOptions{.nesterov = true}), "Nesterov momentum requires a momentum and zero dampening");
}

}  // namespace
}  // namespace adamant
