// One function per implementation: each allocates its case's tensors, times its steps and frees
// everything before returning the row.
#ifndef ADAMANT_BENCH_RUNNERS_H_
#define ADAMANT_BENCH_RUNNERS_H_

#include "catalog.h"
#include "results.h"
#include "shapes.h"
#include "timing.h"

namespace adamant_bench {

// The same-pattern probe for a layout (probe.h) and the STREAM triad over shape.total() elements
// (triad.h): stream_runner.cc.
Row RunProbe(const Layout& layout, const Shape& shape, int threads, const RepPolicy& policy);
Row RunTriad(const Shape& shape, int threads, const RepPolicy& policy);

// adamant's stateful optimizer built by name through the public API, its steps alternating with those of
// the probe of its layout (row.paired_probe): adamant_runner.cc. A dtype or option the library rejects
// (std::invalid_argument) gives a row without timings and the message as its note.
Row RunAdamant(const Variant& variant, const Shape& shape, int threads, const RepPolicy& policy);

// libtorch's torch::optim class (variant.in_libtorch), fp32 only: libtorch_runner.cc.
Row RunLibtorch(const Variant& variant, const Shape& shape, int threads, const RepPolicy& policy);

}  // namespace adamant_bench

#endif  // ADAMANT_BENCH_RUNNERS_H_
