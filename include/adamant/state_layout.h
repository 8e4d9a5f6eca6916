// What each state buffer of a parameter is (dtype and element count) under a param group's state_dtype
// and min_quant_size options, and int8 state's block-wise conversion to and from float32 for state set
// other than by a step (an initial value, a full-precision state loaded, a state dict for torch.optim).
#ifndef ADAMANT_STATE_LAYOUT_H_
#define ADAMANT_STATE_LAYOUT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adamant/dtype.h"
#include "adamant/option_types.h"
#include "adamant/state.h"

namespace adamant {

// int8 state keeps one float32 maximum |x| per block of kStateBlockSize elements of the tensor, from its
// first element, under the buffer's name with kAbsmaxSuffix ("exp_avg_absmax").
inline constexpr int64_t kStateBlockSize = 256;
inline constexpr std::string_view kAbsmaxSuffix = "_absmax";
constexpr int64_t AbsmaxNumel(int64_t numel) { return (numel + kStateBlockSize - 1) / kStateBlockSize; }
std::string AbsmaxName(std::string_view buffer);
// "exp_avg" for "exp_avg_absmax"; empty for a name without the suffix.
std::string_view AbsmaxOf(std::string_view name);

// How a buffer that the options ask to store as `asked` is stored for a parameter of `param` dtype and
// `param_numel` elements: as asked, except int8 for a parameter of fewer than `min_quant_size` elements (or
// of none), which keeps float32 (tiny tensors gain little), or for a float64 one: kFull then.
StateStorage ResolveStorage(StateStorage asked, DType param, int64_t param_numel, int64_t min_quant_size);

// Empty if state buffer `name` of `state` has its int8 partner where it needs one (codes their block
// maxima, block maxima their codes); else what is missing, for a message.
std::string UnpairedInt8(const ParamState& state, const std::string& name);

// How buffer `name` of a parameter of `param` dtype and `param_numel` elements is stored: dtypes.Of(name),
// except int8 for a parameter of fewer than `min_quant_size` elements (or of none), which keeps float32
// (tiny tensors gain little), or for a float64 one (which keeps float64 state), and anything for master_param, which is
// float32: kFull in those cases.
StateStorage StorageFor(const StateDTypes& dtypes, int64_t min_quant_size, std::string_view name, DType param,
                        int64_t param_numel);

struct BufferLayout {
  DType dtype = DType::kFloat32;
  int64_t numel = 0;
  bool operator==(const BufferLayout&) const = default;
};
// What state buffer `name` must be for a parameter of `param` dtype and `param_numel` elements whose
// state covers `numel` of them (fewer where an optimizer's range holds part of it): the dtype
// StateDType(param, StorageFor(...)) and `numel` elements, or for "<buffer>_absmax" float32 and
// AbsmaxNumel(numel) elements; nullopt for the block maxima of a buffer not stored as int8.
std::optional<BufferLayout> ExpectedBuffer(std::string_view name, const StateDTypes& dtypes, int64_t min_quant_size,
                                           DType param, int64_t param_numel, int64_t numel);

// int8 state's block-wise quantization (docs/algorithms.md, "int8 state"), bit for bit as a step stores
// its state: per block of 256 of `numel` values, absmax = max |x| (NaN if any is NaN), the zero code where
// that is 0 or not finite, else the nearest code of x / absmax in the signed or unsigned map. `values`
// of a non-negative buffer (StateValues::kNonNegative) go to the unsigned map, others to the signed one.
void QuantizeBlockwise(const float* values, int64_t numel, bool is_signed, uint8_t* codes, float* absmax);
// map[code] * absmax, element by element.
void DequantizeBlockwise(const uint8_t* codes, const float* absmax, int64_t numel, bool is_signed, float* out);

}  // namespace adamant

#endif  // ADAMANT_STATE_LAYOUT_H_
