#include "core/parallel.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <limits>
#include <vector>

#include "adamant/threads.h"
#include "core/scratch.h"
#include "kernels/kernels.h"

namespace adamant {
namespace {

std::atomic<int> g_num_threads{0};  // 0: OpenMP's default

}  // namespace

void SetNumThreads(int n) { g_num_threads.store(n < 0 ? 0 : n); }

int GetNumThreads() {
  const int n = g_num_threads.load();
  return n > 0 ? n : omp_get_max_threads();
}

namespace core {
namespace {

// Below this many elements per thread, starting threads costs more than it saves.
constexpr int64_t kMinElementsPerThread = 1 << 15;
// Below this many tensors per thread, the per-tensor work of a step stays on the calling thread.
constexpr size_t kMinItemsPerThread = 256;
// The non-finite check reads a share backwards in blocks of this many elements.
constexpr int64_t kCheckBlock = 1 << 18;
// Piece boundaries inside a tensor: a multiple of the state block (256 elements), so that each block of
// int8 state is requantized whole by one thread (kernels::Slot::state_absmax).
constexpr int64_t kAlignElements = kernels::kStateBlock;

// The position of global element `index` (prefix[k] <= index < prefix[k+1]), moved up to an aligned
// offset within its tensor.
Cursor Locate(const std::vector<int64_t>& prefix, int64_t index) {
  const size_t count = prefix.size() - 1;
  const size_t k = static_cast<size_t>(std::upper_bound(prefix.begin(), prefix.end(), index) - prefix.begin()) - 1;
  if (k >= count) return {count, 0};
  const int64_t offset = index - prefix[k];
  const int64_t numel = prefix[k + 1] - prefix[k];
  const int64_t aligned = std::min((offset + kAlignElements - 1) / kAlignElements * kAlignElements, numel);
  return {k, aligned};
}

// The number of threads worth starting for `total` elements.
int ThreadsFor(int64_t total) {
  const int64_t useful = std::max<int64_t>(1, total / kMinElementsPerThread);
  return static_cast<int>(std::min<int64_t>(GetNumThreads(), useful));
}

}  // namespace

std::vector<int64_t>& PrefixScratch() {
  struct PrefixTag;
  return Scratch<int64_t, PrefixTag>();
}

void SplitElements(const std::vector<int64_t>& prefix, const std::function<void(int, Cursor, Cursor)>& range) {
  const size_t count = prefix.size() - 1;
  const int64_t total = prefix.back();
  const int threads = ThreadsFor(total);
  const Cursor end{count, 0};
  if (threads <= 1) {
    range(0, Cursor{0, 0}, end);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int n = omp_get_num_threads();
    const Cursor from = t == 0 ? Cursor{0, 0} : Locate(prefix, total * t / n);
    const Cursor to = t == n - 1 ? end : Locate(prefix, total * (t + 1) / n);
    range(t, from, to);
  }
}

namespace {

// Requests the whole gradient of a small tensor ahead of its check. A check reads one array per tensor,
// and a small tensor's array is a page or two the hardware prefetcher meets cold; requested while the
// tensor before it is checked, it arrives in time (the check over 10,000 tensors of 1,000 elements
// otherwise ran at half the speed of one over a single tensor).
void PrefetchGrad(const kernels::Slot& slot) {
  constexpr int64_t kMaxBytes = 16 << 10;
  const int64_t size = slot.storage == kernels::Storage::kFloat64   ? 8
                       : slot.storage == kernels::Storage::kFloat32 ? 4
                                                                    : 2;
  const int64_t bytes = slot.numel * size;
  if (bytes > kMaxBytes) return;
  const char* g = static_cast<const char*>(slot.grad);
  for (int64_t at = 0; at < bytes; at += 64) __builtin_prefetch(g + at);
}

}  // namespace

int64_t FirstFailingSlot(kernels::FiniteFn fn, std::span<const kernels::Slot> slots) {
  if (slots.empty()) return -1;
  constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  std::atomic<int64_t> first{kNone};
  SplitElements(PrefixOf(slots), [&](int, Cursor from, Cursor to) {
    // Backwards, in blocks: the share's first elements are the last read, so they are still in cache
    // when the step that follows starts on them.
    const size_t last = std::min(to.slot, slots.size() - 1);
    int64_t found = kNone;
    for (size_t k = last + 1; k-- > from.slot;) {
      const int64_t begin = k == from.slot ? from.offset : 0;
      const int64_t end = k == to.slot ? to.offset : slots[k].numel;
      if (k > from.slot) PrefetchGrad(slots[k - 1]);
      for (int64_t b = end; b > begin;) {
        const int64_t a = std::max(begin, b - kCheckBlock);
        if (!fn(slots[k], a, b)) {
          found = static_cast<int64_t>(k);  // the lowest failing slot so far; keep going down for lower ones
          break;
        }
        b = a;
      }
    }
    if (found == kNone) return;
    int64_t seen = first.load();
    while (found < seen && !first.compare_exchange_weak(seen, found)) {
    }
  });
  const int64_t k = first.load();
  return k == kNone ? -1 : k;
}

int RunsFor(size_t count) {
  return static_cast<int>(std::clamp<size_t>(count / kMinItemsPerThread, 1, static_cast<size_t>(GetNumThreads())));
}

void ParallelRuns(size_t count, const std::function<void(size_t, size_t, int)>& body) {
  const int runs = RunsFor(count);
  if (runs <= 1) {
    if (count > 0) body(0, count, 0);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(runs));
#pragma omp parallel for schedule(static, 1) num_threads(runs)
  for (int r = 0; r < runs; ++r) {
    try {
      body(count * static_cast<size_t>(r) / static_cast<size_t>(runs),
           count * static_cast<size_t>(r + 1) / static_cast<size_t>(runs), r);
    } catch (...) {
      errors[static_cast<size_t>(r)] = std::current_exception();  // no exception may leave a parallel region
    }
  }
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

void ParallelFor(int64_t count, int64_t elements, const std::function<void(int64_t)>& body) {
  const int threads = static_cast<int>(std::min<int64_t>(ThreadsFor(elements), count));
  if (threads <= 1) {
    for (int64_t i = 0; i < count; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < count; ++i) body(i);
}

}  // namespace core
}  // namespace adamant
