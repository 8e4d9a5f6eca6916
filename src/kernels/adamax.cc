#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace adamant::kernels {

template <typename T>
void AdamaxKernel(const AdamaxModes& modes, const rules::AdamaxScalars<T>& s, int64_t n, T* p, const T* g,
                  T* m, T* u) {
  DispatchBools(
      [&](auto maximize, auto l2, auto eps_outside) {
        for (int64_t i = 0; i < n; ++i) {
          rules::AdamaxUpdate<maximize(), l2(), eps_outside()>(s, p[i], g[i], m[i], u[i]);
        }
      },
      modes.maximize, modes.l2, modes.eps_outside);
}

template void AdamaxKernel<float>(const AdamaxModes&, const rules::AdamaxScalars<float>&, int64_t, float*,
                                  const float*, float*, float*);
template void AdamaxKernel<double>(const AdamaxModes&, const rules::AdamaxScalars<double>&, int64_t, double*,
                                   const double*, double*, double*);

}  // namespace adamant::kernels
