// NAdam, the descriptor (algorithms/descriptor.h). Its one exception: mu_product, the product of the
// momentum coefficients so far, a per-tensor scalar advanced by each step (Finish).
#ifndef ADAMANT_ALGORITHMS_NADAM_H_
#define ADAMANT_ALGORITHMS_NADAM_H_

#include <array>
#include <cmath>
#include <string_view>

#include "adamant/options/nadam.h"
#include "algorithms/descriptor.h"
#include "rules/nadam_rule.h"

namespace adamant::algorithms {

struct NAdam : DescriptorDefaults {
  using Options = NAdamOptions;
  template <class T>
  using Scalars = rules::NAdamScalars<T>;
  static constexpr std::string_view kName = "nadam";
  static constexpr std::array<StateSpec, 2> kState = {{{"exp_avg", kSigned}, {"exp_avg_sq", kNonNegative}}};
  // In a step: the product of mu_1 .. mu_{step-1} (1 before the first step); multiplied by mu_step once
  // the pass has run, even for an empty tensor, as in PyTorch. Kept in double (PyTorch keeps a float32
  // tensor). It differs between tensors that took different paths, so the scalars are not shared.
  static constexpr std::string_view kScalarState = "mu_product";

  enum Mode { kL2, kEpsHat, kNumModes };

  static ModeBits ModesOf(const Options& o) {
    return ModeBits{}
        .With(kL2, !o.decoupled_weight_decay && o.weight_decay != 0)
        .With(kEpsHat, o.eps_mode == EpsMode::kTensorFlow);
  }

  // The momentum coefficient mu_step (Dozat's momentum schedule, PyTorch's momentum_decay).
  static double MuAt(const Options& o, double step) {
    return o.betas[0] * (1.0 - 0.5 * std::pow(0.96, step * o.momentum_decay));
  }

  template <class T>
  static Scalars<T> Prepare(const Options& o, ModeBits& m, const TensorStep& t) {
    const double step = static_cast<double>(t.step);
    const double mu = MuAt(o, step);
    const double mu_next = MuAt(o, step + 1.0);
    const double mu_product = t.scalar_state * mu;
    const double bc2 = BiasCorrection(o.betas[1], t.step, o.bias_correction);
    double grad_coeff = -o.lr * (1.0 - mu);
    double avg_coeff = -o.lr * mu_next;
    if (o.bias_correction) {
      grad_coeff /= 1.0 - mu_product;
      avg_coeff /= 1.0 - mu_product * mu_next;
    }
    if (m[kEpsHat]) {
      grad_coeff *= std::sqrt(bc2);
      avg_coeff *= std::sqrt(bc2);
    }
    return {.moments = rules::MakeAdamMoments<T>(o.lr, o.betas[0], o.betas[1], o.weight_decay,
                                                 o.decoupled_weight_decay, o.maximize),
            .bc2 = rules::MakeStepDivisor<T>(bc2),
            .eps = static_cast<T>(o.eps),
            .grad_coeff = static_cast<T>(grad_coeff),
            .avg_coeff = static_cast<T>(avg_coeff)};
  }

  static void Finish(const Options& o, const TensorStep& t, double& mu_product) {
    mu_product *= MuAt(o, static_cast<double>(t.step));
  }

  template <ModeBits kM, class Ops, class T>
  static ADAMANT_RULE_INLINE void Update(const Scalars<T>& s, T& p, T g, T& m, T& v) {
    rules::NAdamUpdate<Ops, kM[kL2], kM[kEpsHat]>(s, p, g, m, v);
  }
};

}  // namespace adamant::algorithms

#endif  // ADAMANT_ALGORITHMS_NADAM_H_
