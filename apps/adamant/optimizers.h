// The optimizer a training run uses: adamant's (the libtorch drop-ins) or, as a baseline, libtorch's own.
#ifndef ADAMANT_APPS_ADAMANT_OPTIMIZERS_H_
#define ADAMANT_APPS_ADAMANT_OPTIMIZERS_H_

#include <torch/optim/optimizer.h>

#include <memory>
#include <string>
#include <vector>

#include "adamant/factory.h"

namespace adamant::app {

// impl "adamant": adamant::optim::Create (every algorithm and option of adamant's factory).
// impl "torch": torch::optim's Adam, AdamW, Adagrad, RMSprop or SGD with the options libtorch has, adamant's
// defaults for the rest (libtorch's SGD has no default lr: 1e-3, as current PyTorch). Throws
// std::invalid_argument for an algorithm or option libtorch lacks.
std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const std::string& impl, const std::string& name,
                                                       std::vector<torch::Tensor> params, const OptionList& options);

// The algorithms libtorch has (for --impl torch).
std::vector<std::string> LibtorchAlgorithms();

}  // namespace adamant::app

#endif  // ADAMANT_APPS_ADAMANT_OPTIMIZERS_H_
