// An owned, zero-initialized, 64-byte aligned array of one dtype: the storage of optimizer state.
#ifndef ADAMANT_BUFFER_H_
#define ADAMANT_BUFFER_H_

#include <cstdint>
#include <memory>
#include <span>

#include "adamant/dtype.h"

namespace adamant {

class Buffer {
 public:
  Buffer() = default;
  Buffer(DType dtype, int64_t numel);  // zero-filled
  Buffer(const Buffer& other);
  Buffer& operator=(const Buffer& other);
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;

  DType dtype() const { return dtype_; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * SizeOf(dtype_); }
  void* data() { return data_.get(); }
  const void* data() const { return data_.get(); }

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

  struct Free {
    void operator()(void* p) const;
  };
  DType dtype_ = DType::kFloat32;
  int64_t numel_ = 0;
  std::unique_ptr<void, Free> data_;
};

}  // namespace adamant

#endif  // ADAMANT_BUFFER_H_
