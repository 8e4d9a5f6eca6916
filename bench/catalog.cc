#include "catalog.h"

#include <algorithm>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "adamant/algorithm_info.h"
#include "adamant/algorithms.h"
#include "adamant/factory.h"
#include "adamant/option_text.h"

#include "results.h"

namespace adamant_bench {

std::string StorageName(Storage s) {
  return s == Storage::kBFloat16 ? "bf16" : s == Storage::kInt8 ? "int8" : "fp32";
}
int StorageBytes(Storage s) { return s == Storage::kBFloat16 ? 2 : s == Storage::kInt8 ? 1 : 4; }

std::string Layout::Name() const {
  return states == 0 ? "p+g" : "p+g+" + std::to_string(states) + " state";
}

std::string Layout::Dtypes() const {
  const std::string s = StorageName(storage);
  return s + "/" + s + "/" + StorageName(state);
}

namespace {

// What the peers offer, by class name: torch::optim in libtorch 1.13 (what RunLibtorch can build), and
// torch.optim in torch 1.13.
const std::set<std::string> kInLibtorch = {"Adam", "AdamW", "Adagrad", "RMSprop", "SGD"};

// Where a plain run departs from an optimizer's defaults: options that give it its usual traffic (SGD's
// momentum buffer), and the step its timed steps take (RAdam rectifies from step 6, rho_t > 5).
struct Departure {
  std::string options;
  int skip_to_step = 0;
};
const std::map<std::string, Departure> kDepartures = {
    {"adamw", {"weight_decay=1e-2"}},
    {"radam", {"", 5}},
    {"sgd", {"momentum=0.9"}},
};

// The state buffers an optimizer keeps with `options`: those one step over one parameter creates.
std::vector<std::string> StateOf(const std::string& name, const std::string& options) {
  std::vector<float> w(4, 1.0f), g(4, 0.5f);
  const auto opt = adamant::CreateOptimizer(name, {adamant::MakeParam(w.data(), g.data(), 4)},
                                            adamant::ParseOptionList(options));
  opt->Step();
  std::vector<std::string> state;
  for (const auto& [buffer, data] : opt->state(0, 0).buffers) state.push_back(buffer);
  // In the algorithm's order (the order of its step's arrays), not the map's.
  std::vector<std::string> ordered;
  for (std::string_view known : adamant::FindAlgorithm(name)->state) {
    if (std::find(state.begin(), state.end(), known) != state.end()) ordered.emplace_back(known);
  }
  return ordered;
}

// Every optimizer of the list (adamant/algorithms.h) with its default options, in fp32.
std::vector<Variant> EveryOptimizer() {
  std::vector<Variant> v;
#define ADAMANT_VARIANT(Class, name, ...)                                                                    \
  {                                                                                                          \
    const Departure d = kDepartures.count(name) != 0 ? kDepartures.at(name) : Departure{};                   \
    /* The learning rate is spelled out everywhere: torch 1.13's SGD has no default for it. */               \
    const std::string options =                                                                               \
        "lr=" + adamant::FormatNumber(adamant::Class##Options{}.lr) + (d.options.empty() ? "" : " " + d.options); \
    v.push_back({name, name, #Class, options, Storage::kFloat32, StateOf(name, options),                     \
                 kInLibtorch.count(#Class) != 0, true, d.skip_to_step});                                     \
  }
  ADAMANT_OPTIMIZERS(ADAMANT_VARIANT, ADAMANT_VARIANT)
#undef ADAMANT_VARIANT
  return v;
}

}  // namespace

const std::vector<Variant>& Catalog() {
  using enum Storage;
  static const std::vector<Variant> catalog = [] {
    std::vector<Variant> v = EveryOptimizer();
    // Each of them again with bf16 parameters and gradients (fp32 state): adamant only, no peer runs them.
    const size_t algorithms = v.size();
    for (size_t i = 0; i < algorithms; ++i) {
      Variant bf16 = v[i];
      bf16.storage = kBFloat16;
      bf16.in_libtorch = false;
      v.push_back(std::move(bf16));
    }
    // bfloat16 and int8 state (fp32 parameters) for the algorithms whose state is moments that low-memory
    // training uses most: adamant only. int8 for every tensor (min_quant_size=0): the shapes' small
    // tensors would keep float32 state otherwise.
    for (const auto& [suffix, options, storage] :
         {std::tuple{"-bf16state", " state_dtype=bfloat16", kBFloat16},
          std::tuple{"-int8state", " state_dtype=int8 min_quant_size=0", kInt8}}) {
      for (size_t i = 0; i < algorithms; ++i) {
        if (v[i].state.empty() || (v[i].name != "adam" && v[i].name != "adamw" && v[i].name != "lion" &&
                                   v[i].name != "rmsprop" && v[i].name != "adagrad" && v[i].name != "sgd")) {
          continue;
        }
        Variant lean = v[i];
        lean.name += suffix;
        lean.options += options;
        lean.state_storage = storage;
        lean.in_libtorch = false;
        v.push_back(std::move(lean));
      }
    }
    v.insert(v.end(), {
        // The non-finite policies that check the gradients before the step (the same traffic counted: the
        // step's; the extra read of the gradients is what the policy costs).
        {"adam-skip", "adam", "Adam", "lr=1e-3", kFloat32, {"exp_avg", "exp_avg_sq"}, false, true, 0, "skip"},
        {"adam-raise", "adam", "Adam", "lr=1e-3", kFloat32, {"exp_avg", "exp_avg_sq"}, false, true, 0, "raise"},
        // Not in a plain run (select them with --alg): the variants whose traffic differs.
        {"adam-amsgrad", "adam", "Adam", "lr=1e-3 amsgrad=true", kFloat32,
         {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}, true, false},
        {"rmsprop-momentum", "rmsprop", "RMSprop", "lr=1e-2 momentum=0.9", kFloat32,
         {"square_avg", "momentum_buffer"}, true, false},
        {"rmsprop-centered", "rmsprop", "RMSprop", "lr=1e-2 centered=true", kFloat32, {"square_avg", "grad_avg"},
         true, false},
        {"sgd-nomomentum", "sgd", "SGD", "lr=1e-3", kFloat32, {}, true, false},
    });
    return v;
  }();
  return catalog;
}

void WriteCatalogCsv(std::ostream& out) {
  out << "name,algorithm,torch_class,options,dtypes,layout,state,bytes_per_param,libtorch,default,skip_to_step,"
         "nonfinite\n";
  for (const Variant& v : Catalog()) {
    std::string state;
    for (const auto& s : v.state) state += (state.empty() ? "" : " ") + s;
    out << CsvField(v.name) << ',' << v.algorithm << ',' << v.torch_class << ',' << CsvField(v.options) << ','
        << v.layout().Dtypes() << ',' << CsvField(v.layout().Name()) << ',' << state << ','
        << v.layout().BytesPerParam()
        << ',' << v.in_libtorch << ',' << v.by_default << ',' << v.skip_to_step << ',' << v.nonfinite << '\n';
  }
}

}  // namespace adamant_bench
