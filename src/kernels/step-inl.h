// The kernel of any algorithm, from its descriptor (algorithms/descriptor.h): the slot's modes become the
// compile-time modes of a loop (each valid combination is a loop of its own), its storage the variant
// (loop.h), and the rule is called with the buffers those modes use. Included by the generated source of
// each algorithm (one per algorithm and target: CMakeLists.txt), which instantiates Step<A>.
#ifndef ADAMANT_KERNELS_STEP_INL_H_
#define ADAMANT_KERNELS_STEP_INL_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include "algorithms/descriptor.h"
#include "kernels/kernels.h"
#include "kernels/loop.h"
#include "kernels/ops.h"
#include "kernels/storage.h"
#include "kernels/target.h"

namespace adamant::kernels::ADAMANT_TARGET {

// The buffers that algorithm A's rule reads and writes in modes kM, in the order of A::kState.
template <class A, algorithms::ModeBits kM>
struct UsedState {
  static constexpr int kTotal = static_cast<int>(A::kState.size());
  static constexpr int kCount = [] {
    int count = 0;
    for (int i = 0; i < kTotal; ++i) count += A::Uses(kM, i) ? 1 : 0;
    return count;
  }();
  // kIndex[j]: the buffer that is the j-th used one.
  static constexpr std::array<int, kCount> kIndex = [] {
    std::array<int, kCount> index{};
    int count = 0;
    for (int i = 0; i < kTotal; ++i) {
      if (A::Uses(kM, i)) index[count++] = i;
    }
    return index;
  }();
  // The rank of buffer i among the used ones, or -1.
  static constexpr int Rank(int i) {
    int rank = 0;
    for (int j = 0; j < i; ++j) rank += A::Uses(kM, j) ? 1 : 0;
    return A::Uses(kM, i) ? rank : -1;
  }
};

template <size_t, class T>
using Repeat = T;

// The rule's argument for buffer I: the loop's element when the modes use it, else a slot of `unused`
// (never read by the rule in those modes; absent buffers are null and must not be indexed).
template <class Used, int I, class Refs, class S>
ADAMANT_KERNEL_INLINE S& StateArg(Refs& refs, S (&unused)[Used::kTotal]) {
  if constexpr (Used::Rank(I) >= 0) {
    return std::get<Used::Rank(I)>(refs);
  } else {
    return unused[I];
  }
}

template <class A, algorithms::ModeBits kM, class V, size_t... kUsed, size_t... kAll>
void StepLoop(const Slot& slot, int64_t begin, int64_t end, const typename A::template Scalars<typename V::Compute> s,
              std::index_sequence<kUsed...>, std::index_sequence<kAll...>) {
  using S = typename V::Compute;
  using Used = UsedState<A, kM>;
  Loop<V>(
      slot, begin, end, std::array<StateStorage, Used::kCount>{slot.state_storage[Used::kIndex[kUsed]]...},
      std::array<float*, Used::kCount>{slot.state_absmax[Used::kIndex[kUsed]]...},
      [=](S& p, S g, Repeat<kUsed, S&>... used) {
        S unused[Used::kTotal] = {};
        auto refs = std::tie(used...);
        A::template Update<kM, Ops>(s, p, g, StateArg<Used, static_cast<int>(kAll)>(refs, unused)...);
      },
      std::index_sequence<kUsed...>{}, StatePtr<V>(slot, Used::kIndex[kUsed])...);
}

// Calls f(std::integral_constant<uint32_t, bits>) for the compile-time value of `modes`, among the valid
// combinations of A's modes.
template <class A, uint32_t kBits = 0, class F>
ADAMANT_KERNEL_INLINE void DispatchModes(algorithms::ModeBits modes, F&& f) {
  if constexpr (kBits < (1u << A::kNumModes)) {
    if (modes.bits == kBits) {
      if constexpr (A::Valid(algorithms::ModeBits{kBits})) f(std::integral_constant<uint32_t, kBits>{});
      return;
    }
    DispatchModes<A, kBits + 1>(modes, f);
  }
}

// Elements [begin, end) of a slot whose state buffers are all in the compute type.
template <class A>
void StepInComputeType(const StepSlot<A>& slot, int64_t begin, int64_t end) {
  DispatchModes<A>(slot.modes, [&](auto bits) {
    constexpr algorithms::ModeBits kM{decltype(bits)::value};
    using Used = UsedState<A, kM>;
    ForVariant(slot, [&](auto v) {
      using V = decltype(v);
      if constexpr (std::is_same_v<typename V::Compute, double>) {
        StepLoop<A, kM, V>(slot, begin, end, *slot.scalars64, std::make_index_sequence<Used::kCount>{},
                           std::make_index_sequence<Used::kTotal>{});
      } else {
        StepLoop<A, kM, V>(slot, begin, end, *slot.scalars32, std::make_index_sequence<Used::kCount>{},
                           std::make_index_sequence<Used::kTotal>{});
      }
    });
  });
}

// A slot with bfloat16 state and parameters other than float32 is stepped in stages outside the loop
// (the float32-parameter loops stage inside: Loop, loop.h): for at most kStage elements at a time, each
// such buffer is widened into an array of its own, the stage is stepped as a slice of the tensor whose
// state is those arrays (the same loop as any other slice), and the arrays are stored back, rounded as
// their storage says (the same Stage and Unstage, the same stages, so the same bits as inside the loop).
// Slower than staging inside the loop, and one piece of code per algorithm instead of one per variant.

inline int64_t ParamBytes(Storage storage) {
  return storage == Storage::kFloat32 ? 4 : storage == Storage::kFloat64 ? 8 : 2;
}

template <class A>
void StepStaged(const StepSlot<A>& slot, int64_t begin, int64_t end) {
  constexpr int kBuffers = static_cast<int>(A::kState.size());
  alignas(64) float stage[kBuffers > 0 ? kBuffers : 1][kStage];
  const int64_t param_bytes = ParamBytes(slot.storage);
  for (int64_t b = begin; b < end;) {
    const int64_t n = std::min(end - b, kStage - (slot.element_offset + b) % kStage);
    StepSlot<A> part = slot;
    part.param = static_cast<char*>(slot.param) + b * param_bytes;
    part.grad = static_cast<char*>(slot.grad) + b * param_bytes;
    part.master = slot.master != nullptr ? slot.master + b : nullptr;
    part.element_offset = slot.element_offset + b;
    part.numel = n;
    for (int k = 0; k < kBuffers; ++k) {
      if (slot.state[k] == nullptr) continue;
      if (slot.state_storage[k] == StateStorage::kCompute) {
        part.state[k] = static_cast<float*>(slot.state[k]) + b;  // staged slots compute in float
      } else {
        Stage(slot.state_storage[k], StateAt(static_cast<float*>(slot.state[k]), slot.state_storage[k], b), n, stage[k],
              BlockMax(slot.state_absmax[k], slot.element_offset, b));
        part.state[k] = stage[k];
        part.state_storage[k] = StateStorage::kCompute;
        part.state_absmax[k] = nullptr;
      }
    }
    StepInComputeType(part, 0, n);
    // Buffer k draws from the stream of its rank among the used buffers, as inside the loop.
    uint64_t used = 0;
    for (int k = 0; k < kBuffers; ++k) {
      if (slot.state[k] == nullptr) continue;
      if (slot.state_storage[k] != StateStorage::kCompute) {
        Unstage(slot.state_storage[k], stage[k], n, StateAt(static_cast<float*>(slot.state[k]), slot.state_storage[k], b),
                slot.state_stream + used * kStreamStep, slot.element_offset + b,
                BlockMax(slot.state_absmax[k], slot.element_offset, b));
      }
      ++used;
    }
    b += n;
  }
}

template <class A>
void Step(const StepSlot<A>& slot, int64_t begin, int64_t end) {
  if (slot.storage != Storage::kFloat32) {
    for (const StateStorage s : slot.state_storage) {
      if (s != StateStorage::kCompute) return StepStaged(slot, begin, end);
    }
  }
  StepInComputeType(slot, begin, end);
}

}  // namespace adamant::kernels::ADAMANT_TARGET

// Instantiates the step of algorithm `Class` (a descriptor in adamant::algorithms) for this target.
#define ADAMANT_INSTANTIATE_STEP(Class)                                                       \
  namespace adamant::kernels::ADAMANT_TARGET {                                                \
  template void Step<algorithms::Class>(const StepSlot<algorithms::Class>&, int64_t, int64_t); \
  }

#endif  // ADAMANT_KERNELS_STEP_INL_H_
