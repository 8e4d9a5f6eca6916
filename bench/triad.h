// A STREAM-style triad, a = b + s*c over fp32 arrays (12 bytes per element by STREAM's count, which
// leaves out the write-allocate read of a), split over threads as the probe is.
#ifndef ADAMANT_BENCH_TRIAD_H_
#define ADAMANT_BENCH_TRIAD_H_

#include <cstdint>

#include "partition.h"

namespace adamant_bench {

// `partition` is over one tensor of n elements, with `threads` parts.
void TriadStep(float* a, const float* b, const float* c, float s, const Partition& partition, int threads);

}  // namespace adamant_bench

#endif  // ADAMANT_BENCH_TRIAD_H_
