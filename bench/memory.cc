#include "memory.h"

#include <bit>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

namespace adamant_bench {
namespace {

// A value in [lo, hi] from a hash of (seed, i), kept away from zero.
float Pattern(uint64_t seed, int64_t i, float lo, float hi) {
  uint64_t h = (seed + static_cast<uint64_t>(i)) * 0x9E3779B97F4A7C15ull;
  h ^= h >> 29;
  const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);  // [0, 1)
  float x = lo + (hi - lo) * u;
  if (x > -0.0625f && x < 0.0625f) x = x < 0 ? -0.0625f : 0.0625f;
  return x;
}

}  // namespace

namespace {

// A "VmRSS:" or "VmHWM:" line of /proc/self/status, in KiB; -1 if absent.
int64_t StatusKiB(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(status, line)) {
    if (line.compare(0, n, key) == 0) return std::strtoll(line.c_str() + n, nullptr, 10);
  }
  return -1;
}

}  // namespace

double StepPeakMiB(const std::function<void()>& f) {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";  // resets VmHWM to VmRSS
  clear.close();
  const int64_t before = StatusKiB("VmRSS:");
  const bool reset = clear.good() && StatusKiB("VmHWM:") == before;
  f();
  const int64_t peak = StatusKiB("VmHWM:");
  if (!reset || before < 0 || peak < 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(peak - before) / 1024.0;
}

uint16_t FloatToBf16(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

TensorList::TensorList(const Shape& shape, int element_bytes, uint64_t seed, float lo, float hi) {
  buffers_.reserve(static_cast<size_t>(shape.tensors));
  for (int64_t t = 0; t < shape.tensors; ++t) {
    buffers_.emplace_back(element_bytes == 1   ? adamant::DType::kUInt8
                          : element_bytes == 2 ? adamant::DType::kBFloat16
                                               : adamant::DType::kFloat32,
                          shape.numel);
    const uint64_t s = seed + static_cast<uint64_t>(t) * static_cast<uint64_t>(shape.numel);
    if (element_bytes == 1) {
      auto* x = static_cast<uint8_t*>(buffers_.back().data());
      for (int64_t i = 0; i < shape.numel; ++i) x[i] = static_cast<uint8_t>(static_cast<int32_t>(Pattern(s, i, lo, hi) * 16.0f) & 0xFF);
    } else if (element_bytes == 2) {
      auto* x = static_cast<uint16_t*>(buffers_.back().data());
      for (int64_t i = 0; i < shape.numel; ++i) x[i] = FloatToBf16(Pattern(s, i, lo, hi));
    } else {
      auto* x = static_cast<float*>(buffers_.back().data());
      for (int64_t i = 0; i < shape.numel; ++i) x[i] = Pattern(s, i, lo, hi);
    }
  }
}

}  // namespace adamant_bench
