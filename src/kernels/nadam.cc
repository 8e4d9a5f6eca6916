#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace adamant::kernels {

template <typename T>
void NAdamKernel(const NAdamModes& modes, const rules::NAdamScalars<T>& s, int64_t n, T* p, const T* g, T* m,
                 T* v) {
  DispatchWeightDecay(modes.weight_decay, [&](auto wd) {
    DispatchBools(
        [&](auto maximize, auto eps_hat) {
          for (int64_t i = 0; i < n; ++i) {
            rules::NAdamUpdate<maximize(), wd(), eps_hat()>(s, p[i], g[i], m[i], v[i]);
          }
        },
        modes.maximize, modes.eps_hat);
  });
}

template void NAdamKernel<float>(const NAdamModes&, const rules::NAdamScalars<float>&, int64_t, float*,
                                 const float*, float*, float*);
template void NAdamKernel<double>(const NAdamModes&, const rules::NAdamScalars<double>&, int64_t, double*,
                                  const double*, double*, double*);

}  // namespace adamant::kernels
