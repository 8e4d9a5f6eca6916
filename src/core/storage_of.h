// The kernels' storage type of a parameter dtype: shared by the functional layer and clipping, which both
// build kernel slots from ParamViews.
#ifndef ADAMANT_CORE_STORAGE_OF_H_
#define ADAMANT_CORE_STORAGE_OF_H_

#include "adamant/dtype.h"
#include "kernels/kernels.h"

namespace adamant::core {

inline kernels::Storage StorageOf(DType dtype) {
  switch (dtype) {
    case DType::kFloat64:
      return kernels::Storage::kFloat64;
    case DType::kBFloat16:
      return kernels::Storage::kBFloat16;
    case DType::kFloat16:
      return kernels::Storage::kFloat16;
    case DType::kFloat32:
      break;
  }
  return kernels::Storage::kFloat32;
}

}  // namespace adamant::core

#endif  // ADAMANT_CORE_STORAGE_OF_H_
