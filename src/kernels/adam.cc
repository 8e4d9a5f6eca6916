#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace adamant::kernels {

template <typename T>
void AdamKernel(const AdamModes& modes, const rules::AdamScalars<T>& s, int64_t n, T* p, const T* g, T* m,
                T* v, T* v_max) {
  DispatchWeightDecay(modes.weight_decay, [&](auto wd) {
    DispatchBools(
        [&](auto maximize, auto amsgrad, auto eps_hat) {
          for (int64_t i = 0; i < n; ++i) {
            T unused{};
            T& vm = amsgrad() ? v_max[i] : unused;
            rules::AdamUpdate<maximize(), wd(), amsgrad(), eps_hat()>(s, p[i], g[i], m[i], v[i], vm);
          }
        },
        modes.maximize, modes.amsgrad, modes.eps_hat);
  });
}

template void AdamKernel<float>(const AdamModes&, const rules::AdamScalars<float>&, int64_t, float*,
                                const float*, float*, float*, float*);
template void AdamKernel<double>(const AdamModes&, const rules::AdamScalars<double>&, int64_t, double*,
                                 const double*, double*, double*, double*);

}  // namespace adamant::kernels
