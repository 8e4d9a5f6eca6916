#include "kernels/loop.h"
#include "kernels/target.h"
#include "rules/nadam_rule.h"

namespace adamant::kernels::ADAMANT_TARGET {

// state: exp_avg, exp_avg_sq.
void NAdam(const void* modes_ptr, const Slot& slot, int64_t begin, int64_t end) {
  const auto& modes = *static_cast<const NAdamModes*>(modes_ptr);
  DispatchBools(
      [&](auto l2, auto eps_hat) {
        ForVariant(slot, [&](auto v) {
          using V = decltype(v);
          using S = typename V::Compute;
          const auto s = ScalarsOf<rules::NAdamScalars, V>(slot);
          Loop<V>(
              slot, begin, end, [=](S& p, S g, S& m, S& sq) { rules::NAdamUpdate<l2(), eps_hat()>(s, p, g, m, sq); },
              StatePtr<V>(slot, 0), StatePtr<V>(slot, 1));
        });
      },
      modes.l2, modes.eps_hat);
}

}  // namespace adamant::kernels::ADAMANT_TARGET
