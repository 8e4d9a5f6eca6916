// Element types of parameters, gradients and optimizer state.
#ifndef ADAMANT_DTYPE_H_
#define ADAMANT_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace adamant {

enum class DType {
  kFloat32,
  kFloat64,
  kBFloat16,  // stored as the upper 16 bits of a float32 (uint16_t); computed in float32
  kFloat16,   // IEEE binary16 (uint16_t); computed in float32
  kUInt8,     // int8 state's codes (StateStorage::kInt8); never a parameter's dtype
};

// The element type of an optimizer's state for a parameter of `dtype`: float64 for float64 parameters,
// float32 for all others (bf16 and fp16 parameters keep fp32 state).
// Inline: a step over thousands of tensors asks for both several times per tensor.
constexpr DType StateDType(DType dtype) { return dtype == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32; }

// How an optimizer state buffer is stored, whatever the parameter's dtype (the state_dtype option). The
// rule always runs in the compute type (float32; float64 for float64 parameters).
enum class StateStorage : uint8_t {
  kFull,      // in the compute type: StateDType(param dtype)
  kBFloat16,  // bfloat16: widened for the rule, stored rounded to nearest even (float32 compute only)
  // bfloat16 stored with stochastic rounding: unbiased, so that increments below half the spacing (the
  // (1-beta2)*g^2 of a second moment) still move the state on average. The bits are drawn from the seed
  // (Precision::seed), step, tensor, buffer and element: reproducible, whatever the thread count.
  kBFloat16Stochastic,
  // Block-wise 8-bit (docs/algorithms.md, "int8 state"): per block of 256 elements a float32 maximum |x|
  // (functional::Tensor::state_absmax), per element the code (uint8) of the nearest value of bitsandbytes'
  // dynamic map, signed or unsigned as the buffer's values can be. Requantized after each step from the
  // step's float32 values. The optimizers keep the maxima as state "<name>_absmax" (state_layout.h).
  kInt8,
};

constexpr bool IsBFloat16(StateStorage storage) {
  return storage == StateStorage::kBFloat16 || storage == StateStorage::kBFloat16Stochastic;
}

// The dtype of a state buffer stored as `storage` for a parameter of `dtype`. float64 parameters keep
// float64 state whatever the storage asks: a group's state_dtype is for its float32, bfloat16 and float16
// parameters (the functional layer refuses bfloat16 storage asked for a float64 tensor).
constexpr DType StateDType(DType dtype, StateStorage storage) {
  if (dtype == DType::kFloat64) return DType::kFloat64;
  if (storage == StateStorage::kInt8) return DType::kUInt8;
  return IsBFloat16(storage) ? DType::kBFloat16 : StateDType(dtype);
}

// Bytes per element (0 for a value outside the enum).
constexpr size_t SizeOf(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return 4;
    case DType::kFloat64:
      return 8;
    case DType::kBFloat16:
    case DType::kFloat16:
      return 2;
    case DType::kUInt8:
      return 1;
  }
  return 0;
}

// "float32", "float64", "bfloat16", "float16": the names torch uses for these dtypes.
std::string_view DTypeName(DType dtype);

}  // namespace adamant

#endif  // ADAMANT_DTYPE_H_
