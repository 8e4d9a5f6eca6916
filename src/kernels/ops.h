// The division policy of this target's rules (rules/common.h), chosen by measurement (docs/performance.md,
// "Measurements behind the code"): on AVX-512 (Intel, one divider port) the divider is the bottleneck of
// NAdam, RAdam and Adam in cache, and multiplying by reciprocals frees it; on AVX2 (AMD Zen 3) and the
// baseline the divider keeps up and the conversions cost more. Both give the same bits. Compiled per
// target, so in the target's namespace.
#ifndef ADAMANT_KERNELS_OPS_H_
#define ADAMANT_KERNELS_OPS_H_

#include "kernels/target.h"
#include "rules/common.h"

namespace adamant::kernels::ADAMANT_TARGET {

#if defined(__AVX512F__)
using Ops = rules::ReciprocalOps;
#else
using Ops = rules::DivisionOps;
#endif

}  // namespace adamant::kernels::ADAMANT_TARGET

#endif  // ADAMANT_KERNELS_OPS_H_
