// Threads: a step's elements, all tensors concatenated, split evenly between threads.
#ifndef ADAMANT_CORE_PARALLEL_H_
#define ADAMANT_CORE_PARALLEL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "kernels/kernels.h"

namespace adamant::core {

std::vector<int64_t>& PrefixScratch();

// A position in the concatenated elements of a list of tensors: element `offset` of tensor `slot`.
struct Cursor {
  size_t slot;
  int64_t offset;
};

// Splits the concatenated elements of tensors whose element counts have the prefix sums `prefix`
// (prefix[0] = 0, prefix[k + 1] = prefix[k] + numel of tensor k) between the threads worth starting, and
// calls range(thread, from, to) once per thread (on the calling thread when one is enough); the ranges
// cover every element once, in order. Boundaries inside a tensor fall on 64-byte multiples (of fp32
// state) so that no two threads write the same cache line.
void SplitElements(const std::vector<int64_t>& prefix, const std::function<void(int, Cursor, Cursor)>& range);

// The prefix sums of the slots' element counts, in a buffer the calling thread reuses.
template <class Slot>
const std::vector<int64_t>& PrefixOf(std::span<const Slot> slots) {
  std::vector<int64_t>& prefix = PrefixScratch();
  prefix.assign(slots.size() + 1, 0);
  for (size_t k = 0; k < slots.size(); ++k) prefix[k + 1] = prefix[k] + slots[k].numel;
  return prefix;
}

// Calls piece(slot, begin, end) on pieces that together cover every element of every slot exactly once.
// Each thread gets an equal share of the concatenated elements, whatever the tensor sizes (one huge
// tensor or thousands of small ones). The result does not depend on the split: every element's update
// depends only on that element.
template <class Slot, class Piece>
void ForEachPiece(std::span<const Slot> slots, Piece&& piece) {
  SplitElements(PrefixOf(slots), [&](int, Cursor from, Cursor to) {
    for (size_t k = from.slot; k < slots.size() && k <= to.slot; ++k) {
      const int64_t begin = k == from.slot ? from.offset : 0;
      const int64_t end = k == to.slot ? to.offset : slots[k].numel;
      if (begin < end) piece(slots[k], begin, end);
    }
  });
}

// The index of the first slot (in order) for which fn(slot, begin, end) is false on some piece, or -1.
// The same split as ForEachPiece; each thread reads its share backwards, in blocks, so that the share's
// first elements are still in cache when a step over the same elements follows. The lowest failing
// index over the threads is the first failing slot, whatever the thread count.
int64_t FirstFailingSlot(kernels::FiniteFn fn, std::span<const kernels::Slot> slots);

// The number of runs ParallelRuns cuts `count` items into: 1 unless there are enough items for each of
// the threads (threads.h) to be worth starting.
int RunsFor(size_t count);

// body(begin, end, run) on the runs 0 .. RunsFor(count) - 1, contiguous ranges that cover [0, count) in
// order, each run on a thread of its own. For the per-tensor work of a step over thousands of tensors
// (checks, finding state, describing slots), which is bound by the latency of reading their descriptions.
// If bodies throw, the exception of the lowest run is rethrown once every run has ended: with bodies that
// go through their range in order, that is the exception a single loop over [0, count) would have thrown.
void ParallelRuns(size_t count, const std::function<void(size_t begin, size_t end, int run)>& body);

// body(i) for every i in [0, count), split into contiguous runs over the threads; `elements` (the work
// the calls do in all) decides how many threads are worth starting. The caller makes the result
// independent of the split (each body writes only its own output).
void ParallelFor(int64_t count, int64_t elements, const std::function<void(int64_t)>& body);

}  // namespace adamant::core

#endif  // ADAMANT_CORE_PARALLEL_H_
