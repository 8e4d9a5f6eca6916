// The arrays of one probe case (probe.h): a layout's tensors for a shape, split between threads.
#ifndef ADAMANT_BENCH_PROBE_DATA_H_
#define ADAMANT_BENCH_PROBE_DATA_H_

#include <vector>

#include "catalog.h"
#include "memory.h"
#include "partition.h"
#include "probe.h"
#include "shapes.h"

namespace adamant_bench {

// Cuts between threads fall on multiples of 64 elements: whole cache lines for fp32 and bf16 alike.
inline constexpr int64_t kAlignElements = 64;

class ProbeData {
 public:
  ProbeData(const Layout& layout, const Shape& shape, int threads);
  ProbeData(const ProbeData&) = delete;
  ProbeData& operator=(const ProbeData&) = delete;

  // One probe step over every tensor.
  void Step();

 private:
  Layout layout_;
  int threads_;
  TensorList params_, grads_;
  std::vector<TensorList> states_;
  std::vector<ProbeTensor> tensors_;
  Partition partition_;
};

}  // namespace adamant_bench

#endif  // ADAMANT_BENCH_PROBE_DATA_H_
