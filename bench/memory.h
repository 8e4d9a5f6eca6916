// Tensors for the benchmarks: adamant::Buffers, so that parameters, gradients and the probe's arrays are
// allocated exactly as adamant allocates its state (64-byte aligned; from 2 MiB on transparent huge pages
// where the kernel allows) and the probe stays a like-for-like reference. Filled with bounded values so
// that no step meets NaN, infinity or subnormals.
#ifndef ADAMANT_BENCH_MEMORY_H_
#define ADAMANT_BENCH_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "adamant/buffer.h"
#include "shapes.h"

namespace adamant_bench {

// bf16 as PyTorch rounds it (nearest even; finite inputs only here).
uint16_t FloatToBf16(float x);

// How far running f() raises the process's resident memory above what it held just before, in MiB (the
// peak of Linux's VmHWM, reset through /proc/self/clear_refs); NaN where Linux cannot tell.
double StepPeakMiB(const std::function<void()>& f);

// One buffer per tensor of a shape, elements of `element_bytes` (4: float, 2: bf16, 1: int8 codes), filled with a
// deterministic pattern in [lo, hi] with |x| >= 1/16 (no values near zero): every page is touched once
// here, so page faults stay out of the timings.
class TensorList {
 public:
  TensorList(const Shape& shape, int element_bytes, uint64_t seed, float lo = -1.0f, float hi = 1.0f);
  size_t size() const { return buffers_.size(); }
  void* operator[](size_t i) { return buffers_[i].data(); }

 private:
  std::vector<adamant::Buffer> buffers_;
};

}  // namespace adamant_bench

#endif  // ADAMANT_BENCH_MEMORY_H_
