#include "optimizers.h"

#include <torch/optim.h>

#include <set>
#include <stdexcept>

#include "adamant/torch/optim.h"

namespace adamant::app {
namespace {

// Fails unless every key given is one libtorch's `algorithm` has.
void CheckKeys(const std::string& algorithm, const OptionList& options, const std::set<std::string>& supported) {
  for (const auto& [key, value] : options) {
    if (supported.count(key) == 0) {
      std::string valid;
      for (const auto& k : supported) valid += (valid.empty() ? "" : ", ") + k;
      throw std::invalid_argument("libtorch's " + algorithm + " has no option '" + key + "' (it has: " + valid +
                                  "); use --impl adamant");
    }
  }
}

std::tuple<double, double> Pair(const Betas& b) { return {b[0], b[1]}; }

}  // namespace

std::vector<std::string> LibtorchAlgorithms() { return {"adam", "adamw", "adagrad", "rmsprop", "sgd"}; }

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const std::string& impl, const std::string& name,
                                                       std::vector<torch::Tensor> params, const OptionList& options) {
  if (impl == "adamant") return adamant::optim::Create(name, std::move(params), options);
  if (impl != "torch") throw std::invalid_argument("unknown implementation '" + impl + "' (valid: adamant, torch)");

  // adamant's factory parses and validates the values and supplies the defaults.
  const std::unique_ptr<adamant::Optimizer> parsed = adamant::CreateOptimizer(name, {}, options);
  if (name == "adam" || name == "adamw") {
    CheckKeys(name, options, {"lr", "betas", "eps", "weight_decay", "amsgrad"});
    const auto& o = static_cast<const adamant::Adam&>(*parsed).defaults();
    if (name == "adam") {
      return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(o.lr)
                                                              .betas(Pair(o.betas))
                                                              .eps(o.eps)
                                                              .weight_decay(o.weight_decay)
                                                              .amsgrad(o.amsgrad));
    }
    return std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(o.lr)
                                                             .betas(Pair(o.betas))
                                                             .eps(o.eps)
                                                             .weight_decay(o.weight_decay)
                                                             .amsgrad(o.amsgrad));
  }
  if (name == "adagrad") {
    CheckKeys(name, options, {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"});
    const auto& o = static_cast<const adamant::Adagrad&>(*parsed).defaults();
    return std::make_unique<torch::optim::Adagrad>(params, torch::optim::AdagradOptions(o.lr)
                                                               .lr_decay(o.lr_decay)
                                                               .weight_decay(o.weight_decay)
                                                               .initial_accumulator_value(o.initial_accumulator_value)
                                                               .eps(o.eps));
  }
  if (name == "rmsprop") {
    CheckKeys(name, options, {"lr", "alpha", "eps", "weight_decay", "momentum", "centered"});
    const auto& o = static_cast<const adamant::RMSprop&>(*parsed).defaults();
    return std::make_unique<torch::optim::RMSprop>(params, torch::optim::RMSpropOptions(o.lr)
                                                               .alpha(o.alpha)
                                                               .eps(o.eps)
                                                               .weight_decay(o.weight_decay)
                                                               .momentum(o.momentum)
                                                               .centered(o.centered));
  }
  if (name == "sgd") {
    CheckKeys(name, options, {"lr", "momentum", "dampening", "weight_decay", "nesterov"});
    const auto& o = static_cast<const adamant::SGD&>(*parsed).defaults();
    return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(o.lr)
                                                           .momentum(o.momentum)
                                                           .dampening(o.dampening)
                                                           .weight_decay(o.weight_decay)
                                                           .nesterov(o.nesterov));
  }
  throw std::invalid_argument("libtorch has no " + name + " (it has adam, adamw, adagrad, rmsprop, sgd); use --impl adamant");
}

}  // namespace adamant::app
