// Compiled once per SIMD target. CMake builds each kernel source several times with
// -DADAMANT_TARGET=<name> and that target's -m flags; this header names the namespace each copy lives in,
// and what each copy defines (dispatch.cc declares the same for every target with ADAMANT_DECLARE_TARGET).
#ifndef ADAMANT_KERNELS_TARGET_H_
#define ADAMANT_KERNELS_TARGET_H_

#ifndef ADAMANT_TARGET
#error "kernel sources are compiled per target: define ADAMANT_TARGET (avx512, avx2 or baseline)"
#endif

#include "kernels/kernels.h"

// What one target's copy defines: the step of each algorithm (step-inl.h, instantiated per algorithm)
// and the gradient-only kernels (grads.cc).
#define ADAMANT_DECLARE_TARGET(T)                                                  \
  namespace adamant::kernels::T {                                                  \
  template <class A>                                                               \
  void Step(const StepSlot<A>& slot, int64_t begin, int64_t end);                  \
  bool AllFinite(const Slot& slot, int64_t begin, int64_t end);                    \
  double GradNorm(const Slot& slot, int64_t begin, int64_t end, NormKind kind, double p); \
  void ScaleGrad(double factor, const Slot& slot, int64_t begin, int64_t end);     \
  void ClampGrad(double lo, double hi, const Slot& slot, int64_t begin, int64_t end); \
  }

ADAMANT_DECLARE_TARGET(ADAMANT_TARGET)

#endif  // ADAMANT_KERNELS_TARGET_H_
