// Compiled once per SIMD target. CMake builds each kernel source several times with
// -DADAMANT_TARGET=<name> and that target's -m flags; this header names the namespace each copy lives in.
#ifndef ADAMANT_KERNELS_TARGET_H_
#define ADAMANT_KERNELS_TARGET_H_

#ifndef ADAMANT_TARGET
#error "kernel sources are compiled per target: define ADAMANT_TARGET (avx512, avx2 or baseline)"
#endif

#include "kernels/kernels.h"

namespace adamant::kernels::ADAMANT_TARGET {
void Adam(const void* modes, const Slot& slot, int64_t begin, int64_t end);
void Adamax(const void* modes, const Slot& slot, int64_t begin, int64_t end);
void NAdam(const void* modes, const Slot& slot, int64_t begin, int64_t end);
void RAdam(const void* modes, const Slot& slot, int64_t begin, int64_t end);
void Adagrad(const void* modes, const Slot& slot, int64_t begin, int64_t end);
void RMSprop(const void* modes, const Slot& slot, int64_t begin, int64_t end);
void Adadelta(const void* modes, const Slot& slot, int64_t begin, int64_t end);
void SGD(const void* modes, const Slot& slot, int64_t begin, int64_t end);
bool AllFinite(const Slot& slot, int64_t begin, int64_t end);
double GradNorm(const Slot& slot, int64_t begin, int64_t end, NormKind kind, double p);
void ScaleGrad(const void* args, const Slot& slot, int64_t begin, int64_t end);
void ClampGrad(const void* args, const Slot& slot, int64_t begin, int64_t end);
}  // namespace adamant::kernels::ADAMANT_TARGET

#endif  // ADAMANT_KERNELS_TARGET_H_
