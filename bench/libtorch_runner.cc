// libtorch's torch::optim (Debian's libtorch-dev 1.13): the C++ peer. Its step() loops over the parameters
// and runs a handful of ATen ops per tensor, each a pass over memory; ATen parallelizes each op with
// at::set_num_threads threads.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/optim.h>

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "adamant/factory.h"
#include "runners.h"

namespace adamant_bench {
namespace {

// The catalog's options as libtorch setters read them; every key must be read exactly once.
class OptionReader {
 public:
  explicit OptionReader(const Variant& v) : name_(v.name) {
    for (const auto& [k, value] : adamant::ParseOptionList(v.options)) values_[k] = value;
  }
  double Number(const std::string& key, double fallback) { return Has(key) ? std::stod(Take(key)) : fallback; }
  bool Flag(const std::string& key) { return Has(key) && Take(key) == "true"; }
  void CheckAllRead() const {
    if (!values_.empty()) {
      throw std::invalid_argument("libtorch: option '" + values_.begin()->first + "' of " + name_ + " not mapped");
    }
  }

 private:
  bool Has(const std::string& key) const { return values_.count(key) != 0; }
  std::string Take(const std::string& key) {
    std::string v = values_.at(key);
    values_.erase(key);
    return v;
  }
  std::string name_;
  std::map<std::string, std::string> values_;
};

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const Variant& v, std::vector<at::Tensor> params) {
  namespace optim = torch::optim;
  OptionReader o(v);
  std::unique_ptr<optim::Optimizer> opt;
  if (v.torch_class == "Adam") {
    auto options = optim::AdamOptions(o.Number("lr", 1e-3));
    options.weight_decay(o.Number("weight_decay", 0)).amsgrad(o.Flag("amsgrad"));
    opt = std::make_unique<optim::Adam>(std::move(params), options);
  } else if (v.torch_class == "AdamW") {
    auto options = optim::AdamWOptions(o.Number("lr", 1e-3));
    options.weight_decay(o.Number("weight_decay", 1e-2)).amsgrad(o.Flag("amsgrad"));
    opt = std::make_unique<optim::AdamW>(std::move(params), options);
  } else if (v.torch_class == "Adagrad") {
    auto options = optim::AdagradOptions(o.Number("lr", 1e-2));
    options.weight_decay(o.Number("weight_decay", 0));
    opt = std::make_unique<optim::Adagrad>(std::move(params), options);
  } else if (v.torch_class == "RMSprop") {
    auto options = optim::RMSpropOptions(o.Number("lr", 1e-2));
    options.momentum(o.Number("momentum", 0)).centered(o.Flag("centered"));
    opt = std::make_unique<optim::RMSprop>(std::move(params), options);
  } else if (v.torch_class == "SGD") {
    auto options = optim::SGDOptions(o.Number("lr", 1e-3));
    options.momentum(o.Number("momentum", 0)).weight_decay(o.Number("weight_decay", 0));
    opt = std::make_unique<optim::SGD>(std::move(params), options);
  } else {
    throw std::invalid_argument("libtorch: no torch::optim::" + v.torch_class);
  }
  o.CheckAllRead();
  return opt;
}

}  // namespace

Row RunLibtorch(const Variant& v, const Shape& shape, int threads, const RepPolicy& policy) {
  const Layout layout = v.layout();
  Row row{"libtorch", v.name, layout.Dtypes(), shape, threads, layout.BytesPerParam()};
  if (v.storage != Storage::kFloat32 || !v.in_libtorch) {
    row.note = "n/a: not benchmarked in libtorch";
    return row;
  }
  at::set_num_threads(threads);
  std::vector<at::Tensor> params;
  params.reserve(static_cast<size_t>(shape.tensors));
  for (int64_t t = 0; t < shape.tensors; ++t) {
    at::Tensor p = at::empty({shape.numel}).uniform_(-1, 1).requires_grad_(true);
    p.mutable_grad() = at::empty({shape.numel}).uniform_(-1, 1);
    params.push_back(std::move(p));
  }
  auto opt = MakeOptimizer(v, params);
  if (v.skip_to_step > 0) throw std::invalid_argument("libtorch: skip_to_step is not implemented");
  row.timing = TimeSteps(policy, [&] { opt->step(); });
  return row;
}

}  // namespace adamant_bench
