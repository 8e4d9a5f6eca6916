#include "kernels/loop.h"
#include "kernels/target.h"
#include "rules/adadelta_rule.h"

namespace adamant::kernels::ADAMANT_TARGET {

// state: square_avg, acc_delta.
void Adadelta(const void* modes_ptr, const Slot& slot, int64_t begin, int64_t end) {
  const auto& modes = *static_cast<const AdadeltaModes*>(modes_ptr);
  DispatchBools(
      [&](auto l2) {
        ForVariant(slot, [&](auto v) {
          using V = decltype(v);
          using S = typename V::Compute;
          const auto s = ScalarsOf<rules::AdadeltaScalars, V>(slot);
          Loop<V>(
              slot, begin, end, [=](S& p, S g, S& sq, S& acc) { rules::AdadeltaUpdate<l2()>(s, p, g, sq, acc); },
              StatePtr<V>(slot, 0), StatePtr<V>(slot, 1));
        });
      },
      modes.l2);
}

}  // namespace adamant::kernels::ADAMANT_TARGET
