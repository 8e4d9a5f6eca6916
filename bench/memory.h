// Tensors for the benchmarks: 64-byte aligned arrays (from 2 MiB: 2 MiB aligned, on transparent huge
// pages where the kernel allows, as adamant's state), filled with bounded values so that no step meets
// NaN, infinity or subnormals.
#ifndef ADAMANT_BENCH_MEMORY_H_
#define ADAMANT_BENCH_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "shapes.h"

namespace adamant_bench {

// bf16 as PyTorch rounds it (nearest even; finite inputs only here).
uint16_t FloatToBf16(float x);

// An owned, aligned block (every page touched once, so page faults stay out of the timings).
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t bytes);
  void* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> data_;
};

// One buffer per tensor of a shape, elements of `element_bytes` (4: float, 2: bf16), filled with a
// deterministic pattern in [lo, hi] with |x| >= 1/16 (no values near zero).
class TensorList {
 public:
  TensorList(const Shape& shape, int element_bytes, uint64_t seed, float lo = -1.0f, float hi = 1.0f);
  size_t size() const { return buffers_.size(); }
  void* operator[](size_t i) const { return buffers_[i].data(); }

 private:
  std::vector<AlignedBuffer> buffers_;
};

}  // namespace adamant_bench

#endif  // ADAMANT_BENCH_MEMORY_H_
