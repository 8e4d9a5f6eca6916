// A zero-initialized, 64-byte aligned array of one dtype: the storage of optimizer state. A Buffer is a
// value: copying one copies its elements into an array of the copy's own. Buffers made together by
// Contiguous() lie one after another in one allocation (an arena), which lives while any of them does.
#ifndef ADAMANT_BUFFER_H_
#define ADAMANT_BUFFER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "adamant/dtype.h"

namespace adamant {

class Buffer {
 public:
  Buffer() = default;
  Buffer(DType dtype, int64_t numel);  // zero-filled

  // Zero-filled buffers of `dtype` with the given element counts, in one allocation, each starting on the
  // next 64-byte boundary after the one before: the state buffers of one name for a group of parameters,
  // so that a step streams them as one array. Each is a Buffer like any other (replacing or erasing one
  // leaves the others as they are); the allocation is freed with the last of them.
  static std::vector<Buffer> Contiguous(DType dtype, std::span<const int64_t> numels);
  Buffer(const Buffer& other);
  Buffer& operator=(const Buffer& other);
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;

  DType dtype() const { return dtype_; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * SizeOf(dtype_); }
  void* data() { return data_; }
  const void* data() const { return data_; }

  // Typed views; throw std::invalid_argument if T does not match dtype().
  template <typename T> std::span<T> as();
  template <typename T> std::span<const T> as() const;

  // Sets every element to `value` (rounded to dtype()).
  void Fill(double value);

  // How many times any existing Buffer's storage (its array, size or dtype) has changed in this process:
  // every move (from and to) and assignment counts, writing elements does not. An optimizer that noted
  // where its state's arrays are trusts the note without reading the Buffers while this is unchanged.
  static uint64_t changes();

 private:
  static void Changed();

  // Checks an element count and returns its byte count rounded up to the alignment.
  static size_t AlignedBytes(DType dtype, int64_t numel);
  // `bytes` (a multiple of the alignment) of zeros; empty for 0.
  static std::shared_ptr<void> ZeroedBlock(size_t bytes);

  DType dtype_ = DType::kFloat32;
  int64_t numel_ = 0;
  std::shared_ptr<void> block_;  // the allocation data_ lies in (its own, or an arena's)
  void* data_ = nullptr;
};

}  // namespace adamant

#endif  // ADAMANT_BUFFER_H_
