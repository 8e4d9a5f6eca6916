// The probe: the best case for an optimizer's memory traffic. One step reads and writes exactly the arrays
// the optimizer does (the parameter read and written, the gradient read, each fp32 state array read and
// written; same dtypes, same tensors) with trivial arithmetic, vectorized and split over threads as
// Partition says. An optimizer at 1.0x of its probe runs at the speed of its memory traffic.
#ifndef ADAMANT_BENCH_PROBE_H_
#define ADAMANT_BENCH_PROBE_H_

#include <array>
#include <cstdint>
#include <vector>

#include "partition.h"

namespace adamant_bench {

struct ProbeTensor {
  void* param = nullptr;  // float or uint16_t (bf16 bits)
  const void* grad = nullptr;
  std::array<void*, 3> state = {};  // float, uint16_t (bf16 bits) or uint8_t; the first `states` are used
  int64_t numel = 0;
};

// One step over every tensor with `threads` OpenMP threads (static: part k to thread k).
// bf16: parameter and gradient are bf16 bits. states: 0 to 3. prefetch: as the library's loop does in
// the copies that prefetch (src/kernels/prefetch.h).
// bf16: parameter and gradient are bf16; state_bytes: 4 (fp32 state), 2 (bf16) or 1 (int8 codes; their
// block maxima are not moved), the last two with fp32 parameters only.
void ProbeStep(bool bf16, int states, int state_bytes, const std::vector<ProbeTensor>& tensors,
               const Partition& partition, int threads, bool prefetch);

}  // namespace adamant_bench

#endif  // ADAMANT_BENCH_PROBE_H_
