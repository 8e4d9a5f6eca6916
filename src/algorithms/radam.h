// RAdam, the descriptor (algorithms/descriptor.h). Whether a step is rectified is decided per tensor, by
// its step (Prepare sets the mode kRectified).
#ifndef ADAMANT_ALGORITHMS_RADAM_H_
#define ADAMANT_ALGORITHMS_RADAM_H_

#include <array>
#include <cmath>
#include <string_view>

#include "adamant/options/radam.h"
#include "algorithms/descriptor.h"
#include "rules/radam_rule.h"

namespace adamant::algorithms {

struct RAdam : DescriptorDefaults {
  using Options = RAdamOptions;
  template <class T>
  using Scalars = rules::RAdamScalars<T>;
  static constexpr std::string_view kName = "radam";
  static constexpr std::array<StateSpec, 2> kState = {{{"exp_avg", kSigned}, {"exp_avg_sq", kNonNegative}}};

  enum Mode { kL2, kRectified, kNumModes };

  static ModeBits ModesOf(const Options& o) {
    return ModeBits{}.With(kL2, !o.decoupled_weight_decay && o.weight_decay != 0);
  }

  template <class T>
  static Scalars<T> Prepare(const Options& o, ModeBits& m, const TensorStep& t) {
    const double step = static_cast<double>(t.step);
    const double beta2 = o.betas[1];
    const double bc2 = 1.0 - std::pow(beta2, step);
    // The length of the approximated simple moving average decides, for the whole tensor, whether the
    // variance is tractable enough to rectify (PyTorch: rho_t > 5).
    const double rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    const double rho_t = rho_inf - 2.0 * step * std::pow(beta2, step) / bc2;
    m = m.With(kRectified, rho_t > 5.0);
    const double rect =
        m[kRectified] ? std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                      : 0.0;
    const double bc1 = BiasCorrection(o.betas[0], t.step, o.bias_correction);
    const double bc2_sqrt = o.bias_correction ? std::sqrt(bc2) : 1.0;
    return {.moments = rules::MakeAdamMoments<T>(o.lr, o.betas[0], o.betas[1], o.weight_decay,
                                                 o.decoupled_weight_decay, o.maximize),
            .bc1 = rules::MakeStepDivisor<T>(bc1),
            .lr = static_cast<T>(o.lr),
            .bc2_sqrt = static_cast<T>(bc2_sqrt),
            .eps = static_cast<T>(o.eps),
            .rect = static_cast<T>(rect)};
  }

  template <ModeBits kM, class Ops, class T>
  static ADAMANT_RULE_INLINE void Update(const Scalars<T>& s, T& p, T g, T& m, T& v) {
    rules::RAdamUpdate<Ops, kM[kL2], kM[kRectified]>(s, p, g, m, v);
  }
};

}  // namespace adamant::algorithms

#endif  // ADAMANT_ALGORITHMS_RADAM_H_
