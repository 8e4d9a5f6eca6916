// Options: PyTorch's defaults, PyTorch's validation (order, bounds, NaN) and PyTorch's messages.
//
// The messages are torch.optim's f-strings with the value printed by Python's repr(float), e.g.
// `Invalid learning rate: -1.0`. The order of the checks is torch's too: when several values are invalid,
// the first one torch checks is the one reported.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "adamant/options.h"

namespace adamant {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// The message Validate() throws, or "<valid>"; any other exception type fails the test.
template <class Options>
std::string ValidationMessage(const Options& o) {
  try {
    Validate(o);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "<valid>";
}

template <class Options>
struct Case {
  std::string what;
  std::function<void(Options&)> change;
  std::string message;  // "<valid>" when the changed options must be accepted
};

template <class Options>
void CheckCases(const Options& base, const std::vector<Case<Options>>& cases) {
  ASSERT_EQ(ValidationMessage(base), "<valid>");
  for (const auto& c : cases) {
    Options o = base;
    c.change(o);
    EXPECT_EQ(ValidationMessage(o), c.message) << c.what;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Defaults: torch.optim's current defaults.

TEST(OptionsDefaults, Adam) {
  const AdamOptions o;
  EXPECT_EQ(o.lr, 1e-3);
  EXPECT_EQ(o.betas[0], 0.9);
  EXPECT_EQ(o.betas[1], 0.999);
  EXPECT_EQ(o.eps, 1e-8);
  EXPECT_EQ(o.weight_decay, 0.0);
  EXPECT_FALSE(o.amsgrad);
  EXPECT_FALSE(o.maximize);
  EXPECT_FALSE(o.decoupled_weight_decay);
  EXPECT_TRUE(o.bias_correction);
  EXPECT_EQ(o.eps_mode, EpsMode::kPyTorch);
}

TEST(OptionsDefaults, AdamWIsDecoupledWithWeightDecayOneHundredth) {
  const AdamWOptions o;
  EXPECT_EQ(o.weight_decay, 1e-2);
  EXPECT_TRUE(o.decoupled_weight_decay);
  // Everything else as Adam.
  EXPECT_EQ(o.lr, 1e-3);
  EXPECT_EQ(o.betas[0], 0.9);
  EXPECT_EQ(o.betas[1], 0.999);
  EXPECT_EQ(o.eps, 1e-8);
  EXPECT_FALSE(o.amsgrad);
  EXPECT_FALSE(o.maximize);
  EXPECT_TRUE(o.bias_correction);
  EXPECT_EQ(o.eps_mode, EpsMode::kPyTorch);
  // An AdamWOptions is usable where AdamOptions are expected, and stays AdamW's.
  const AdamOptions& as_adam = o;
  EXPECT_TRUE(as_adam.decoupled_weight_decay);
  EXPECT_EQ(as_adam.weight_decay, 1e-2);
}

TEST(OptionsDefaults, Adamax) {
  const AdamaxOptions o;
  EXPECT_EQ(o.lr, 2e-3);
  EXPECT_EQ(o.betas[0], 0.9);
  EXPECT_EQ(o.betas[1], 0.999);
  EXPECT_EQ(o.eps, 1e-8);
  EXPECT_EQ(o.weight_decay, 0.0);
  EXPECT_FALSE(o.maximize);
  EXPECT_TRUE(o.bias_correction);
  EXPECT_EQ(o.eps_mode, EpsMode::kPyTorch);
}

TEST(OptionsDefaults, NAdam) {
  const NAdamOptions o;
  EXPECT_EQ(o.lr, 2e-3);
  EXPECT_EQ(o.betas[0], 0.9);
  EXPECT_EQ(o.betas[1], 0.999);
  EXPECT_EQ(o.eps, 1e-8);
  EXPECT_EQ(o.weight_decay, 0.0);
  EXPECT_EQ(o.momentum_decay, 4e-3);
  EXPECT_FALSE(o.decoupled_weight_decay);
  EXPECT_FALSE(o.maximize);
  EXPECT_TRUE(o.bias_correction);
  EXPECT_EQ(o.eps_mode, EpsMode::kPyTorch);
}

TEST(OptionsDefaults, RAdam) {
  const RAdamOptions o;
  EXPECT_EQ(o.lr, 1e-3);
  EXPECT_EQ(o.betas[0], 0.9);
  EXPECT_EQ(o.betas[1], 0.999);
  EXPECT_EQ(o.eps, 1e-8);
  EXPECT_EQ(o.weight_decay, 0.0);
  EXPECT_FALSE(o.decoupled_weight_decay);
  EXPECT_FALSE(o.maximize);
  EXPECT_TRUE(o.bias_correction);
}

TEST(OptionsDefaults, Adagrad) {
  const AdagradOptions o;
  EXPECT_EQ(o.lr, 1e-2);
  EXPECT_EQ(o.lr_decay, 0.0);
  EXPECT_EQ(o.weight_decay, 0.0);
  EXPECT_EQ(o.initial_accumulator_value, 0.0);
  EXPECT_EQ(o.eps, 1e-10);
  EXPECT_FALSE(o.maximize);
}

TEST(OptionsDefaults, RMSprop) {
  const RMSpropOptions o;
  EXPECT_EQ(o.lr, 1e-2);
  EXPECT_EQ(o.alpha, 0.99);
  EXPECT_EQ(o.eps, 1e-8);
  EXPECT_EQ(o.weight_decay, 0.0);
  EXPECT_EQ(o.momentum, 0.0);
  EXPECT_FALSE(o.centered);
  EXPECT_FALSE(o.maximize);
}

TEST(OptionsDefaults, Adadelta) {
  const AdadeltaOptions o;
  EXPECT_EQ(o.lr, 1.0);
  EXPECT_EQ(o.rho, 0.9);
  EXPECT_EQ(o.eps, 1e-6);
  EXPECT_EQ(o.weight_decay, 0.0);
  EXPECT_FALSE(o.maximize);
}

TEST(OptionsDefaults, SGD) {
  const SGDOptions o;
  EXPECT_EQ(o.lr, 1e-3);  // current PyTorch (1.13 required lr)
  EXPECT_EQ(o.momentum, 0.0);
  EXPECT_EQ(o.dampening, 0.0);
  EXPECT_EQ(o.weight_decay, 0.0);
  EXPECT_FALSE(o.nesterov);
  EXPECT_FALSE(o.maximize);
}

TEST(OptionsDefaults, Lion) {  // lucidrains' lion-pytorch (torch has no Lion)
  const LionOptions o;
  EXPECT_EQ(o.lr, 1e-4);
  EXPECT_EQ(o.betas[0], 0.9);
  EXPECT_EQ(o.betas[1], 0.99);
  EXPECT_EQ(o.weight_decay, 0.0);
  EXPECT_FALSE(o.maximize);
}

TEST(OptionsDefaults, EveryDefaultIsValid) {
  EXPECT_EQ(ValidationMessage(AdamOptions{}), "<valid>");
  EXPECT_EQ(ValidationMessage(AdamWOptions{}), "<valid>");
  EXPECT_EQ(ValidationMessage(AdamaxOptions{}), "<valid>");
  EXPECT_EQ(ValidationMessage(NAdamOptions{}), "<valid>");
  EXPECT_EQ(ValidationMessage(RAdamOptions{}), "<valid>");
  EXPECT_EQ(ValidationMessage(AdagradOptions{}), "<valid>");
  EXPECT_EQ(ValidationMessage(RMSpropOptions{}), "<valid>");
  EXPECT_EQ(ValidationMessage(AdadeltaOptions{}), "<valid>");
  EXPECT_EQ(ValidationMessage(SGDOptions{}), "<valid>");
  EXPECT_EQ(ValidationMessage(LionOptions{}), "<valid>");
}

// ---------------------------------------------------------------------------------------------------------
// The Adam family shares lr, eps, betas and weight_decay checks (torch: adam.py, adamw.py, adamax.py,
// nadam.py, radam.py all check `not 0.0 <= lr`, `not 0.0 <= eps`, `not 0.0 <= betas[i] < 1.0`,
// `not 0.0 <= weight_decay`, in that order).

template <class Options>
std::vector<Case<Options>> AdamFamilyCases() {
  return {
      {"lr -1", [](Options& o) { o.lr = -1.0; }, "Invalid learning rate: -1.0"},
      {"lr -1e-08", [](Options& o) { o.lr = -1e-8; }, "Invalid learning rate: -1e-08"},
      {"lr -inf", [](Options& o) { o.lr = -kInf; }, "Invalid learning rate: -inf"},
      {"lr nan", [](Options& o) { o.lr = kNaN; }, "Invalid learning rate: nan"},
      {"lr -0.0 (0.0 <= -0.0)", [](Options& o) { o.lr = -0.0; }, "<valid>"},
      {"lr 0", [](Options& o) { o.lr = 0.0; }, "<valid>"},
      {"lr inf", [](Options& o) { o.lr = kInf; }, "<valid>"},
      {"eps -1e-08", [](Options& o) { o.eps = -1e-8; }, "Invalid epsilon value: -1e-08"},
      {"eps nan", [](Options& o) { o.eps = kNaN; }, "Invalid epsilon value: nan"},
      {"eps 0", [](Options& o) { o.eps = 0.0; }, "<valid>"},
      {"beta0 1", [](Options& o) { o.betas[0] = 1.0; }, "Invalid beta parameter at index 0: 1.0"},
      {"beta0 -0.1", [](Options& o) { o.betas[0] = -0.1; }, "Invalid beta parameter at index 0: -0.1"},
      {"beta0 1.5", [](Options& o) { o.betas[0] = 1.5; }, "Invalid beta parameter at index 0: 1.5"},
      {"beta0 nan", [](Options& o) { o.betas[0] = kNaN; }, "Invalid beta parameter at index 0: nan"},
      {"beta1 -0.1", [](Options& o) { o.betas[1] = -0.1; }, "Invalid beta parameter at index 1: -0.1"},
      {"beta1 1", [](Options& o) { o.betas[1] = 1.0; }, "Invalid beta parameter at index 1: 1.0"},
      {"beta1 nan", [](Options& o) { o.betas[1] = kNaN; }, "Invalid beta parameter at index 1: nan"},
      {"betas 0,0", [](Options& o) { o.betas = {0.0, 0.0}; }, "<valid>"},
      {"betas just below 1",
       [](Options& o) { o.betas = {std::nextafter(1.0, 0.0), std::nextafter(1.0, 0.0)}; }, "<valid>"},
      {"weight_decay -0.5", [](Options& o) { o.weight_decay = -0.5; }, "Invalid weight_decay value: -0.5"},
      {"weight_decay nan", [](Options& o) { o.weight_decay = kNaN; }, "Invalid weight_decay value: nan"},
      {"weight_decay 0", [](Options& o) { o.weight_decay = 0.0; }, "<valid>"},
      {"weight_decay 1e3", [](Options& o) { o.weight_decay = 1e3; }, "<valid>"},
      // torch's order: lr, eps, betas[0], betas[1], weight_decay.
      {"order: lr first",
       [](Options& o) { o.lr = -1.0, o.eps = -1.0, o.betas = {2.0, 2.0}, o.weight_decay = -1.0; },
       "Invalid learning rate: -1.0"},
      {"order: eps before betas",
       [](Options& o) { o.eps = -2.0, o.betas = {2.0, 2.0}, o.weight_decay = -1.0; },
       "Invalid epsilon value: -2.0"},
      {"order: beta0 before beta1", [](Options& o) { o.betas = {2.0, 3.0}, o.weight_decay = -1.0; },
       "Invalid beta parameter at index 0: 2.0"},
      {"order: beta1 before weight_decay", [](Options& o) { o.betas[1] = 3.0, o.weight_decay = -1.0; },
       "Invalid beta parameter at index 1: 3.0"},
  };
}

TEST(OptionsValidate, Adam) { CheckCases(AdamOptions{}, AdamFamilyCases<AdamOptions>()); }
TEST(OptionsValidate, AdamW) { CheckCases<AdamOptions>(AdamWOptions{}, AdamFamilyCases<AdamOptions>()); }
TEST(OptionsValidate, Adamax) { CheckCases(AdamaxOptions{}, AdamFamilyCases<AdamaxOptions>()); }
TEST(OptionsValidate, RAdam) { CheckCases(RAdamOptions{}, AdamFamilyCases<RAdamOptions>()); }

TEST(OptionsValidate, NAdam) {
  CheckCases(NAdamOptions{}, AdamFamilyCases<NAdamOptions>());
  CheckCases(NAdamOptions{},
             std::vector<Case<NAdamOptions>>{
                 {"momentum_decay -0.004", [](NAdamOptions& o) { o.momentum_decay = -0.004; },
                  "Invalid momentum_decay value: -0.004"},
                 {"momentum_decay nan", [](NAdamOptions& o) { o.momentum_decay = kNaN; },
                  "Invalid momentum_decay value: nan"},
                 {"momentum_decay 0", [](NAdamOptions& o) { o.momentum_decay = 0.0; }, "<valid>"},
                 {"order: weight_decay before momentum_decay",
                  [](NAdamOptions& o) { o.weight_decay = -1.0, o.momentum_decay = -1.0; },
                  "Invalid weight_decay value: -1.0"},
             });
}

// The mode switches are never invalid on their own.
TEST(OptionsValidate, AdamModesAreAlwaysValid) {
  for (int bits = 0; bits < 32; ++bits) {
    AdamOptions o;
    o.amsgrad = bits & 1;
    o.maximize = bits & 2;
    o.decoupled_weight_decay = bits & 4;
    o.bias_correction = bits & 8;
    o.eps_mode = (bits & 16) ? EpsMode::kTensorFlow : EpsMode::kPyTorch;
    o.weight_decay = 0.1;
    EXPECT_EQ(ValidationMessage(o), "<valid>") << bits;
  }
}

// torch.optim.Adagrad: lr, lr_decay, weight_decay, initial_accumulator_value, eps.
TEST(OptionsValidate, Adagrad) {
  using O = AdagradOptions;
  CheckCases(O{}, std::vector<Case<O>>{
                      {"lr -1", [](O& o) { o.lr = -1.0; }, "Invalid learning rate: -1.0"},
                      {"lr nan", [](O& o) { o.lr = kNaN; }, "Invalid learning rate: nan"},
                      {"lr 0", [](O& o) { o.lr = 0.0; }, "<valid>"},
                      {"lr_decay -0.1", [](O& o) { o.lr_decay = -0.1; }, "Invalid lr_decay value: -0.1"},
                      {"lr_decay nan", [](O& o) { o.lr_decay = kNaN; }, "Invalid lr_decay value: nan"},
                      {"lr_decay 0.5", [](O& o) { o.lr_decay = 0.5; }, "<valid>"},
                      {"weight_decay -0.5", [](O& o) { o.weight_decay = -0.5; }, "Invalid weight_decay value: -0.5"},
                      {"weight_decay nan", [](O& o) { o.weight_decay = kNaN; }, "Invalid weight_decay value: nan"},
                      {"initial_accumulator_value -1", [](O& o) { o.initial_accumulator_value = -1.0; },
                       "Invalid initial_accumulator_value value: -1.0"},
                      {"initial_accumulator_value nan", [](O& o) { o.initial_accumulator_value = kNaN; },
                       "Invalid initial_accumulator_value value: nan"},
                      {"initial_accumulator_value 0.1", [](O& o) { o.initial_accumulator_value = 0.1; }, "<valid>"},
                      {"eps -1e-10", [](O& o) { o.eps = -1e-10; }, "Invalid epsilon value: -1e-10"},
                      {"eps nan", [](O& o) { o.eps = kNaN; }, "Invalid epsilon value: nan"},
                      {"eps 0", [](O& o) { o.eps = 0.0; }, "<valid>"},
                      {"order: lr first",
                       [](O& o) {
                         o.lr = -1, o.lr_decay = -1, o.weight_decay = -1, o.initial_accumulator_value = -1, o.eps = -1;
                       },
                       "Invalid learning rate: -1.0"},
                      {"order: lr_decay second",
                       [](O& o) { o.lr_decay = -2, o.weight_decay = -1, o.initial_accumulator_value = -1, o.eps = -1; },
                       "Invalid lr_decay value: -2.0"},
                      {"order: weight_decay third",
                       [](O& o) { o.weight_decay = -3, o.initial_accumulator_value = -1, o.eps = -1; },
                       "Invalid weight_decay value: -3.0"},
                      {"order: initial_accumulator_value before eps",
                       [](O& o) { o.initial_accumulator_value = -4, o.eps = -1; },
                       "Invalid initial_accumulator_value value: -4.0"},
                  });
}

// torch.optim.RMSprop: lr, eps, momentum, weight_decay, alpha (alpha is only required to be >= 0).
TEST(OptionsValidate, RMSprop) {
  using O = RMSpropOptions;
  CheckCases(O{}, std::vector<Case<O>>{
                      {"lr -1", [](O& o) { o.lr = -1.0; }, "Invalid learning rate: -1.0"},
                      {"lr nan", [](O& o) { o.lr = kNaN; }, "Invalid learning rate: nan"},
                      {"eps -1e-08", [](O& o) { o.eps = -1e-8; }, "Invalid epsilon value: -1e-08"},
                      {"eps nan", [](O& o) { o.eps = kNaN; }, "Invalid epsilon value: nan"},
                      {"momentum -0.9", [](O& o) { o.momentum = -0.9; }, "Invalid momentum value: -0.9"},
                      {"momentum nan", [](O& o) { o.momentum = kNaN; }, "Invalid momentum value: nan"},
                      {"momentum 0.9", [](O& o) { o.momentum = 0.9; }, "<valid>"},
                      {"weight_decay -0.5", [](O& o) { o.weight_decay = -0.5; }, "Invalid weight_decay value: -0.5"},
                      {"weight_decay nan", [](O& o) { o.weight_decay = kNaN; }, "Invalid weight_decay value: nan"},
                      {"alpha -0.99", [](O& o) { o.alpha = -0.99; }, "Invalid alpha value: -0.99"},
                      {"alpha nan", [](O& o) { o.alpha = kNaN; }, "Invalid alpha value: nan"},
                      {"alpha 0", [](O& o) { o.alpha = 0.0; }, "<valid>"},
                      {"alpha 1", [](O& o) { o.alpha = 1.0; }, "<valid>"},
                      {"alpha 1.5 (torch has no upper bound)", [](O& o) { o.alpha = 1.5; }, "<valid>"},
                      {"centered with momentum", [](O& o) { o.centered = true, o.momentum = 0.5; }, "<valid>"},
                      {"order: lr first",
                       [](O& o) { o.lr = -1, o.eps = -1, o.momentum = -1, o.weight_decay = -1, o.alpha = -1; },
                       "Invalid learning rate: -1.0"},
                      {"order: eps second", [](O& o) { o.eps = -2, o.momentum = -1, o.weight_decay = -1, o.alpha = -1; },
                       "Invalid epsilon value: -2.0"},
                      {"order: momentum third", [](O& o) { o.momentum = -3, o.weight_decay = -1, o.alpha = -1; },
                       "Invalid momentum value: -3.0"},
                      {"order: weight_decay before alpha", [](O& o) { o.weight_decay = -4, o.alpha = -1; },
                       "Invalid weight_decay value: -4.0"},
                  });
}

// Lion: torch.optim's wording for its lr, betas (0 <= beta < 1) and weight_decay, in that order.
TEST(OptionsValidate, Lion) {
  using O = LionOptions;
  CheckCases(O{}, std::vector<Case<O>>{
                      {"lr -1", [](O& o) { o.lr = -1.0; }, "Invalid learning rate: -1.0"},
                      {"lr nan", [](O& o) { o.lr = kNaN; }, "Invalid learning rate: nan"},
                      {"lr 0", [](O& o) { o.lr = 0.0; }, "<valid>"},
                      {"beta1 1", [](O& o) { o.betas[0] = 1.0; }, "Invalid beta parameter at index 0: 1.0"},
                      {"beta1 -0.5", [](O& o) { o.betas[0] = -0.5; }, "Invalid beta parameter at index 0: -0.5"},
                      {"beta2 1", [](O& o) { o.betas[1] = 1.0; }, "Invalid beta parameter at index 1: 1.0"},
                      {"beta2 nan", [](O& o) { o.betas[1] = kNaN; }, "Invalid beta parameter at index 1: nan"},
                      {"betas 0", [](O& o) { o.betas = {0.0, 0.0}; }, "<valid>"},
                      {"weight_decay -0.5", [](O& o) { o.weight_decay = -0.5; }, "Invalid weight_decay value: -0.5"},
                      {"weight_decay nan", [](O& o) { o.weight_decay = kNaN; }, "Invalid weight_decay value: nan"},
                      {"order: lr first", [](O& o) { o.lr = -1, o.betas[0] = 2, o.weight_decay = -1; },
                       "Invalid learning rate: -1.0"},
                      {"order: betas before weight_decay", [](O& o) { o.betas[1] = 2, o.weight_decay = -1; },
                       "Invalid beta parameter at index 1: 2.0"},
                  });
}

// torch.optim.Adadelta: lr, rho (0 <= rho <= 1), eps, weight_decay.
TEST(OptionsValidate, Adadelta) {
  using O = AdadeltaOptions;
  CheckCases(O{}, std::vector<Case<O>>{
                      {"lr -1", [](O& o) { o.lr = -1.0; }, "Invalid learning rate: -1.0"},
                      {"lr nan", [](O& o) { o.lr = kNaN; }, "Invalid learning rate: nan"},
                      {"rho 1.1", [](O& o) { o.rho = 1.1; }, "Invalid rho value: 1.1"},
                      {"rho just above 1", [](O& o) { o.rho = std::nextafter(1.0, 2.0); },
                       "Invalid rho value: 1.0000000000000002"},
                      {"rho -0.1", [](O& o) { o.rho = -0.1; }, "Invalid rho value: -0.1"},
                      {"rho nan", [](O& o) { o.rho = kNaN; }, "Invalid rho value: nan"},
                      {"rho 1", [](O& o) { o.rho = 1.0; }, "<valid>"},
                      {"rho 0", [](O& o) { o.rho = 0.0; }, "<valid>"},
                      {"eps -1e-06", [](O& o) { o.eps = -1e-6; }, "Invalid epsilon value: -1e-06"},
                      {"eps nan", [](O& o) { o.eps = kNaN; }, "Invalid epsilon value: nan"},
                      {"weight_decay -0.5", [](O& o) { o.weight_decay = -0.5; }, "Invalid weight_decay value: -0.5"},
                      {"weight_decay nan", [](O& o) { o.weight_decay = kNaN; }, "Invalid weight_decay value: nan"},
                      {"order: lr first", [](O& o) { o.lr = -1, o.rho = 2, o.eps = -1, o.weight_decay = -1; },
                       "Invalid learning rate: -1.0"},
                      {"order: rho second", [](O& o) { o.rho = 2, o.eps = -1, o.weight_decay = -1; },
                       "Invalid rho value: 2.0"},
                      {"order: eps before weight_decay", [](O& o) { o.eps = -3, o.weight_decay = -1; },
                       "Invalid epsilon value: -3.0"},
                  });
}

// torch.optim.SGD: lr, momentum, weight_decay, then the Nesterov condition
// `nesterov and (momentum <= 0 or dampening != 0)`. Dampening itself is not checked.
TEST(OptionsValidate, SGD) {
  using O = SGDOptions;
  CheckCases(O{}, std::vector<Case<O>>{
                      {"lr -1", [](O& o) { o.lr = -1.0; }, "Invalid learning rate: -1.0"},
                      {"lr 0", [](O& o) { o.lr = 0.0; }, "<valid>"},
                      {"momentum -0.9", [](O& o) { o.momentum = -0.9; }, "Invalid momentum value: -0.9"},
                      {"momentum 0.9", [](O& o) { o.momentum = 0.9; }, "<valid>"},
                      {"weight_decay -0.5", [](O& o) { o.weight_decay = -0.5; }, "Invalid weight_decay value: -0.5"},
                      {"dampening -1 (unchecked)", [](O& o) { o.dampening = -1.0; }, "<valid>"},
                      {"dampening 2 (unchecked)", [](O& o) { o.dampening = 2.0; }, "<valid>"},
                      {"nesterov without momentum", [](O& o) { o.nesterov = true; },
                       "Nesterov momentum requires a momentum and zero dampening"},
                      {"nesterov with dampening",
                       [](O& o) { o.nesterov = true, o.momentum = 0.9, o.dampening = 0.1; },
                       "Nesterov momentum requires a momentum and zero dampening"},
                      {"nesterov with momentum and zero dampening",
                       [](O& o) { o.nesterov = true, o.momentum = 0.9; }, "<valid>"},
                      {"dampening without nesterov", [](O& o) { o.momentum = 0.9, o.dampening = 0.5; }, "<valid>"},
                      {"order: lr first", [](O& o) { o.lr = -1, o.momentum = -1, o.weight_decay = -1, o.nesterov = true; },
                       "Invalid learning rate: -1.0"},
                      {"order: momentum second", [](O& o) { o.momentum = -2, o.weight_decay = -1, o.nesterov = true; },
                       "Invalid momentum value: -2.0"},
                      {"order: weight_decay before nesterov",
                       [](O& o) { o.weight_decay = -3, o.nesterov = true; }, "Invalid weight_decay value: -3.0"},
                  });
}

// torch.optim.SGD checks `lr < 0.0`, `momentum < 0.0`, `weight_decay < 0.0` (not `not 0.0 <= x` as the other
// optimizers do), so it lets NaN through; `nesterov and (momentum <= 0 or dampening != 0)` is false for a
// NaN momentum too.
TEST(OptionsValidate, SGDAcceptsNaNAsPyTorchDoes) {
  using O = SGDOptions;
  CheckCases(O{}, std::vector<Case<O>>{
                      {"lr nan", [](O& o) { o.lr = kNaN; }, "<valid>"},
                      {"momentum nan", [](O& o) { o.momentum = kNaN; }, "<valid>"},
                      {"weight_decay nan", [](O& o) { o.weight_decay = kNaN; }, "<valid>"},
                      {"nesterov, momentum nan", [](O& o) { o.nesterov = true, o.momentum = kNaN; }, "<valid>"},
                  });
}

TEST(OptionsValidate, ThrowsInvalidArgument) {
  AdamOptions o;
  o.lr = -1;
  EXPECT_THROW(Validate(o), std::invalid_argument);
  SGDOptions s;
  s.nesterov = true;
  EXPECT_THROW(Validate(s), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------------------
// Names: PyTorch's, in the order of the structs, for every algorithm.

template <class Options>
std::vector<std::string> OptionNames() {
  Options o;
  std::vector<std::string> names;
  VisitOptions(o, [&](std::string_view name, auto&) { names.emplace_back(name); });
  return names;
}

// PyTorch's names, then state_dtype, which every algorithm's options end with.
TEST(OptionsVisit, NamesArePyTorchs) {
  using V = std::vector<std::string>;
  EXPECT_EQ(OptionNames<AdamOptions>(), (V{"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                                           "decoupled_weight_decay", "bias_correction", "eps_mode", "state_dtype", "min_quant_size"}));
  EXPECT_EQ(OptionNames<AdamaxOptions>(),
            (V{"lr", "betas", "eps", "weight_decay", "maximize", "bias_correction", "eps_mode", "state_dtype", "min_quant_size"}));
  EXPECT_EQ(OptionNames<NAdamOptions>(), (V{"lr", "betas", "eps", "weight_decay", "momentum_decay",
                                            "decoupled_weight_decay", "maximize", "bias_correction", "eps_mode", "state_dtype", "min_quant_size"}));
  EXPECT_EQ(OptionNames<RAdamOptions>(),
            (V{"lr", "betas", "eps", "weight_decay", "decoupled_weight_decay", "maximize", "bias_correction", "state_dtype", "min_quant_size"}));
  EXPECT_EQ(OptionNames<AdagradOptions>(),
            (V{"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize", "state_dtype", "min_quant_size"}));
  EXPECT_EQ(OptionNames<RMSpropOptions>(),
            (V{"lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize", "state_dtype", "min_quant_size"}));
  EXPECT_EQ(OptionNames<AdadeltaOptions>(), (V{"lr", "rho", "eps", "weight_decay", "maximize", "state_dtype", "min_quant_size"}));
  EXPECT_EQ(OptionNames<SGDOptions>(), (V{"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "state_dtype", "min_quant_size"}));
  EXPECT_EQ(OptionNames<LionOptions>(), (V{"lr", "betas", "weight_decay", "maximize", "state_dtype", "min_quant_size"}));
}

// The visitor hands out references to the fields themselves: writing through it changes the options.
TEST(OptionsVisit, FieldsAreWritable) {
  AdamOptions o;
  VisitOptions(o, [](std::string_view name, auto& field) {
    using F = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<F, double>) {
      if (name == "lr") field = 0.25;
    } else if constexpr (std::is_same_v<F, bool>) {
      if (name == "amsgrad") field = true;
    } else if constexpr (std::is_same_v<F, Betas>) {
      field = Betas{0.5, 0.75};
    } else if constexpr (std::is_same_v<F, EpsMode>) {
      field = EpsMode::kTensorFlow;
    }
  });
  EXPECT_EQ(o.lr, 0.25);
  EXPECT_TRUE(o.amsgrad);
  EXPECT_EQ(o.betas, (Betas{0.5, 0.75}));
  EXPECT_EQ(o.eps_mode, EpsMode::kTensorFlow);
  EXPECT_EQ(o.eps, 1e-8);  // untouched
}

TEST(OptionsVisit, EpsModeNames) {
  EXPECT_EQ(EpsModeName(EpsMode::kPyTorch), "pytorch");
  EXPECT_EQ(EpsModeName(EpsMode::kTensorFlow), "tensorflow");
}

}  // namespace
}  // namespace adamant
