#include "partition.h"

#include <algorithm>

namespace adamant_bench {

Partition::Partition(std::span<const int64_t> numel, int parts, int64_t align) {
  start_.reserve(numel.size() + 1);
  start_.push_back(0);
  for (int64_t n : numel) start_.push_back(start_.back() + n);
  const int64_t total = start_.back();
  cuts_.push_back(0);
  for (int k = 1; k < parts; ++k) {
    const int64_t even = total / parts * k + total % parts * k / parts;
    const size_t t = TensorAt(even);
    const int64_t cut = t + 1 < start_.size() ? start_[t] + (even - start_[t]) / align * align : total;
    cuts_.push_back(std::max(cut, cuts_.back()));
  }
  cuts_.push_back(total);
}

size_t Partition::TensorAt(int64_t index) const {
  // The last t with start_[t] <= index; empty tensors are skipped by ForEach (e > b).
  return static_cast<size_t>(std::upper_bound(start_.begin(), start_.end(), index) - start_.begin()) - 1;
}

}  // namespace adamant_bench
