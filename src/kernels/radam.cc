#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace adamant::kernels {

template <typename T>
void RAdamKernel(const RAdamModes& modes, const rules::RAdamScalars<T>& s, int64_t n, T* p, const T* g, T* m,
                 T* v) {
  DispatchWeightDecay(modes.weight_decay, [&](auto wd) {
    DispatchBools(
        [&](auto maximize, auto rectified) {
          for (int64_t i = 0; i < n; ++i) {
            rules::RAdamUpdate<maximize(), wd(), rectified()>(s, p[i], g[i], m[i], v[i]);
          }
        },
        modes.maximize, modes.rectified);
  });
}

template void RAdamKernel<float>(const RAdamModes&, const rules::RAdamScalars<float>&, int64_t, float*,
                                 const float*, float*, float*);
template void RAdamKernel<double>(const RAdamModes&, const rules::RAdamScalars<double>&, int64_t, double*,
                                  const double*, double*, double*);

}  // namespace adamant::kernels
