// What each optimizer keeps, by name: what checkpoints, the drop-ins and tools read instead of listing
// state names themselves.
#ifndef ADAMANT_ALGORITHM_INFO_H_
#define ADAMANT_ALGORITHM_INFO_H_

#include <cstdint>
#include <span>
#include <string_view>

namespace adamant {

// The most element buffers an algorithm keeps per parameter (Adam with amsgrad, RMSprop centered with
// momentum).
inline constexpr int kMaxStateBuffers = 3;

// The values a state buffer holds: of either sign (first moments, momentum), or never negative (second
// moments, sums and maxima of squares or magnitudes), which a checkpoint's buffer must respect and
// low-memory state can encode without a sign.
enum class StateValues : uint8_t { kSigned, kNonNegative };

// One element buffer of an algorithm's state: its PyTorch name and its values. It has the shape of its
// parameter (or of the part of it an optimizer's range holds).
struct StateSpec {
  std::string_view name;
  StateValues values = StateValues::kSigned;
};

struct AlgorithmInfo {
  std::string_view name;  // "adam", "adamw", ...: the factory's name
  // Its element buffers (PyTorch's names), in the order of functional::Tensor::state; each parameter's
  // state holds those its options use, and master_param for bf16/fp16 parameters with master weights.
  std::span<const std::string_view> state;
  std::span<const StateSpec> buffers;  // the same buffers, in the same order, with their values
  bool counts_steps = true;     // keeps `step` (all but SGD)
  std::string_view scalar_state;  // a per-parameter scalar it keeps ("mu_product": NAdam), or empty
};

// Every optimizer, in the order of AlgorithmNames() (factory.h).
std::span<const AlgorithmInfo> Algorithms();

// The optimizer called `name`, or null.
const AlgorithmInfo* FindAlgorithm(std::string_view name);

}  // namespace adamant

#endif  // ADAMANT_ALGORITHM_INFO_H_
