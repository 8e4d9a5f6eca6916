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

}  // namespace adamant

#endif  // ADAMANT_OPTION_TYPES_H_
