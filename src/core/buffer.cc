#include "adamant/buffer.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "kernels/storage.h"

namespace adamant {
namespace {

constexpr size_t kAlignment = 64;  // a cache line, and the widest SIMD register
// Arrays from this size up start on a huge-page boundary and are advised to use transparent huge pages.
// Why: a step streams every state array once, and with 4 KiB pages the page walks cost a measurable part
// of a large step (docs/performance.md, "Measurements behind the code"). Linux honours the advice in its default "madvise" mode;
// where it does not (THP off, another kernel), the array is simply on small pages.
constexpr size_t kHugePage = size_t{2} << 20;

// `bytes` (> 0, a multiple of kAlignment) of uninitialized memory for std::free, or nullptr.
void* Allocate(size_t bytes) {
  if (bytes < kHugePage) return std::aligned_alloc(kAlignment, bytes);
  void* p = nullptr;
  if (posix_memalign(&p, kHugePage, bytes) != 0) return nullptr;
  madvise(p, bytes, MADV_HUGEPAGE);  // advice: its failure changes nothing but the page size
  return p;
}

std::atomic<uint64_t> g_changes{0};

template <typename T>
constexpr DType DTypeOf();
template <>
constexpr DType DTypeOf<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType DTypeOf<double>() {
  return DType::kFloat64;
}

}  // namespace

size_t Buffer::AlignedBytes(DType dtype, int64_t numel) {
  if (numel < 0) throw std::invalid_argument("Buffer: negative element count " + std::to_string(numel));
  if (SizeOf(dtype) == 0) throw std::invalid_argument("Buffer: unsupported dtype");
  // The byte count, rounded up to the alignment, must not wrap around.
  if (static_cast<uint64_t>(numel) > (std::numeric_limits<size_t>::max() - kAlignment) / SizeOf(dtype)) {
    throw std::invalid_argument("Buffer: element count " + std::to_string(numel) + " is too large");
  }
  const size_t bytes = static_cast<size_t>(numel) * SizeOf(dtype);
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

std::shared_ptr<void> Buffer::ZeroedBlock(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = Allocate(bytes);  // advised before the first touch, which is when pages are chosen
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

Buffer::Buffer(DType dtype, int64_t numel) : dtype_(dtype), numel_(numel) {
  block_ = ZeroedBlock(AlignedBytes(dtype, numel));
  data_ = block_.get();
}

std::vector<Buffer> Buffer::Contiguous(DType dtype, std::span<const int64_t> numels) {
  size_t total = 0;
  for (int64_t n : numels) {
    const size_t bytes = AlignedBytes(dtype, n);
    if (bytes > std::numeric_limits<size_t>::max() - total) throw std::bad_alloc();
    total += bytes;
  }
  const std::shared_ptr<void> block = ZeroedBlock(total);
  std::vector<Buffer> out(numels.size());
  size_t at = 0;
  for (size_t k = 0; k < numels.size(); ++k) {
    Buffer& b = out[k];
    b.dtype_ = dtype;
    b.numel_ = numels[k];
    if (b.nbytes() != 0) {
      b.block_ = block;
      b.data_ = static_cast<char*>(block.get()) + at;
    }
    at += AlignedBytes(dtype, numels[k]);
  }
  return out;
}

Buffer::Buffer(const Buffer& other) : Buffer(other.dtype_, other.numel_) {
  if (other.nbytes() != 0) std::memcpy(data(), other.data(), other.nbytes());
}

Buffer& Buffer::operator=(const Buffer& other) {
  if (this != &other) *this = Buffer(other);
  return *this;
}

Buffer::Buffer(Buffer&& other) noexcept
    : dtype_(other.dtype_), numel_(other.numel_), block_(std::move(other.block_)), data_(other.data_) {
  other.data_ = nullptr;
  Changed();  // `other` lost its array
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this == &other) return *this;
  dtype_ = other.dtype_;
  numel_ = other.numel_;
  block_ = std::move(other.block_);
  data_ = other.data_;
  other.data_ = nullptr;
  Changed();
  return *this;
}

uint64_t Buffer::changes() { return g_changes.load(std::memory_order_relaxed); }

void Buffer::Changed() { g_changes.fetch_add(1, std::memory_order_relaxed); }

template <typename T>
std::span<T> Buffer::as() {
  if (dtype_ != DTypeOf<T>()) {
    throw std::invalid_argument("Buffer holds " + std::string(DTypeName(dtype_)) + ", not " +
                                std::string(DTypeName(DTypeOf<T>())));
  }
  return {static_cast<T*>(data()), static_cast<size_t>(numel_)};
}

template <typename T>
std::span<const T> Buffer::as() const {
  return const_cast<Buffer*>(this)->as<T>();
}

template std::span<float> Buffer::as<float>();
template std::span<double> Buffer::as<double>();
template std::span<const float> Buffer::as<float>() const;
template std::span<const double> Buffer::as<double>() const;

void Buffer::Fill(double value) {
  switch (dtype_) {
    case DType::kFloat32:
      for (float& x : as<float>()) x = static_cast<float>(value);
      break;
    case DType::kFloat64:
      for (double& x : as<double>()) x = value;
      break;
    case DType::kBFloat16:
    case DType::kFloat16: {
      // Through float32, as torch converts a Python float.
      const float f = static_cast<float>(value);
      const uint16_t bits = dtype_ == DType::kBFloat16 ? kernels::FloatToBFloat16(f) : kernels::FloatToFloat16(f);
      auto* data = static_cast<uint16_t*>(data_);
      for (int64_t i = 0; i < numel_; ++i) data[i] = bits;
      break;
    }
    case DType::kUInt8:
      throw std::invalid_argument("Buffer::Fill: a uint8 buffer holds int8 state's codes, not values");
  }
}

}  // namespace adamant
