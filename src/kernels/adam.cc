#include "kernels/loop.h"
#include "kernels/target.h"
#include "rules/adam_rule.h"

namespace adamant::kernels::ADAMANT_TARGET {

// state: exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad only).
void Adam(const void* modes_ptr, const Slot& slot, int64_t begin, int64_t end) {
  const auto& modes = *static_cast<const AdamModes*>(modes_ptr);
  DispatchBools(
      [&](auto l2, auto amsgrad, auto eps_hat) {
        ForVariant(slot, [&](auto v) {
          using V = decltype(v);
          using S = typename V::Compute;
          const auto s = ScalarsOf<rules::AdamScalars, V>(slot);  // copied into the lambdas (loop.h: Loop)
          if constexpr (amsgrad()) {
            Loop<V>(
                slot, begin, end,
                [=](S& p, S g, S& m, S& sq, S& max_sq) {
                  rules::AdamUpdate<l2(), true, eps_hat()>(s, p, g, m, sq, max_sq);
                },
                StatePtr<V>(slot, 0), StatePtr<V>(slot, 1), StatePtr<V>(slot, 2));
          } else {
            Loop<V>(
                slot, begin, end,
                [=](S& p, S g, S& m, S& sq) {
                  S unused{};
                  rules::AdamUpdate<l2(), false, eps_hat()>(s, p, g, m, sq, unused);
                },
                StatePtr<V>(slot, 0), StatePtr<V>(slot, 1));
          }
        });
      },
      modes.l2, modes.amsgrad, modes.eps_hat);
}

}  // namespace adamant::kernels::ADAMANT_TARGET
