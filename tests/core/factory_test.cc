// CreateOptimizer and ParseOptionList: names, defaults, options as key=value text, and every error.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "adamant/factory.h"
#include "adamant/option_text.h"
#include "adamant/optimizer.h"
#include "adamant/options.h"
#include "support/error_of.h"

namespace adamant {
namespace {

// gtest only (no gmock): `EXPECT_PRED2(Contains, text, part)` prints both on failure.
bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const std::vector<std::string> kNames = {"adam",    "adamw",   "adamax",   "nadam", "radam",
                                          "adagrad", "rmsprop", "adadelta", "sgd",   "lion"};

std::string CreateError(std::string_view name, const OptionList& options, std::vector<ParamView> params = {}) {
  try {
    CreateOptimizer(name, std::move(params), options);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "<no error>";
}

template <class F>
std::string ErrorOf(F&& f) {
  return test_support::ErrorOf<std::exception>(f);
}

// Calls f(Options{}) with the default options struct of the named algorithm.
template <class F>
void WithDefaults(std::string_view name, F&& f) {
  if (name == "adam") return f(AdamOptions{});
  if (name == "adamw") return f(AdamWOptions{});
  if (name == "adamax") return f(AdamaxOptions{});
  if (name == "nadam") return f(NAdamOptions{});
  if (name == "radam") return f(RAdamOptions{});
  if (name == "adagrad") return f(AdagradOptions{});
  if (name == "rmsprop") return f(RMSpropOptions{});
  if (name == "adadelta") return f(AdadeltaOptions{});
  if (name == "sgd") return f(SGDOptions{});
  if (name == "lion") return f(LionOptions{});
  FAIL() << "no options struct for " << name;
}

TEST(Factory, AlgorithmNames) {
  const auto names = AlgorithmNames();
  ASSERT_EQ(names.size(), kNames.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(names[i], kNames[i]);
}

TEST(Factory, EachNameGivesThatOptimizerWithItsDefaults) {
  for (const std::string& name : kNames) {
    SCOPED_TRACE(name);
    std::vector<float> w(3, 1.0f), g(3, 0.5f);
    auto opt = CreateOptimizer(name, {MakeParam(w.data(), g.data(), 3)});
    ASSERT_NE(opt, nullptr);
    EXPECT_EQ(opt->name(), name);
    ASSERT_EQ(opt->num_param_groups(), 1u);
    ASSERT_EQ(opt->params(0).size(), 1u);
    EXPECT_EQ(opt->params(0)[0].data, w.data());
    WithDefaults(name, [&](auto defaults) {
      std::vector<std::string> names;
      VisitOptions(defaults, [&](std::string_view key, auto& field) {
        // AdamW always decouples and does not offer the option (PyTorch's AdamW has no such argument).
        if (name == "adamw" && key == "decoupled_weight_decay") return;
        names.emplace_back(key);
        EXPECT_EQ(opt->GetOption(0, key), OptionToString(field)) << key;
      });
      EXPECT_EQ(opt->option_names(), names);
      EXPECT_EQ(opt->lr(0), defaults.lr);
    });
  }
}

TEST(Factory, ConcreteTypes) {
  std::vector<float> w(1), g(1);
  const std::vector<ParamView> p = {MakeParam(w.data(), g.data(), 1)};
  EXPECT_NE(dynamic_cast<Adam*>(CreateOptimizer("adam", p).get()), nullptr);
  EXPECT_NE(dynamic_cast<AdamW*>(CreateOptimizer("adamw", p).get()), nullptr);
  EXPECT_NE(dynamic_cast<Adamax*>(CreateOptimizer("adamax", p).get()), nullptr);
  EXPECT_NE(dynamic_cast<NAdam*>(CreateOptimizer("nadam", p).get()), nullptr);
  EXPECT_NE(dynamic_cast<RAdam*>(CreateOptimizer("radam", p).get()), nullptr);
  EXPECT_NE(dynamic_cast<Adagrad*>(CreateOptimizer("adagrad", p).get()), nullptr);
  EXPECT_NE(dynamic_cast<RMSprop*>(CreateOptimizer("rmsprop", p).get()), nullptr);
  EXPECT_NE(dynamic_cast<Adadelta*>(CreateOptimizer("adadelta", p).get()), nullptr);
  EXPECT_NE(dynamic_cast<SGD*>(CreateOptimizer("sgd", p).get()), nullptr);
}

TEST(Factory, AppliesOptions) {
  std::vector<float> w(2), g(2);
  auto opt = CreateOptimizer("adam", {MakeParam(w.data(), g.data(), 2)},
                             ParseOptionList("lr=0.25 betas=0.8,0.95 eps=1e-6 weight_decay=0.5 amsgrad=true "
                                             "maximize=yes decoupled_weight_decay=on bias_correction=0 "
                                             "eps_mode=tensorflow"));
  auto* adam = dynamic_cast<Adam*>(opt.get());
  ASSERT_NE(adam, nullptr);
  const AdamOptions& o = adam->param_group(0).options;
  EXPECT_EQ(o.lr, 0.25);
  EXPECT_EQ(o.betas, (Betas{0.8, 0.95}));
  EXPECT_EQ(o.eps, 1e-6);
  EXPECT_EQ(o.weight_decay, 0.5);
  EXPECT_TRUE(o.amsgrad);
  EXPECT_TRUE(o.maximize);
  EXPECT_TRUE(o.decoupled_weight_decay);
  EXPECT_FALSE(o.bias_correction);
  EXPECT_EQ(o.eps_mode, EpsMode::kTensorFlow);
  EXPECT_EQ(opt->GetOption(0, "betas"), "0.8,0.95");
  EXPECT_EQ(opt->GetOption(0, "lr"), "0.25");
  // The optimizer's defaults (used by later AddParamGroup calls) are the given options too.
  EXPECT_EQ(adam->defaults().lr, 0.25);
}

TEST(Factory, AppliesOptionsForEveryAlgorithm) {
  struct Case {
    const char* name;
    const char* options;
  };
  const Case cases[] = {
      {"adamw", "lr=0.5 weight_decay=0.25 amsgrad=true"},
      {"adamax", "lr=0.5 betas=(0.5,0.75) eps_mode=tensorflow"},
      {"nadam", "lr=0.5 momentum_decay=0.01 decoupled_weight_decay=true"},
      {"radam", "lr=0.5 decoupled_weight_decay=true weight_decay=0.1"},
      {"adagrad", "lr=0.5 lr_decay=0.1 initial_accumulator_value=0.2 eps=1e-05"},
      {"rmsprop", "lr=0.5 alpha=0.5 momentum=0.9 centered=true"},
      {"adadelta", "lr=0.5 rho=0.5"},
      {"sgd", "lr=0.5 momentum=0.9 nesterov=true"},
  };
  for (const Case& c : cases) {
    std::vector<float> w(1), g(1);
    const OptionList list = ParseOptionList(c.options);
    auto opt = CreateOptimizer(c.name, {MakeParam(w.data(), g.data(), 1)}, list);
    EXPECT_EQ(opt->lr(0), 0.5) << c.name;
    for (const auto& [key, value] : list) {
      // Read back in canonical form: parse the given text the same way and print it.
      std::string canonical;
      WithDefaults(c.name, [&](auto o) {
        VisitOptions(o, [&](std::string_view k, auto& field) {
          if (k == key) {
            OptionFromString(k, value, field);
            canonical = OptionToString(field);
          }
        });
      });
      EXPECT_EQ(opt->GetOption(0, key), canonical) << c.name << " " << key;
    }
  }
}

// An optimizer made by name steps exactly as the one constructed directly with the same options.
template <class Opt, class Options>
void ExpectSameSteps(const char* name, const OptionList& list, const Options& options) {
  SCOPED_TRACE(name);
  std::vector<float> w1 = {1.0f, -2.0f, 0.5f, 3.0f}, w2 = w1;
  std::vector<float> g = {0.1f, -0.2f, 0.3f, 0.0f};
  auto by_name = CreateOptimizer(name, {MakeParam(w1.data(), g.data(), 4)}, list);
  Opt direct({MakeParam(w2.data(), g.data(), 4)}, options);
  for (int step = 0; step < 3; ++step) {
    by_name->Step();
    direct.Step();
    for (float& x : g) x = -x * 1.5f;
  }
  EXPECT_EQ(std::memcmp(w1.data(), w2.data(), w1.size() * sizeof(float)), 0);
  EXPECT_NE(w1[0], 1.0f);
}

TEST(Factory, StepsAsTheDirectlyConstructedOptimizer) {
  ExpectSameSteps<Adam>("adam", ParseOptionList("lr=0.1 amsgrad=true weight_decay=0.1"),
                        AdamOptions{.lr = 0.1, .weight_decay = 0.1, .amsgrad = true});
  ExpectSameSteps<AdamW>("adamw", ParseOptionList("lr=0.1"), [] {
    AdamWOptions o;
    o.lr = 0.1;
    return o;
  }());
  ExpectSameSteps<Adamax>("adamax", ParseOptionList("lr=0.1"), AdamaxOptions{.lr = 0.1});
  ExpectSameSteps<NAdam>("nadam", ParseOptionList("lr=0.1"), NAdamOptions{.lr = 0.1});
  ExpectSameSteps<RAdam>("radam", ParseOptionList("lr=0.1"), RAdamOptions{.lr = 0.1});
  ExpectSameSteps<Adagrad>("adagrad", ParseOptionList("lr=0.1 lr_decay=0.5"),
                           AdagradOptions{.lr = 0.1, .lr_decay = 0.5});
  ExpectSameSteps<RMSprop>("rmsprop", ParseOptionList("lr=0.1 momentum=0.5 centered=1"),
                           RMSpropOptions{.lr = 0.1, .momentum = 0.5, .centered = true});
  ExpectSameSteps<Adadelta>("adadelta", ParseOptionList("lr=0.1"), AdadeltaOptions{.lr = 0.1});
  ExpectSameSteps<SGD>("sgd", ParseOptionList("lr=0.1 momentum=0.9"), SGDOptions{.lr = 0.1, .momentum = 0.9});
}

TEST(Factory, AdamWIsDecoupled) {
  std::vector<float> w(1), g(1);
  auto opt = CreateOptimizer("adamw", {MakeParam(w.data(), g.data(), 1)}, ParseOptionList("weight_decay=0.5"));
  auto* adam = dynamic_cast<Adam*>(opt.get());
  ASSERT_NE(adam, nullptr);
  EXPECT_TRUE(adam->param_group(0).options.decoupled_weight_decay);
  EXPECT_EQ(adam->param_group(0).options.weight_decay, 0.5);
  EXPECT_PRED2(Contains, ErrorOf([&] { opt->GetOption(0, "decoupled_weight_decay"); }),
               "unknown option 'decoupled_weight_decay' for adamw");
  EXPECT_PRED2(Contains, ErrorOf([&] { opt->SetOption(0, "decoupled_weight_decay", "false"); }),
               "AdamW always decouples");
  EXPECT_TRUE(adam->param_group(0).options.decoupled_weight_decay);
}

TEST(Factory, UnknownAlgorithmListsKnownNames) {
  const std::string msg = CreateError("adamx", {});
  EXPECT_PRED2(Contains, msg, "'adamx'");
  for (const std::string& name : kNames) EXPECT_PRED2(Contains, msg, name);
  EXPECT_EQ(msg, "unknown optimizer 'adamx' (known: adam, adamw, adamax, nadam, radam, adagrad, rmsprop, adadelta, sgd, lion)");
  EXPECT_NE(CreateError("Adam", {}), "<no error>") << "names are case-sensitive";
  EXPECT_NE(CreateError("", {}), "<no error>");
}

TEST(Factory, UnknownKeyNamesItAndListsValidKeys) {
  EXPECT_EQ(CreateError("adam", {{"momentum", "0.9"}}),
            "unknown option 'momentum' for adam (valid: lr, betas, eps, weight_decay, amsgrad, maximize, "
            "decoupled_weight_decay, bias_correction, eps_mode, state_dtype, min_quant_size)");
  EXPECT_EQ(CreateError("sgd", {{"betas", "0.9,0.99"}}),
            "unknown option 'betas' for sgd (valid: lr, momentum, dampening, weight_decay, nesterov, maximize, "
            "state_dtype, min_quant_size)");
  for (const std::string& name : kNames) {
    const std::string msg = CreateError(name, {{"lr", "0.1"}, {"no_such_key", "1"}});
    EXPECT_PRED2(Contains, msg, "'no_such_key'") << name;
    EXPECT_PRED2(Contains, msg, name) << name;
    WithDefaults(name, [&](auto o) {
      VisitOptions(o, [&](std::string_view k, auto&) { EXPECT_PRED2(Contains, msg, std::string(k)) << name; });
    });
  }
}

TEST(Factory, RepeatedKey) {
  EXPECT_EQ(CreateError("adam", ParseOptionList("lr=0.1 eps=1e-6 lr=0.2")), "option 'lr' given twice for adam");
  EXPECT_EQ(CreateError("sgd", {{"momentum", "0.9"}, {"momentum", "0.9"}}), "option 'momentum' given twice for sgd");
}

TEST(Factory, BadValueNamesKeyAndValue) {
  EXPECT_EQ(CreateError("adam", {{"lr", "fast"}}), "invalid value for option 'lr': 'fast' (expected a number)");
  EXPECT_EQ(CreateError("adam", {{"amsgrad", "maybe"}}),
            "invalid value for option 'amsgrad': 'maybe' (expected true or false)");
  EXPECT_EQ(CreateError("nadam", {{"betas", "0.9"}}),
            "invalid value for option 'betas': '0.9' (expected two numbers separated by a comma, e.g. 0.9,0.999)");
  EXPECT_EQ(CreateError("adamax", {{"eps_mode", "keras"}}),
            "invalid value for option 'eps_mode': 'keras' (expected pytorch or tensorflow)");
  EXPECT_EQ(CreateError("rmsprop", ParseOptionList("lr=")), "invalid value for option 'lr': '' (expected a number)");
}

TEST(Factory, OutOfRangeValueGivesPyTorchsMessage) {
  EXPECT_EQ(CreateError("adam", {{"lr", "-1"}}), "Invalid learning rate: -1.0");
  EXPECT_EQ(CreateError("adamw", {{"betas", "0.9,1"}}), "Invalid beta parameter at index 1: 1.0");
  EXPECT_EQ(CreateError("adamax", {{"eps", "-1e-8"}}), "Invalid epsilon value: -1e-08");
  EXPECT_EQ(CreateError("nadam", {{"momentum_decay", "-0.5"}}), "Invalid momentum_decay value: -0.5");
  EXPECT_EQ(CreateError("radam", {{"weight_decay", "-0.5"}}), "Invalid weight_decay value: -0.5");
  EXPECT_EQ(CreateError("adagrad", {{"lr_decay", "-1"}}), "Invalid lr_decay value: -1.0");
  EXPECT_EQ(CreateError("rmsprop", {{"alpha", "-1"}}), "Invalid alpha value: -1.0");
  EXPECT_EQ(CreateError("adadelta", {{"rho", "1.5"}}), "Invalid rho value: 1.5");
  EXPECT_EQ(CreateError("sgd", {{"nesterov", "true"}}), "Nesterov momentum requires a momentum and zero dampening");
  EXPECT_EQ(CreateError("adam", {{"lr", "nan"}}), "Invalid learning rate: nan");
}

TEST(Factory, AdamWRejectsDecoupledWeightDecay) {
  for (const char* value : {"true", "false"}) {
    const std::string msg = CreateError("adamw", {{"decoupled_weight_decay", value}});
    EXPECT_PRED2(Contains, msg, "'decoupled_weight_decay'");
    EXPECT_PRED2(Contains, msg, "adamw");
  }
  // Plain Adam accepts it.
  EXPECT_EQ(CreateError("adam", {{"decoupled_weight_decay", "true"}}), "<no error>");
}

TEST(Factory, NoParametersIsFine) {
  auto opt = CreateOptimizer("adam", {});
  EXPECT_EQ(opt->num_param_groups(), 1u);
  EXPECT_TRUE(opt->params(0).empty());
  opt->Step();
}

// ---------------------------------------------------------------------------------------------------------
// ParseOptionList

TEST(ParseOptionList, SpacesAndSemicolons) {
  EXPECT_EQ(ParseOptionList("lr=3e-4 betas=0.9,0.95"), (OptionList{{"lr", "3e-4"}, {"betas", "0.9,0.95"}}));
  EXPECT_EQ(ParseOptionList("  lr=1;;eps=2 ;\tamsgrad=true  "),
            (OptionList{{"lr", "1"}, {"eps", "2"}, {"amsgrad", "true"}}));
  EXPECT_EQ(ParseOptionList("lr=1;eps=2"), (OptionList{{"lr", "1"}, {"eps", "2"}}));
  EXPECT_EQ(ParseOptionList(""), OptionList{});
  EXPECT_EQ(ParseOptionList(" ; ;"), OptionList{});
  // Only the first '=' separates; the value keeps the rest. An empty value is left for the option to reject.
  EXPECT_EQ(ParseOptionList("a=b=c"), (OptionList{{"a", "b=c"}}));
  EXPECT_EQ(ParseOptionList("lr="), (OptionList{{"lr", ""}}));
  // Order and repetitions are kept (CreateOptimizer rejects repetitions).
  EXPECT_EQ(ParseOptionList("lr=1 lr=2"), (OptionList{{"lr", "1"}, {"lr", "2"}}));
}

TEST(ParseOptionList, EntryWithoutEquals) {
  for (const char* text : {"lr", "lr=1 amsgrad", "=1", "lr=1;eps"}) {
    try {
      ParseOptionList(text);
      ADD_FAILURE() << "no error for '" << text << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_PRED2(Contains, std::string(e.what()), "is not of the form key=value") << text;
    }
  }
  try {
    ParseOptionList("lr=1 amsgrad");
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "option 'amsgrad' is not of the form key=value");
  }
}

}  // namespace
}  // namespace adamant
