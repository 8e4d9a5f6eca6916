#include "catalog.h"

#include <ostream>
#include <utility>
#include <vector>

#include "results.h"

namespace adamant_bench {

std::string StorageName(Storage s) { return s == Storage::kBFloat16 ? "bf16" : "fp32"; }
int StorageBytes(Storage s) { return s == Storage::kBFloat16 ? 2 : 4; }

std::string Layout::Name() const {
  return states == 0 ? "p+g" : "p+g+" + std::to_string(states) + " state";
}

std::string Layout::Dtypes() const {
  const std::string s = StorageName(storage);
  return s + "/" + s + "/fp32";
}

const std::vector<Variant>& Catalog() {
  using enum Storage;
  // The learning rate is spelled out everywhere: torch 1.13's SGD has no default for it.
  static const std::vector<Variant> catalog = [] {
    std::vector<Variant> v = {
        {"adam", "adam", "Adam", "lr=1e-3", kFloat32, {"exp_avg", "exp_avg_sq"}, true, true},
        {"adamw", "adamw", "AdamW", "lr=1e-3 weight_decay=1e-2", kFloat32, {"exp_avg", "exp_avg_sq"}, true, true},
        {"adamax", "adamax", "Adamax", "lr=2e-3", kFloat32, {"exp_avg", "exp_inf"}, false, true},
        {"nadam", "nadam", "NAdam", "lr=2e-3", kFloat32, {"exp_avg", "exp_avg_sq"}, false, true},
        {"radam", "radam", "RAdam", "lr=1e-3", kFloat32, {"exp_avg", "exp_avg_sq"}, false, true, 5},
        {"adagrad", "adagrad", "Adagrad", "lr=1e-2", kFloat32, {"sum"}, true, true},
        {"rmsprop", "rmsprop", "RMSprop", "lr=1e-2", kFloat32, {"square_avg"}, true, true},
        {"adadelta", "adadelta", "Adadelta", "lr=1.0", kFloat32, {"square_avg", "acc_delta"}, false, true},
        {"sgd", "sgd", "SGD", "lr=1e-3 momentum=0.9", kFloat32, {"momentum_buffer"}, true, true},
    };
    // Each of them again with bf16 parameters and gradients (fp32 state): adamant only, no peer runs them.
    const size_t algorithms = v.size();
    for (size_t i = 0; i < algorithms; ++i) {
      Variant bf16 = v[i];
      bf16.storage = kBFloat16;
      bf16.in_libtorch = false;
      v.push_back(std::move(bf16));
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
