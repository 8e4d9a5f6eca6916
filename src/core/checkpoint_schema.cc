#include "core/checkpoint_schema.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <system_error>

#include "adamant/state_layout.h"

namespace adamant::checkpoint_internal {

std::string Quote(std::string_view text) {
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < 80; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (text.size() > 80) out += "...";
  return out + "'";
}

std::string_view TypeName(ElementType type) {
  switch (type) {
    case ElementType::kF64: return "F64";
    case ElementType::kF32: return "F32";
    case ElementType::kI64: return "I64";
    case ElementType::kBF16: return "BF16";
    case ElementType::kU8: return "U8";
  }
  return "?";
}

uint64_t TypeSize(ElementType type) {
  switch (type) {
    case ElementType::kF32: return 4;
    case ElementType::kBF16: return 2;
    case ElementType::kU8: return 1;
    case ElementType::kF64:
    case ElementType::kI64: return 8;
  }
  return 8;
}

ElementType TypeOf(DType state_dtype) {
  if (state_dtype == DType::kBFloat16) return ElementType::kBF16;
  if (state_dtype == DType::kUInt8) return ElementType::kU8;
  return state_dtype == DType::kFloat64 ? ElementType::kF64 : ElementType::kF32;
}

bool IsHalf(DType d) { return d == DType::kBFloat16 || d == DType::kFloat16; }
bool IsSupported(DType d) {
  return d == DType::kFloat32 || d == DType::kFloat64 || d == DType::kBFloat16 || d == DType::kFloat16;
}

std::string BufferProblem(const AlgorithmInfo& algorithm, std::string_view name, DType dtype) {
  if (name == "master_param") {
    return IsHalf(dtype) ? "" : "master_param is state of bfloat16 and float16 parameters only, not " +
                                    std::string(DTypeName(dtype));
  }
  if (std::find(algorithm.state.begin(), algorithm.state.end(), name) != algorithm.state.end()) return "";
  // The block maxima of an int8 buffer (state_layout.h); whether that buffer is int8 is checked against
  // the group's options.
  if (const std::string_view of = AbsmaxOf(name);
      !of.empty() && std::find(algorithm.state.begin(), algorithm.state.end(), of) != algorithm.state.end()) {
    return "";
  }
  std::string known;
  for (std::string_view b : algorithm.state) known += std::string(b) + ", ";
  return Quote(name) + " is not state of " + std::string(algorithm.name) + " (its state: " + known +
         "master_param" + (algorithm.counts_steps ? ", step" : "") +
         (algorithm.scalar_state.empty() ? "" : ", " + std::string(algorithm.scalar_state)) + ")";
}

std::string Decimal(uint64_t v) { return std::to_string(v); }

bool ParseDecimal(std::string_view s, uint64_t limit, uint64_t& out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && out <= limit;
}

std::string ChecksumText(uint32_t crc) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", crc);
  return std::string(kChecksumPrefix) + buf;
}

}  // namespace adamant::checkpoint_internal
