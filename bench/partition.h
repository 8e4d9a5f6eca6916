// How a multi-tensor step is split between threads: the concatenated elements of all tensors are cut into
// one contiguous range per thread, with every cut on a multiple of `align` elements inside its tensor, so
// that (tensors being 64-byte aligned) no cache line is written by two threads.
#ifndef ADAMANT_BENCH_PARTITION_H_
#define ADAMANT_BENCH_PARTITION_H_

#include <cstdint>
#include <span>
#include <vector>

namespace adamant_bench {

class Partition {
 public:
  Partition(std::span<const int64_t> numel, int parts, int64_t align);

  int parts() const { return static_cast<int>(cuts_.size()) - 1; }

  // Calls f(tensor, begin, end) for each piece of a tensor in part `part`, in order.
  template <class F>
  void ForEach(int part, F&& f) const {
    const int64_t lo = cuts_[part], hi = cuts_[part + 1];
    for (size_t t = TensorAt(lo); t + 1 < start_.size() && start_[t] < hi; ++t) {
      const int64_t b = (lo > start_[t] ? lo : start_[t]) - start_[t];
      const int64_t e = (hi < start_[t + 1] ? hi : start_[t + 1]) - start_[t];
      if (e > b) f(t, b, e);
    }
  }

 private:
  size_t TensorAt(int64_t index) const;  // the tensor holding concatenated element `index`

  std::vector<int64_t> start_;  // start_[t]: first concatenated index of tensor t; back(): the total
  std::vector<int64_t> cuts_;   // parts + 1 concatenated indices
};

}  // namespace adamant_bench

#endif  // ADAMANT_BENCH_PARTITION_H_
