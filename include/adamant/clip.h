// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_, deterministic.
//
//   adamant::ClipGradNorm(opt, /*max_norm=*/1.0);   // every group's gradients, before opt.Step()
//
// Gradients are float32, float64, bfloat16 or float16 (ParamView::dtype); parameters without a gradient
// are ignored. Every parameter is checked (std::invalid_argument) before any gradient is changed.
//
// Deterministic: the norm is accumulated in double over fixed blocks of 65536 elements of each tensor
// (inside a block, in 16 interleaved partial sums added in a fixed order), and the blocks' partials are
// combined in tensor and block order. Threads only decide who computes which block, so the result is
// bitwise the same for every thread count and SIMD target.
#ifndef ADAMANT_CLIP_H_
#define ADAMANT_CLIP_H_

#include <span>

#include "adamant/optimizer.h"
#include "adamant/param.h"

namespace adamant {

// Scales the gradients so that their total norm (as if all were one vector) is at most max_norm, and
// returns the total norm before clipping, as torch.nn.utils.clip_grad_norm_:
//   total = (sum |g|^p)^(1/p) over every element (p = norm_type; inf: max |g|, -inf: min |g|, 0: the
//           count of non-zero elements; 2, the default, is the Euclidean norm)
//   coef  = max_norm / (total + 1e-6), clamped to at most 1 (a NaN stays NaN)
//   g    *= coef, in the gradient's compute type (float32 for float32/bf16/fp16, rounded back to nearest
//           even; float64 for float64). When coef is exactly 1 the gradients are left untouched.
// With error_if_nonfinite, a NaN or infinite total throws std::runtime_error with PyTorch's message and
// changes nothing; otherwise the gradients are scaled by the non-finite coefficient, as PyTorch does. No
// gradients: returns 0.
// The total is computed in double (PyTorch: in the gradients' dtype), so it agrees with PyTorch to within
// PyTorch's own float rounding.
double ClipGradNorm(std::span<const ParamView> params, double max_norm, double norm_type = 2.0,
                    bool error_if_nonfinite = false);
// Every gradient of every parameter group of `optimizer`, whole, whatever range its groups are restricted
// to (Optimizer::set_range): a sharded caller combines the norm of its ranges across its processes.
double ClipGradNorm(const Optimizer& optimizer, double max_norm, double norm_type = 2.0,
                    bool error_if_nonfinite = false);

// Clamps every gradient element to [-clip_value, clip_value], as torch.nn.utils.clip_grad_value_ (the
// bounds in the gradient's dtype; a NaN element or bound gives NaN; a negative clip_value sets every
// element to clip_value, as torch.clamp with min > max).
void ClipGradValue(std::span<const ParamView> params, double clip_value);
void ClipGradValue(const Optimizer& optimizer, double clip_value);

}  // namespace adamant

#endif  // ADAMANT_CLIP_H_
