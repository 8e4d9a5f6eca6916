// A parameter as the optimizers see it: a non-owning view of the user's tensor and its gradient.
#ifndef ADAMANT_PARAM_H_
#define ADAMANT_PARAM_H_

#include <cstdint>

#include "adamant/dtype.h"

namespace adamant {

// The shape of a parameter and where its elements are (PyTorch's sizes and strides, in elements): element
// (i0, ..., i{dim-1}) of the parameter is data[i0 * strides[0] + ... ], so that a strided view of a larger
// tensor, gaps and all (a column of a matrix, every other channel), is updated in place. Strides must not
// make two elements share memory (a dimension of size 1 may have any stride >= 0). Without strides
// (`strided` false) the data is contiguous in row-major order and the shape is only described.
struct Layout {
  static constexpr int kMaxDims = 8;
  int dim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
  bool strided = false;
};

// `data` and `grad` each point at `numel` contiguous elements of `dtype`, owned by the caller, who keeps
// them alive while the optimizer uses them; with a `layout` that has strides, `data` is laid out by them
// instead, and the gradient (like the state) holds the elements in row-major order of the layout's sizes.
// The layout is the caller's too, and must stay alive and unchanged while a step runs. The pointers may be
// changed between steps (a new gradient buffer, say). A null `grad` means "no gradient this step": the
// parameter is skipped and its state and step count stay as they are, as PyTorch does for `p.grad is None`.
struct ParamView {
  void* data = nullptr;
  void* grad = nullptr;
  int64_t numel = 0;
  DType dtype = DType::kFloat32;
  const Layout* layout = nullptr;
};

// Convenience constructors (bf16/fp16 parameters: fill in the struct with the dtype and uint16_t data).
inline ParamView MakeParam(float* data, float* grad, int64_t numel) {
  return {data, grad, numel, DType::kFloat32};
}
inline ParamView MakeParam(double* data, double* grad, int64_t numel) {
  return {data, grad, numel, DType::kFloat64};
}

}  // namespace adamant

#endif  // ADAMANT_PARAM_H_
