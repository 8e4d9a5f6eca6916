#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace adamant::kernels {

template <typename T>
void AdadeltaKernel(const AdadeltaModes& modes, const rules::AdadeltaScalars<T>& s, int64_t n, T* p,
                    const T* g, T* square_avg, T* acc_delta) {
  DispatchBools(
      [&](auto maximize, auto l2) {
        for (int64_t i = 0; i < n; ++i) {
          rules::AdadeltaUpdate<maximize(), l2()>(s, p[i], g[i], square_avg[i], acc_delta[i]);
        }
      },
      modes.maximize, modes.l2);
}

template void AdadeltaKernel<float>(const AdadeltaModes&, const rules::AdadeltaScalars<float>&, int64_t,
                                    float*, const float*, float*, float*);
template void AdadeltaKernel<double>(const AdadeltaModes&, const rules::AdadeltaScalars<double>&, int64_t,
                                     double*, const double*, double*, double*);

}  // namespace adamant::kernels
