// What the checkpoint fuzzer runs on each input, shared with the unit tests that replay its corpus and its
// regression cases, and the seed corpus it starts from.
//
// A small model (parameters of every dtype in two groups, one without a gradient) and an optimizer of any
// algorithm over it; CheckCheckpointInput loads arbitrary bytes into such an optimizer and checks what must
// hold whatever the bytes: only CheckpointError is thrown; a failed load changes nothing; a successful one
// leaves a state that saves, reloads to the same bytes, and steps.
#ifndef ADAMANT_FUZZ_CHECKPOINT_HARNESS_H_
#define ADAMANT_FUZZ_CHECKPOINT_HARNESS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adamant/optimizer.h"

namespace adamant::fuzz {

// One parameter of a Model.
struct ParamSpec {
  DType dtype = DType::kFloat32;
  int64_t numel = 0;
  bool has_grad = true;
};

// Parameters and gradients owned here, filled with deterministic values.
class Model {
 public:
  explicit Model(std::vector<std::vector<ParamSpec>> groups);
  // The fuzzer's model: float32 and bfloat16 parameters in group 0; float64, float16 and a float32 one
  // without a gradient in group 1.
  static Model Small();

  std::vector<ParamView> views(size_t group);
  size_t num_groups() const { return specs_.size(); }
  // Gradients for step `step` (a function of the step, the parameter and the element).
  void SetGrads(int step);
  // Every parameter's bytes, to compare and to restore.
  std::vector<std::string> Snapshot() const;
  void Restore(const std::vector<std::string>& snapshot);

 private:
  std::vector<std::vector<ParamSpec>> specs_;
  std::vector<std::vector<std::string>> data_, grad_;  // byte storage per parameter
};

// An optimizer of algorithm `name` (AlgorithmNames()) over the model's groups, with `options` applied to
// every group and group g's lr multiplied by g + 1.
std::unique_ptr<Optimizer> MakeOptimizer(std::string_view name, Model& model, const OptionList& options = {});

// Options that make every algorithm keep all of its state buffers (amsgrad, RMSprop's momentum and
// centered, SGD's momentum).
OptionList FullStateOptions(std::string_view name);

// Restricts the optimizer's groups to the ranges of elements (Optimizer::set_range) that the file's
// metadata gives them, where it parses and gives valid ones.
void ApplyFileRanges(Optimizer& opt, std::string_view bytes);

// Empty if every property holds for `bytes`, else what failed.
std::string CheckCheckpointInput(std::string_view bytes);

// The seed corpus: (file name, bytes), valid checkpoints of every algorithm and some damaged ones.
std::vector<std::pair<std::string, std::string>> SeedCorpus();

}  // namespace adamant::fuzz

#endif  // ADAMANT_FUZZ_CHECKPOINT_HARNESS_H_
