#include "kernels/loop.h"
#include "kernels/target.h"
#include "rules/radam_rule.h"

namespace adamant::kernels::ADAMANT_TARGET {

// state: exp_avg, exp_avg_sq; slot.flag: rho_t > 5 (rectified update) for this tensor's step.
void RAdam(const void* modes_ptr, const Slot& slot, int64_t begin, int64_t end) {
  const auto& modes = *static_cast<const RAdamModes*>(modes_ptr);
  DispatchBools(
      [&](auto l2, auto rectified) {
        ForVariant(slot, [&](auto v) {
          using V = decltype(v);
          using S = typename V::Compute;
          const auto s = ScalarsOf<rules::RAdamScalars, V>(slot);
          Loop<V>(
              slot, begin, end,
              [=](S& p, S g, S& m, S& sq) { rules::RAdamUpdate<l2(), rectified()>(s, p, g, m, sq); },
              StatePtr<V>(slot, 0), StatePtr<V>(slot, 1));
        });
      },
      modes.l2, slot.flag);
}

}  // namespace adamant::kernels::ADAMANT_TARGET
