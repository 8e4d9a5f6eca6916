// Lists a step builds and drops, kept between calls on the same thread.
#ifndef ADAMANT_CORE_SCRATCH_H_
#define ADAMANT_CORE_SCRATCH_H_

#include <cstddef>
#include <vector>

namespace adamant::core {

// An empty vector whose capacity survives from one call to the next on this thread. A step over
// thousands of tensors builds lists of a few megabytes (the tensors, their kernel slots); freed each
// time, malloc hands that memory back to the system and takes it again at the next step, paying page
// faults and freshly zeroed pages on every step. `Tag` is a type of the caller's own, so that two users
// never share a vector; a user must not be re-entered while it holds its vector.
template <class T, class Tag>
std::vector<T>& Scratch() {
  thread_local std::vector<T> v;
  v.clear();
  return v;
}

// The same, holding `n` elements that keep whatever the last call left in them (elements beyond the last
// call's count are value-initialized): for a list that the caller fills whole, possibly from several
// threads, without writing it twice.
template <class T, class Tag>
std::vector<T>& ScratchOfSize(size_t n) {
  thread_local std::vector<T> v;
  v.resize(n);
  return v;
}

}  // namespace adamant::core

#endif  // ADAMANT_CORE_SCRATCH_H_
