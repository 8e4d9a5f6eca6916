// The types options are made of, beside double and bool.
#ifndef ADAMANT_OPTION_TYPES_H_
#define ADAMANT_OPTION_TYPES_H_

#include <array>
#include <string_view>

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

// An algorithm's options from one list of fields, FIELDS(X) calling X(type, name, default) for each field
// in order: the struct `Name` (a plain aggregate with default member initializers, so that
// `Name{.lr = 1e-2}` works) and its visitor, VisitOptionsImpl(Name&, visit), which calls visit("name",
// field) for every field in the same order (options.h: VisitOptions). The names are PyTorch's.
#define ADAMANT_OPTION_FIELD(type, name, default_value) type name = default_value;
#define ADAMANT_OPTION_VISIT(type, name, default_value) visit(#name, o.name);
#define ADAMANT_DEFINE_OPTIONS(Name, FIELDS)           \
  struct Name {                                        \
    FIELDS(ADAMANT_OPTION_FIELD)                       \
  };                                                   \
  template <class Visitor>                             \
  void VisitOptionsImpl(Name& o, Visitor&& visit) {    \
    FIELDS(ADAMANT_OPTION_VISIT)                       \
  }

}  // namespace adamant

#endif  // ADAMANT_OPTION_TYPES_H_
