#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace adamant::kernels {

template <typename T>
void SGDKernel(const SGDModes& modes, const rules::SGDScalars<T>& s, int64_t n, T* p, const T* g, T* buf) {
  DispatchBools(
      [&](auto maximize, auto l2, auto momentum, auto first, auto nesterov) {
        for (int64_t i = 0; i < n; ++i) {
          T unused{};
          T& b = momentum() ? buf[i] : unused;
          rules::SGDUpdate<maximize(), l2(), momentum(), first(), nesterov()>(s, p[i], g[i], b);
        }
      },
      modes.maximize, modes.l2, modes.momentum, modes.first, modes.nesterov);
}

template void SGDKernel<float>(const SGDModes&, const rules::SGDScalars<float>&, int64_t, float*, const float*,
                               float*);
template void SGDKernel<double>(const SGDModes&, const rules::SGDScalars<double>&, int64_t, double*,
                                const double*, double*);

}  // namespace adamant::kernels
