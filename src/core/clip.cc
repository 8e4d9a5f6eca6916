// Gradient clipping: the norm over fixed blocks (deterministic for any thread count), the coefficient in
// double on the host, the gradients scaled or clamped in one pass.
#include "adamant/clip.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "adamant/option_text.h"
#include "core/parallel.h"
#include "core/storage_of.h"
#include "kernels/kernels.h"

namespace adamant {
namespace {

// Block size of the norm's partial sums. Fixed, so that the order of additions does not depend on the
// number of threads; large enough that a block's partial costs far more than its bookkeeping.
constexpr int64_t kBlock = 1 << 16;

// A slot per parameter with a non-empty gradient, after checking every parameter with a gradient.
std::vector<kernels::Slot> GradSlots(const char* what, std::span<const ParamView> params) {
  std::vector<kernels::Slot> slots;
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamView& p = params[i];
    if (p.grad == nullptr) continue;
    const auto fail = [&](const std::string& why) {
      throw std::invalid_argument(std::string(what) + ": parameter " + std::to_string(i) + ": " + why);
    };
    if (p.numel < 0) fail("negative element count " + std::to_string(p.numel));
    if (p.dtype != DType::kFloat32 && p.dtype != DType::kFloat64 && p.dtype != DType::kBFloat16 &&
        p.dtype != DType::kFloat16) {
      fail("unsupported dtype (supported: float32, float64, bfloat16, float16)");
    }
    if (p.numel == 0) continue;
    kernels::Slot slot;
    slot.grad = p.grad;
    slot.numel = p.numel;
    slot.storage = core::StorageOf(p.dtype);
    slots.push_back(slot);
  }
  return slots;
}

std::vector<ParamView> AllParams(const Optimizer& optimizer) {
  std::vector<ParamView> out;
  for (size_t g = 0; g < optimizer.num_param_groups(); ++g) {
    for (const ParamView& p : optimizer.params(g)) out.push_back(p);
  }
  return out;
}

struct Block {
  size_t slot;
  int64_t begin, end;
};

// The total norm of the slots' gradients, in double.
double TotalNorm(std::span<const kernels::Slot> slots, double norm_type) {
  kernels::NormKind kind = kernels::NormKind::kP;
  if (norm_type == 2.0) {
    kind = kernels::NormKind::kTwo;
  } else if (norm_type == 1.0) {
    kind = kernels::NormKind::kOne;
  } else if (norm_type == 0.0) {
    kind = kernels::NormKind::kZero;
  } else if (norm_type == HUGE_VAL) {
    kind = kernels::NormKind::kInf;
  } else if (norm_type == -HUGE_VAL) {
    kind = kernels::NormKind::kNegInf;
  }
  std::vector<Block> blocks;
  int64_t elements = 0;
  for (size_t k = 0; k < slots.size(); ++k) {
    for (int64_t b = 0; b < slots[k].numel; b += kBlock) blocks.push_back({k, b, std::min(b + kBlock, slots[k].numel)});
    elements += slots[k].numel;
  }
  std::vector<double> partial(blocks.size());
  const kernels::NormFn fn = kernels::Active().grad_norm;
  core::ParallelFor(static_cast<int64_t>(blocks.size()), elements, [&](int64_t i) {
    const Block& b = blocks[static_cast<size_t>(i)];
    partial[static_cast<size_t>(i)] = fn(slots[b.slot], b.begin, b.end, kind, norm_type);
  });
  // Combined in block order, whatever thread computed each.
  switch (kind) {
    case kernels::NormKind::kInf:
    case kernels::NormKind::kNegInf: {
      const bool max = kind == kernels::NormKind::kInf;
      double out = max ? 0.0 : HUGE_VAL;
      for (double x : partial) {
        if (std::isnan(out)) break;
        out = std::isnan(x) ? x : (max ? std::max(out, x) : std::min(out, x));
      }
      return out;
    }
    default: {
      double sum = 0.0;
      for (double x : partial) sum += x;
      if (kind == kernels::NormKind::kTwo) return std::sqrt(sum);
      if (kind == kernels::NormKind::kOne || kind == kernels::NormKind::kZero) return sum;
      return std::pow(sum, 1.0 / norm_type);
    }
  }
}

}  // namespace

double ClipGradNorm(std::span<const ParamView> params, double max_norm, double norm_type, bool error_if_nonfinite) {
  const std::vector<kernels::Slot> slots = GradSlots("clip_grad_norm_", params);
  if (slots.empty()) return 0.0;
  const double total = TotalNorm(slots, norm_type);
  if (error_if_nonfinite && !std::isfinite(total)) {
    throw std::runtime_error("The total norm of order " + FormatNumber(norm_type) +
                             " for gradients from `parameters` is non-finite, so it cannot be clipped. To disable "
                             "this error and scale the gradients by the non-finite norm anyway, set "
                             "`error_if_nonfinite=False`");
  }
  // torch.clamp(max_norm / (total + 1e-6), max=1.0): a NaN coefficient stays NaN.
  double coef = max_norm / (total + 1e-6);
  if (coef > 1.0) coef = 1.0;
  if (coef != 1.0) {
    const kernels::ScaleFn scale = kernels::Active().scale_grad;
    core::ForEachPiece(std::span<const kernels::Slot>(slots),
                       [&](const kernels::Slot& slot, int64_t begin, int64_t end) { scale(coef, slot, begin, end); });
  }
  return total;
}

double ClipGradNorm(const Optimizer& optimizer, double max_norm, double norm_type, bool error_if_nonfinite) {
  const std::vector<ParamView> params = AllParams(optimizer);
  return ClipGradNorm(params, max_norm, norm_type, error_if_nonfinite);
}

void ClipGradValue(std::span<const ParamView> params, double clip_value) {
  const std::vector<kernels::Slot> slots = GradSlots("clip_grad_value_", params);
  const kernels::ClampFn clamp = kernels::Active().clamp_grad;
  core::ForEachPiece(std::span<const kernels::Slot>(slots), [&](const kernels::Slot& slot, int64_t begin, int64_t end) {
    clamp(-clip_value, clip_value, slot, begin, end);
  });
}

void ClipGradValue(const Optimizer& optimizer, double clip_value) {
  const std::vector<ParamView> params = AllParams(optimizer);
  ClipGradValue(params, clip_value);
}

}  // namespace adamant
