// A range of elements [begin, end): the part of a param group's concatenated elements that an optimizer
// updates and keeps state for (Optimizer::set_range), or the part of one parameter inside it.
#ifndef ADAMANT_ELEMENT_RANGE_H_
#define ADAMANT_ELEMENT_RANGE_H_

#include <cstdint>
#include <limits>

namespace adamant {

struct ElementRange {
  // The default end: whatever the group holds, however it grows.
  static constexpr int64_t kToTheEnd = std::numeric_limits<int64_t>::max();

  int64_t begin = 0;
  int64_t end = kToTheEnd;

  bool whole() const { return begin == 0 && end == kToTheEnd; }
  bool operator==(const ElementRange&) const = default;
};

}  // namespace adamant

#endif  // ADAMANT_ELEMENT_RANGE_H_
