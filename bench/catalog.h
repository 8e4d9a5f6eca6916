// What is benchmarked: every optimizer variant with its options, storage dtypes and memory traffic.
//
// This table is the single source of the byte model: the C++ program writes it as CSV (--catalog) and the
// PyTorch script and the report read it from there.
#ifndef ADAMANT_BENCH_CATALOG_H_
#define ADAMANT_BENCH_CATALOG_H_

#include <iosfwd>
#include <string>
#include <vector>

namespace adamant_bench {

// Storage of the parameter and its gradient, or of the optimizer state (int8: state only, block-wise; its
// block maxima, 4 bytes per 256 elements, are left out of the byte counts).
enum class Storage { kFloat32, kBFloat16, kInt8 };

std::string StorageName(Storage s);  // "fp32", "bf16", "int8"
int StorageBytes(Storage s);

// The memory traffic of one step: the parameter is read and written, the gradient read, and each state
// array read and written once.
struct Layout {
  Storage storage = Storage::kFloat32;  // parameter and gradient
  int states = 0;
  Storage state = Storage::kFloat32;  // each state array

  int BytesPerParam() const { return 3 * StorageBytes(storage) + 2 * StorageBytes(state) * states; }
  std::string Name() const;    // "p+g+2 state"
  std::string Dtypes() const;  // "fp32/fp32/fp32": param/grad/state; "fp32/fp32/bf16" for bf16 state
  bool operator==(const Layout&) const = default;
};

struct Variant {
  std::string name;         // what --alg selects and the tables show: "adam", "sgd", "adam-amsgrad"
  std::string algorithm;    // adamant::CreateOptimizer's name
  std::string torch_class;  // torch.optim / torch::optim class
  std::string options;      // "lr=1e-3 momentum=0.9": PyTorch option names, understood by all three
  Storage storage = Storage::kFloat32;
  std::vector<std::string> state;  // PyTorch's names of the state buffers
  bool in_libtorch = false;        // torch::optim (1.13) has this class and these options
  bool by_default = false;         // part of a plain `make bench`
  // After the first warm-up step the step counters are set to this (0: left alone), so that the timed
  // steps take the branch a long run takes: RAdam rectifies from step 6 (rho_t > 5), not before.
  int skip_to_step = 0;
  // adamant's non-finite gradient policy ("skip", "raise"; empty: the default, propagate). Such a variant
  // is adamant's only, and each of its steps is timed alternately with a step under the default policy,
  // so that the report gives what the policy costs (the gradients are finite: every step is taken).
  std::string nonfinite = "";
  // How the state is stored (adamant's state_dtype option, in `options`: adamant's only).
  Storage state_storage = Storage::kFloat32;

  Layout layout() const { return {storage, static_cast<int>(state.size()), state_storage}; }
};

const std::vector<Variant>& Catalog();

// One CSV row per variant: name, algorithm, torch_class, options, dtypes, layout, state,
// bytes_per_param, libtorch, default, skip_to_step, nonfinite.
void WriteCatalogCsv(std::ostream& out);

}  // namespace adamant_bench

#endif  // ADAMANT_BENCH_CATALOG_H_
