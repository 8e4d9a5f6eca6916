// The types options are made of, beside double and bool.
#ifndef ADAMANT_OPTION_TYPES_H_
#define ADAMANT_OPTION_TYPES_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adamant/dtype.h"

namespace adamant {

using Betas = std::array<double, 2>;

// Where the Adam family adds epsilon to the denominator.
//   kPyTorch:    m_hat / (sqrt(v_hat) + eps)  — the Adam paper's Algorithm 1 and torch.optim (default).
//   kTensorFlow: TensorFlow/Keras's "epsilon hat": lr * sqrt(bc2) / bc1 * m / (sqrt(v) + eps), i.e. eps
//                added to the root of the uncorrected v. For Adamax, eps is added after the max instead
//                of inside it (Keras's Adamax).
enum class EpsMode { kPyTorch, kTensorFlow };

// "pytorch" / "tensorflow".
std::string_view EpsModeName(EpsMode mode);

// The state_dtype option: how a param group's state buffers are stored (StateStorage, dtype.h), one
// storage for all of them (`all`) except the buffers named in `by_name`. Its text is "float32" or
// "bfloat16" (or "bfloat16_stochastic", "int8"), or per buffer "exp_avg:int8,exp_avg_sq:bfloat16"
// (buffers not named keep float32).
// "float32" means the compute type: float64 parameters keep float64 state.
struct StateDTypes {
  StateDTypes() = default;
  // Implicit, so that `AdamOptions{.state_dtype = StateStorage::kBFloat16}` reads as it means.
  StateDTypes(StateStorage all_buffers) : all(all_buffers) {}  // NOLINT(google-explicit-constructor)
  StateDTypes(StateStorage all_buffers, std::vector<std::pair<std::string, StateStorage>> named)
      : all(all_buffers), by_name(std::move(named)) {}

  StateStorage all = StateStorage::kFull;
  std::vector<std::pair<std::string, StateStorage>> by_name;  // each name once, in the order given

  // How the buffer `name` is stored.
  StateStorage Of(std::string_view name) const {
    for (const auto& [n, storage] : by_name) {
      if (n == name) return storage;
    }
    return all;
  }
  // The dtype of state buffer `name` of a `param` parameter: StateDType(param, Of(name)); master_param (a
  // bfloat16 or float16 parameter's master copy) is always float32.
  DType DTypeOf(std::string_view name, DType param) const {
    return name == "master_param" ? DType::kFloat32 : StateDType(param, Of(name));
  }
  bool operator==(const StateDTypes&) const = default;
};

// "float32" / "bfloat16" / "bfloat16_stochastic" / "int8".
std::string_view StateStorageName(StateStorage storage);

// An algorithm's options from one list of fields, FIELDS(X) calling X(type, name, default) for each field
// in order: the struct `Name` (a plain aggregate with default member initializers, so that
// `Name{.lr = 1e-2}` works) and its visitor, VisitOptionsImpl(Name&, visit), which calls visit("name",
// field) for every field in the same order (options.h: VisitOptions). The names are PyTorch's. Every
// algorithm's options end with `state_dtype`, which its state's storage follows, and `min_quant_size`:
// parameters of fewer elements keep float32 state where state_dtype asks for int8 (state_layout.h).
#define ADAMANT_OPTION_FIELD(type, name, default_value) type name = default_value;
#define ADAMANT_OPTION_VISIT(type, name, default_value) visit(#name, o.name);
#define ADAMANT_DEFINE_OPTIONS(Name, FIELDS)           \
  struct Name {                                        \
    FIELDS(ADAMANT_OPTION_FIELD)                       \
    StateDTypes state_dtype = {};                      \
    int64_t min_quant_size = 4096;                     \
  };                                                   \
  template <class Visitor>                             \
  void VisitOptionsImpl(Name& o, Visitor&& visit) {    \
    FIELDS(ADAMANT_OPTION_VISIT)                       \
    visit("state_dtype", o.state_dtype);               \
    visit("min_quant_size", o.min_quant_size);         \
  }

}  // namespace adamant

#endif  // ADAMANT_OPTION_TYPES_H_
