#include "kernels/loop.h"
#include "kernels/target.h"
#include "rules/adamax_rule.h"

namespace adamant::kernels::ADAMANT_TARGET {

// state: exp_avg, exp_inf.
void Adamax(const void* modes_ptr, const Slot& slot, int64_t begin, int64_t end) {
  const auto& modes = *static_cast<const AdamaxModes*>(modes_ptr);
  DispatchBools(
      [&](auto l2, auto eps_outside) {
        ForVariant(slot, [&](auto v) {
          using V = decltype(v);
          using S = typename V::Compute;
          const auto s = ScalarsOf<rules::AdamaxScalars, V>(slot);  // copied into the lambda (loop.h: Loop)
          Loop<V>(
              slot, begin, end,
              [=](S& p, S g, S& m, S& u) { rules::AdamaxUpdate<l2(), eps_outside()>(s, p, g, m, u); },
              StatePtr<V>(slot, 0), StatePtr<V>(slot, 1));
        });
      },
      modes.l2, modes.eps_outside);
}

}  // namespace adamant::kernels::ADAMANT_TARGET
