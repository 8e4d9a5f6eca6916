// Threads: a step's elements, all tensors concatenated, split evenly between threads.
#ifndef ADAMANT_CORE_PARALLEL_H_
#define ADAMANT_CORE_PARALLEL_H_

#include <cstdint>
#include <functional>
#include <span>

#include "kernels/kernels.h"

namespace adamant::core {

// Calls fn(modes, slot, begin, end) on pieces that together cover every element of every slot exactly
// once. Each thread gets an equal share of the concatenated elements, whatever the tensor sizes (one huge
// tensor or thousands of small ones); boundaries inside a tensor fall on 64-byte multiples so that no two
// threads write the same cache line. The result does not depend on the split: every element's update
// depends only on that element.
void ForEachPiece(kernels::KernelFn fn, const void* modes, std::span<const kernels::Slot> slots);

// The index of the first slot (in order) for which fn(slot, begin, end) is false on some piece, or -1.
// The same split as ForEachPiece; each thread reads its share backwards, in blocks, so that the share's
// first elements are still in cache when a step over the same elements follows. The lowest failing
// index over the threads is the first failing slot, whatever the thread count.
int64_t FirstFailingSlot(kernels::FiniteFn fn, std::span<const kernels::Slot> slots);

// body(i) for every i in [0, count), split into contiguous runs over the threads; `elements` (the work
// the calls do in all) decides how many threads are worth starting. The caller makes the result
// independent of the split (each body writes only its own output).
void ParallelFor(int64_t count, int64_t elements, const std::function<void(int64_t)>& body);

}  // namespace adamant::core

#endif  // ADAMANT_CORE_PARALLEL_H_
