// bfloat16 and float16 values as the tests write them: widened to float, narrowed from it (round to nearest
// even), by the dtype they are stored as.
#ifndef ADAMANT_TESTS_SUPPORT_HALF_H_
#define ADAMANT_TESTS_SUPPORT_HALF_H_

#include <cstdint>

#include "adamant/dtype.h"
#include "kernels/storage.h"

namespace adamant::test_support {

inline float Widen(DType d, uint16_t h) {
  return d == DType::kBFloat16 ? kernels::BFloat16ToFloat(h) : kernels::Float16ToFloat(h);
}
inline uint16_t Narrow(DType d, float x) {
  return d == DType::kBFloat16 ? kernels::FloatToBFloat16(x) : kernels::FloatToFloat16(x);
}

}  // namespace adamant::test_support

#endif  // ADAMANT_TESTS_SUPPORT_HALF_H_
