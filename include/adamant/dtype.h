// Element types of parameters, gradients and optimizer state.
#ifndef ADAMANT_DTYPE_H_
#define ADAMANT_DTYPE_H_

#include <cstddef>
#include <string_view>

namespace adamant {

enum class DType {
  kFloat32,
  kFloat64,
};

// Bytes per element.
size_t SizeOf(DType dtype);

// "float32", "float64": the names torch uses for these dtypes.
std::string_view DTypeName(DType dtype);

}  // namespace adamant

#endif  // ADAMANT_DTYPE_H_
