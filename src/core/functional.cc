// The stateless layer: checks its input, computes each step's scalars in double on the host, rounds them
// once to the element type, and hands each tensor to its kernel.
#include "adamant/functional.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/kernels.h"

namespace adamant::functional {
namespace {

using rules::WeightDecay;

[[noreturn]] void Fail(std::string_view algorithm, size_t index, const std::string& what) {
  throw std::invalid_argument(std::string(algorithm) + ": tensor " + std::to_string(index) + ": " + what);
}

// The checks every algorithm shares; `state` lists the buffers the call will touch.
void CheckTensor(std::string_view algorithm, size_t index, const ParamView& p,
                 std::initializer_list<std::pair<const char*, const void*>> state) {
  if (p.numel < 0) Fail(algorithm, index, "negative element count " + std::to_string(p.numel));
  if (p.dtype != DType::kFloat32 && p.dtype != DType::kFloat64) {
    Fail(algorithm, index, "unsupported dtype (supported: float32, float64)");
  }
  if (p.numel == 0) return;
  if (p.data == nullptr) Fail(algorithm, index, "param data is null");
  if (p.grad == nullptr) Fail(algorithm, index, "grad is null");
  for (const auto& [name, ptr] : state) {
    if (ptr == nullptr) Fail(algorithm, index, std::string(name) + " is null");
  }
}

void CheckStep(std::string_view algorithm, size_t index, int64_t step) {
  if (step < 1) Fail(algorithm, index, "step must be >= 1, got " + std::to_string(step));
}

WeightDecay WeightDecayMode(double weight_decay, bool decoupled) {
  if (weight_decay == 0) return WeightDecay::kNone;
  return decoupled ? WeightDecay::kDecoupled : WeightDecay::kL2;
}

// Calls f(T{}) with T the element type of `dtype`.
template <class F>
void ForDType(DType dtype, F&& f) {
  if (dtype == DType::kFloat64) {
    f(double{});
  } else {
    f(float{});
  }
}

template <typename T>
T* Ptr(void* p) {
  return static_cast<T*>(p);
}

double BiasCorrection(double beta, int64_t step, bool enabled) {
  return enabled ? 1.0 - std::pow(beta, static_cast<double>(step)) : 1.0;
}

}  // namespace

void Adam(std::span<const AdamTensor> tensors, const AdamOptions& o) {
  Validate(o);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const AdamTensor& t = tensors[i];
    CheckTensor("adam", i, t.param,
                {{"exp_avg", t.exp_avg},
                 {"exp_avg_sq", t.exp_avg_sq},
                 {"max_exp_avg_sq", o.amsgrad ? t.max_exp_avg_sq : t.exp_avg_sq}});
    CheckStep("adam", i, t.step);
  }
  const kernels::AdamModes modes{o.maximize, WeightDecayMode(o.weight_decay, o.decoupled_weight_decay),
                                 o.amsgrad, o.eps_mode == EpsMode::kTensorFlow};
  for (const AdamTensor& t : tensors) {
    if (t.param.numel == 0) continue;
    const double bc1 = BiasCorrection(o.betas[0], t.step, o.bias_correction);
    const double bc2 = BiasCorrection(o.betas[1], t.step, o.bias_correction);
    const double bc2_sqrt = std::sqrt(bc2);
    const double step_size = modes.eps_hat ? o.lr * bc2_sqrt / bc1 : o.lr / bc1;
    ForDType(t.param.dtype, [&](auto zero) {
      using T = decltype(zero);
      const rules::AdamScalars<T> s{
          static_cast<T>(o.weight_decay), static_cast<T>(1.0 - o.lr * o.weight_decay),
          rules::MakeLerp<T>(1.0 - o.betas[0]), static_cast<T>(o.betas[1]), static_cast<T>(1.0 - o.betas[1]),
          static_cast<T>(bc2_sqrt), static_cast<T>(-step_size), static_cast<T>(o.eps)};
      kernels::AdamKernel<T>(modes, s, t.param.numel, Ptr<T>(t.param.data), Ptr<T>(t.param.grad),
                             Ptr<T>(t.exp_avg), Ptr<T>(t.exp_avg_sq), Ptr<T>(t.max_exp_avg_sq));
    });
  }
}

void Adamax(std::span<const AdamaxTensor> tensors, const AdamaxOptions& o) {
  Validate(o);
  for (size_t i = 0; i < tensors.size(); ++i) {
    CheckTensor("adamax", i, tensors[i].param, {{"exp_avg", tensors[i].exp_avg}, {"exp_inf", tensors[i].exp_inf}});
    CheckStep("adamax", i, tensors[i].step);
  }
  const kernels::AdamaxModes modes{o.maximize, o.weight_decay != 0, o.eps_mode == EpsMode::kTensorFlow};
  for (const AdamaxTensor& t : tensors) {
    if (t.param.numel == 0) continue;
    const double clr = o.lr / BiasCorrection(o.betas[0], t.step, o.bias_correction);
    ForDType(t.param.dtype, [&](auto zero) {
      using T = decltype(zero);
      const rules::AdamaxScalars<T> s{static_cast<T>(o.weight_decay), rules::MakeLerp<T>(1.0 - o.betas[0]),
                                      static_cast<T>(o.betas[1]), static_cast<T>(o.eps), static_cast<T>(-clr)};
      kernels::AdamaxKernel<T>(modes, s, t.param.numel, Ptr<T>(t.param.data), Ptr<T>(t.param.grad),
                               Ptr<T>(t.exp_avg), Ptr<T>(t.exp_inf));
    });
  }
}

void NAdam(std::span<const NAdamTensor> tensors, const NAdamOptions& o) {
  Validate(o);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const NAdamTensor& t = tensors[i];
    CheckTensor("nadam", i, t.param, {{"exp_avg", t.exp_avg}, {"exp_avg_sq", t.exp_avg_sq}});
    CheckStep("nadam", i, t.step);
    if (t.mu_product == nullptr) Fail("nadam", i, "mu_product is null");
  }
  const kernels::NAdamModes modes{o.maximize, WeightDecayMode(o.weight_decay, o.decoupled_weight_decay),
                                  o.eps_mode == EpsMode::kTensorFlow};
  for (const NAdamTensor& t : tensors) {
    const double step = static_cast<double>(t.step);
    const double beta1 = o.betas[0];
    const double mu = beta1 * (1.0 - 0.5 * std::pow(0.96, step * o.momentum_decay));
    const double mu_next = beta1 * (1.0 - 0.5 * std::pow(0.96, (step + 1.0) * o.momentum_decay));
    const double mu_product = *t.mu_product * mu;
    *t.mu_product = mu_product;  // the state advances even for an empty tensor, as in PyTorch
    if (t.param.numel == 0) continue;
    const double bc2 = BiasCorrection(o.betas[1], t.step, o.bias_correction);
    double grad_coeff = -o.lr * (1.0 - mu);
    double avg_coeff = -o.lr * mu_next;
    if (o.bias_correction) {
      grad_coeff /= 1.0 - mu_product;
      avg_coeff /= 1.0 - mu_product * mu_next;
    }
    if (modes.eps_hat) {
      grad_coeff *= std::sqrt(bc2);
      avg_coeff *= std::sqrt(bc2);
    }
    ForDType(t.param.dtype, [&](auto zero) {
      using T = decltype(zero);
      const rules::NAdamScalars<T> s{
          static_cast<T>(o.weight_decay), static_cast<T>(1.0 - o.lr * o.weight_decay),
          rules::MakeLerp<T>(1.0 - beta1), static_cast<T>(o.betas[1]), static_cast<T>(1.0 - o.betas[1]),
          static_cast<T>(bc2), static_cast<T>(o.eps), static_cast<T>(grad_coeff), static_cast<T>(avg_coeff)};
      kernels::NAdamKernel<T>(modes, s, t.param.numel, Ptr<T>(t.param.data), Ptr<T>(t.param.grad),
                              Ptr<T>(t.exp_avg), Ptr<T>(t.exp_avg_sq));
    });
  }
}

void RAdam(std::span<const RAdamTensor> tensors, const RAdamOptions& o) {
  Validate(o);
  for (size_t i = 0; i < tensors.size(); ++i) {
    CheckTensor("radam", i, tensors[i].param,
                {{"exp_avg", tensors[i].exp_avg}, {"exp_avg_sq", tensors[i].exp_avg_sq}});
    CheckStep("radam", i, tensors[i].step);
  }
  const WeightDecay wd = WeightDecayMode(o.weight_decay, o.decoupled_weight_decay);
  for (const RAdamTensor& t : tensors) {
    if (t.param.numel == 0) continue;
    const double step = static_cast<double>(t.step);
    const double beta2 = o.betas[1];
    const double bc2 = 1.0 - std::pow(beta2, step);
    // The length of the approximated simple moving average decides, for the whole tensor, whether the
    // variance is tractable enough to rectify (PyTorch: rho_t > 5).
    const double rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    const double rho_t = rho_inf - 2.0 * step * std::pow(beta2, step) / bc2;
    const bool rectified = rho_t > 5.0;
    const double rect =
        rectified ? std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                  : 0.0;
    const double bc1 = BiasCorrection(o.betas[0], t.step, o.bias_correction);
    const double bc2_sqrt = o.bias_correction ? std::sqrt(bc2) : 1.0;
    const kernels::RAdamModes modes{o.maximize, wd, rectified};
    ForDType(t.param.dtype, [&](auto zero) {
      using T = decltype(zero);
      const rules::RAdamScalars<T> s{static_cast<T>(o.weight_decay), static_cast<T>(1.0 - o.lr * o.weight_decay),
                                     rules::MakeLerp<T>(1.0 - o.betas[0]), static_cast<T>(beta2),
                                     static_cast<T>(1.0 - beta2), static_cast<T>(bc1), static_cast<T>(o.lr),
                                     static_cast<T>(bc2_sqrt), static_cast<T>(o.eps), static_cast<T>(rect)};
      kernels::RAdamKernel<T>(modes, s, t.param.numel, Ptr<T>(t.param.data), Ptr<T>(t.param.grad),
                              Ptr<T>(t.exp_avg), Ptr<T>(t.exp_avg_sq));
    });
  }
}

void Adagrad(std::span<const AdagradTensor> tensors, const AdagradOptions& o) {
  Validate(o);
  for (size_t i = 0; i < tensors.size(); ++i) {
    CheckTensor("adagrad", i, tensors[i].param, {{"sum", tensors[i].sum}});
    CheckStep("adagrad", i, tensors[i].step);
  }
  const kernels::AdagradModes modes{o.maximize, o.weight_decay != 0};
  for (const AdagradTensor& t : tensors) {
    if (t.param.numel == 0) continue;
    const double clr = o.lr / (1.0 + (static_cast<double>(t.step) - 1.0) * o.lr_decay);
    ForDType(t.param.dtype, [&](auto zero) {
      using T = decltype(zero);
      const rules::AdagradScalars<T> s{static_cast<T>(o.weight_decay), static_cast<T>(o.eps), static_cast<T>(-clr)};
      kernels::AdagradKernel<T>(modes, s, t.param.numel, Ptr<T>(t.param.data), Ptr<T>(t.param.grad),
                                Ptr<T>(t.sum));
    });
  }
}

void RMSprop(std::span<const RMSpropTensor> tensors, const RMSpropOptions& o) {
  Validate(o);
  const bool momentum = o.momentum > 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const RMSpropTensor& t = tensors[i];
    CheckTensor("rmsprop", i, t.param,
                {{"square_avg", t.square_avg},
                 {"momentum_buffer", momentum ? t.momentum_buffer : t.square_avg},
                 {"grad_avg", o.centered ? t.grad_avg : t.square_avg}});
    CheckStep("rmsprop", i, t.step);
  }
  const kernels::RMSpropModes modes{o.maximize, o.weight_decay != 0, o.centered, momentum};
  for (const RMSpropTensor& t : tensors) {
    if (t.param.numel == 0) continue;
    ForDType(t.param.dtype, [&](auto zero) {
      using T = decltype(zero);
      const rules::RMSpropScalars<T> s{static_cast<T>(o.weight_decay), static_cast<T>(o.alpha),
                                       static_cast<T>(1.0 - o.alpha),  rules::MakeLerp<T>(1.0 - o.alpha),
                                       static_cast<T>(o.eps),          static_cast<T>(o.momentum),
                                       static_cast<T>(-o.lr)};
      kernels::RMSpropKernel<T>(modes, s, t.param.numel, Ptr<T>(t.param.data), Ptr<T>(t.param.grad),
                                Ptr<T>(t.square_avg), Ptr<T>(t.momentum_buffer), Ptr<T>(t.grad_avg));
    });
  }
}

void Adadelta(std::span<const AdadeltaTensor> tensors, const AdadeltaOptions& o) {
  Validate(o);
  for (size_t i = 0; i < tensors.size(); ++i) {
    CheckTensor("adadelta", i, tensors[i].param,
                {{"square_avg", tensors[i].square_avg}, {"acc_delta", tensors[i].acc_delta}});
    CheckStep("adadelta", i, tensors[i].step);
  }
  const kernels::AdadeltaModes modes{o.maximize, o.weight_decay != 0};
  for (const AdadeltaTensor& t : tensors) {
    if (t.param.numel == 0) continue;
    ForDType(t.param.dtype, [&](auto zero) {
      using T = decltype(zero);
      const rules::AdadeltaScalars<T> s{static_cast<T>(o.weight_decay), static_cast<T>(o.rho),
                                        static_cast<T>(1.0 - o.rho), static_cast<T>(o.eps), static_cast<T>(-o.lr)};
      kernels::AdadeltaKernel<T>(modes, s, t.param.numel, Ptr<T>(t.param.data), Ptr<T>(t.param.grad),
                                 Ptr<T>(t.square_avg), Ptr<T>(t.acc_delta));
    });
  }
}

void SGD(std::span<const SGDTensor> tensors, const SGDOptions& o) {
  Validate(o);
  const bool momentum = o.momentum != 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    CheckTensor("sgd", i, tensors[i].param,
                {{"momentum_buffer", momentum ? tensors[i].momentum_buffer : tensors[i].param.data}});
  }
  for (const SGDTensor& t : tensors) {
    if (t.param.numel == 0) continue;
    const kernels::SGDModes modes{o.maximize, o.weight_decay != 0, momentum, !t.momentum_buffer_initialized,
                                  o.nesterov};
    ForDType(t.param.dtype, [&](auto zero) {
      using T = decltype(zero);
      const rules::SGDScalars<T> s{static_cast<T>(o.weight_decay), static_cast<T>(o.momentum),
                                   static_cast<T>(1.0 - o.dampening), static_cast<T>(-o.lr)};
      kernels::SGDKernel<T>(modes, s, t.param.numel, Ptr<T>(t.param.data), Ptr<T>(t.param.grad),
                            Ptr<T>(t.momentum_buffer));
    });
  }
}

}  // namespace adamant::functional
