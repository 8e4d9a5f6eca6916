#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace adamant::kernels {

template <typename T>
void AdagradKernel(const AdagradModes& modes, const rules::AdagradScalars<T>& s, int64_t n, T* p, const T* g,
                   T* sum) {
  DispatchBools(
      [&](auto maximize, auto l2) {
        for (int64_t i = 0; i < n; ++i) rules::AdagradUpdate<maximize(), l2()>(s, p[i], g[i], sum[i]);
      },
      modes.maximize, modes.l2);
}

template void AdagradKernel<float>(const AdagradModes&, const rules::AdagradScalars<float>&, int64_t, float*,
                                   const float*, float*);
template void AdagradKernel<double>(const AdagradModes&, const rules::AdagradScalars<double>&, int64_t,
                                    double*, const double*, double*);

}  // namespace adamant::kernels
