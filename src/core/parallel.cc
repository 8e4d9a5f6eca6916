#include "core/parallel.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "adamant/threads.h"

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
// Piece boundaries inside a tensor: a multiple of 16 elements (64 bytes of fp32 state).
constexpr int64_t kAlignElements = 16;

struct Cursor {
  size_t slot;
  int64_t offset;
};

// The position of global element `index` (prefix[k] <= index < prefix[k+1]), moved up to an aligned
// offset within its tensor.
Cursor Locate(const std::vector<int64_t>& prefix, std::span<const kernels::Slot> slots, int64_t index) {
  const size_t k = static_cast<size_t>(std::upper_bound(prefix.begin(), prefix.end(), index) - prefix.begin()) - 1;
  if (k >= slots.size()) return {slots.size(), 0};
  const int64_t offset = index - prefix[k];
  const int64_t aligned = std::min((offset + kAlignElements - 1) / kAlignElements * kAlignElements, slots[k].numel);
  return {k, aligned};
}

void RunRange(kernels::KernelFn fn, const void* modes, std::span<const kernels::Slot> slots, Cursor from, Cursor to) {
  for (size_t k = from.slot; k < slots.size() && k <= to.slot; ++k) {
    const int64_t begin = k == from.slot ? from.offset : 0;
    const int64_t end = k == to.slot ? to.offset : slots[k].numel;
    if (begin < end) fn(modes, slots[k], begin, end);
  }
}

}  // namespace

void ForEachPiece(kernels::KernelFn fn, const void* modes, std::span<const kernels::Slot> slots) {
  std::vector<int64_t> prefix(slots.size() + 1, 0);
  for (size_t k = 0; k < slots.size(); ++k) prefix[k + 1] = prefix[k] + slots[k].numel;
  const int64_t total = prefix.back();
  const int64_t useful = std::max<int64_t>(1, total / kMinElementsPerThread);
  const int threads = static_cast<int>(std::min<int64_t>(GetNumThreads(), useful));
  const Cursor end{slots.size(), 0};
  if (threads <= 1) {
    RunRange(fn, modes, slots, {0, 0}, end);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int n = omp_get_num_threads();
    const Cursor from = t == 0 ? Cursor{0, 0} : Locate(prefix, slots, total * t / n);
    const Cursor to = t == n - 1 ? end : Locate(prefix, slots, total * (t + 1) / n);
    RunRange(fn, modes, slots, from, to);
  }
}

}  // namespace core
}  // namespace adamant
