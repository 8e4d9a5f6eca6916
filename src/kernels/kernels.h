// Kernels: apply one algorithm's rule to every element of one contiguous tensor and its state.
//
// The kernels assume valid input (the core layer checks it): every pointer is non-null where its mode
// needs it and covers n elements; state has the parameter's element type. Modes are runtime flags here and
// compile-time parameters of the rules (dispatch.h). Compiled with -ffp-contract=off: no fused multiply-add,
// so the result does not depend on the compiler or the target.
#ifndef ADAMANT_KERNELS_KERNELS_H_
#define ADAMANT_KERNELS_KERNELS_H_

#include <cstdint>

#include "rules/adadelta.h"
#include "rules/adagrad.h"
#include "rules/adam.h"
#include "rules/adamax.h"
#include "rules/common.h"
#include "rules/nadam.h"
#include "rules/radam.h"
#include "rules/rmsprop.h"
#include "rules/sgd.h"

namespace adamant::kernels {

struct AdamModes {
  bool maximize = false;
  rules::WeightDecay weight_decay = rules::WeightDecay::kNone;
  bool amsgrad = false;
  bool eps_hat = false;  // EpsMode::kTensorFlow
};
template <typename T>
void AdamKernel(const AdamModes& modes, const rules::AdamScalars<T>& s, int64_t n, T* p, const T* g, T* m,
                T* v, T* v_max);

struct AdamaxModes {
  bool maximize = false;
  bool l2 = false;
  bool eps_outside = false;  // EpsMode::kTensorFlow
};
template <typename T>
void AdamaxKernel(const AdamaxModes& modes, const rules::AdamaxScalars<T>& s, int64_t n, T* p, const T* g,
                  T* m, T* u);

struct NAdamModes {
  bool maximize = false;
  rules::WeightDecay weight_decay = rules::WeightDecay::kNone;
  bool eps_hat = false;
};
template <typename T>
void NAdamKernel(const NAdamModes& modes, const rules::NAdamScalars<T>& s, int64_t n, T* p, const T* g, T* m,
                 T* v);

struct RAdamModes {
  bool maximize = false;
  rules::WeightDecay weight_decay = rules::WeightDecay::kNone;
  bool rectified = false;
};
template <typename T>
void RAdamKernel(const RAdamModes& modes, const rules::RAdamScalars<T>& s, int64_t n, T* p, const T* g, T* m,
                 T* v);

struct AdagradModes {
  bool maximize = false;
  bool l2 = false;
};
template <typename T>
void AdagradKernel(const AdagradModes& modes, const rules::AdagradScalars<T>& s, int64_t n, T* p, const T* g,
                   T* sum);

struct RMSpropModes {
  bool maximize = false;
  bool l2 = false;
  bool centered = false;
  bool momentum = false;
};
template <typename T>
void RMSpropKernel(const RMSpropModes& modes, const rules::RMSpropScalars<T>& s, int64_t n, T* p, const T* g,
                   T* square_avg, T* momentum_buffer, T* grad_avg);

struct AdadeltaModes {
  bool maximize = false;
  bool l2 = false;
};
template <typename T>
void AdadeltaKernel(const AdadeltaModes& modes, const rules::AdadeltaScalars<T>& s, int64_t n, T* p,
                    const T* g, T* square_avg, T* acc_delta);

struct SGDModes {
  bool maximize = false;
  bool l2 = false;
  bool momentum = false;
  bool first = false;  // the momentum buffer is set to the gradient
  bool nesterov = false;
};
template <typename T>
void SGDKernel(const SGDModes& modes, const rules::SGDScalars<T>& s, int64_t n, T* p, const T* g, T* buf);

}  // namespace adamant::kernels

#endif  // ADAMANT_KERNELS_KERNELS_H_
