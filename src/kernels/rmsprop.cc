#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace adamant::kernels {

template <typename T>
void RMSpropKernel(const RMSpropModes& modes, const rules::RMSpropScalars<T>& s, int64_t n, T* p, const T* g,
                   T* square_avg, T* momentum_buffer, T* grad_avg) {
  DispatchBools(
      [&](auto maximize, auto l2, auto centered, auto momentum) {
        for (int64_t i = 0; i < n; ++i) {
          T unused_buf{}, unused_avg{};
          T& buf = momentum() ? momentum_buffer[i] : unused_buf;
          T& avg = centered() ? grad_avg[i] : unused_avg;
          rules::RMSpropUpdate<maximize(), l2(), centered(), momentum()>(s, p[i], g[i], square_avg[i], buf, avg);
        }
      },
      modes.maximize, modes.l2, modes.centered, modes.momentum);
}

template void RMSpropKernel<float>(const RMSpropModes&, const rules::RMSpropScalars<float>&, int64_t, float*,
                                   const float*, float*, float*, float*);
template void RMSpropKernel<double>(const RMSpropModes&, const rules::RMSpropScalars<double>&, int64_t,
                                    double*, const double*, double*, double*, double*);

}  // namespace adamant::kernels
