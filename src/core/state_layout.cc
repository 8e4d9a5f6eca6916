#include "adamant/state_layout.h"

#include <algorithm>
#include <cstring>

#include "kernels/code_maps.h"

namespace adamant {

std::string AbsmaxName(std::string_view buffer) { return std::string(buffer) + std::string(kAbsmaxSuffix); }

std::string_view AbsmaxOf(std::string_view name) {
  if (name.size() <= kAbsmaxSuffix.size() || !name.ends_with(kAbsmaxSuffix)) return {};
  return name.substr(0, name.size() - kAbsmaxSuffix.size());
}

StateStorage ResolveStorage(StateStorage asked, DType param, int64_t param_numel, int64_t min_quant_size) {
  if (asked == StateStorage::kInt8 && (param_numel < std::max<int64_t>(min_quant_size, 1) || param == DType::kFloat64)) {
    return StateStorage::kFull;
  }
  return asked;
}

StateStorage StorageFor(const StateDTypes& dtypes, int64_t min_quant_size, std::string_view name, DType param,
                        int64_t param_numel) {
  if (name == "master_param") return StateStorage::kFull;
  return ResolveStorage(dtypes.Of(name), param, param_numel, min_quant_size);
}

std::string UnpairedInt8(const ParamState& state, const std::string& name) {
  const auto it = state.buffers.find(name);
  if (it != state.buffers.end() && it->second.dtype() == DType::kUInt8 && !state.has(AbsmaxName(name))) {
    return "state '" + name + "' is int8 but its block maxima '" + AbsmaxName(name) + "' are missing";
  }
  if (const std::string_view of = AbsmaxOf(name); !of.empty() && !state.has(of)) {
    return "state '" + name + "' holds the block maxima of int8 state '" + std::string(of) + "', which is missing";
  }
  return "";
}

std::optional<BufferLayout> ExpectedBuffer(std::string_view name, const StateDTypes& dtypes, int64_t min_quant_size,
                                           DType param, int64_t param_numel, int64_t numel) {
  if (const std::string_view of = AbsmaxOf(name); !of.empty()) {
    if (StateDType(param, StorageFor(dtypes, min_quant_size, of, param, param_numel)) != DType::kUInt8) {
      return std::nullopt;
    }
    return BufferLayout{DType::kFloat32, AbsmaxNumel(numel)};
  }
  return BufferLayout{StateDType(param, StorageFor(dtypes, min_quant_size, name, param, param_numel)), numel};
}

void QuantizeBlockwise(const float* values, int64_t numel, bool is_signed, uint8_t* codes, float* absmax) {
  const kernels::CodeTable& table = is_signed ? kernels::SignedCodeTable() : kernels::UnsignedCodeTable();
  for (int64_t b = 0; b * kStateBlockSize < numel; ++b) {
    const float* x = values + b * kStateBlockSize;
    uint8_t* out = codes + b * kStateBlockSize;
    const int64_t n = std::min(kStateBlockSize, numel - b * kStateBlockSize);
    const float m = kernels::BlockAbsMax(x, n);  // as the kernels' Quantize (kernels/loop.h)
    absmax[b] = m;
    if (!kernels::Quantizable(m)) {
      std::memset(out, table.zero_code, static_cast<size_t>(n));
      continue;
    }
    for (int64_t i = 0; i < n; ++i) out[i] = kernels::NearestCode(table, x[i] / m);
  }
}

void DequantizeBlockwise(const uint8_t* codes, const float* absmax, int64_t numel, bool is_signed, float* out) {
  const float* map = is_signed ? kernels::kSignedCodeMap : kernels::kUnsignedCodeMap;
  for (int64_t i = 0; i < numel; ++i) out[i] = map[codes[i]] * absmax[i / kStateBlockSize];
}

}  // namespace adamant
