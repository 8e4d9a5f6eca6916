// What each optimizer keeps, by name: what checkpoints, the drop-ins and tools read instead of listing
// state names themselves.
#ifndef ADAMANT_ALGORITHM_INFO_H_
#define ADAMANT_ALGORITHM_INFO_H_

#include <span>
#include <string_view>

namespace adamant {

// The most element buffers an algorithm keeps per parameter (Adam with amsgrad, RMSprop centered with
// momentum).
inline constexpr int kMaxStateBuffers = 3;

struct AlgorithmInfo {
  std::string_view name;  // "adam", "adamw", ...: the factory's name
  // Its element buffers (PyTorch's names), in the order of functional::Tensor::state; each parameter's
  // state holds those its options use, and master_param for bf16/fp16 parameters with master weights.
  std::span<const std::string_view> state;
  bool counts_steps = true;     // keeps `step` (all but SGD)
  std::string_view scalar_state;  // a per-parameter scalar it keeps ("mu_product": NAdam), or empty
};

// Every optimizer, in the order of AlgorithmNames() (factory.h).
std::span<const AlgorithmInfo> Algorithms();

// The optimizer called `name`, or null.
const AlgorithmInfo* FindAlgorithm(std::string_view name);

}  // namespace adamant

#endif  // ADAMANT_ALGORITHM_INFO_H_
