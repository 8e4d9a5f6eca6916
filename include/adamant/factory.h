// Build an optimizer from a name and key=value options: what configs and the command line use.
//
//   auto opt = adamant::CreateOptimizer("adamw", params, adamant::ParseOptionList("lr=3e-4 betas=0.9,0.95"));
#ifndef ADAMANT_FACTORY_H_
#define ADAMANT_FACTORY_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adamant/optimizer.h"

namespace adamant {

// The names CreateOptimizer accepts: adam, adamw, adamax, nadam, radam, adagrad, rmsprop, adadelta, sgd.
std::vector<std::string_view> AlgorithmNames();

// Throws std::invalid_argument naming the unknown algorithm, the unknown or repeated key, or the bad value
// (with PyTorch's validation message when a value is out of range).
std::unique_ptr<Optimizer> CreateOptimizer(std::string_view name, std::vector<ParamView> params,
                                           const OptionList& options = {});

// "lr=3e-4 betas=0.9,0.95 amsgrad=true": entries separated by spaces or semicolons, each key=value.
// Throws std::invalid_argument on an entry without '='.
OptionList ParseOptionList(std::string_view text);

}  // namespace adamant

#endif  // ADAMANT_FACTORY_H_
