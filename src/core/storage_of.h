// The kernels' storage types of a parameter dtype (shared by the functional layer and clipping, which both
// build kernel slots from ParamViews) and of a state buffer's StateStorage.
#ifndef ADAMANT_CORE_STORAGE_OF_H_
#define ADAMANT_CORE_STORAGE_OF_H_

#include "adamant/algorithm_info.h"
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
    case DType::kUInt8:  // int8 state's codes, never a parameter's (the functional layer refuses it)
      break;
  }
  return kernels::Storage::kFloat32;
}

// `values`: the buffer's (StateSpec), which picks int8's map.
inline kernels::StateStorage StorageOf(StateStorage storage, StateValues values) {
  switch (storage) {
    case StateStorage::kInt8:
      return values == StateValues::kSigned ? kernels::StateStorage::kInt8Signed : kernels::StateStorage::kInt8Unsigned;
    case StateStorage::kBFloat16:
      return kernels::StateStorage::kBFloat16;
    case StateStorage::kBFloat16Stochastic:
      return kernels::StateStorage::kBFloat16Stochastic;
    case StateStorage::kFull:
      break;
  }
  return kernels::StateStorage::kCompute;
}

}  // namespace adamant::core

#endif  // ADAMANT_CORE_STORAGE_OF_H_
