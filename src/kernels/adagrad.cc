#include "kernels/loop.h"
#include "kernels/target.h"
#include "rules/adagrad_rule.h"

namespace adamant::kernels::ADAMANT_TARGET {

// state: sum.
void Adagrad(const void* modes_ptr, const Slot& slot, int64_t begin, int64_t end) {
  const auto& modes = *static_cast<const AdagradModes*>(modes_ptr);
  DispatchBools(
      [&](auto l2) {
        ForVariant(slot, [&](auto v) {
          using V = decltype(v);
          using S = typename V::Compute;
          const auto s = ScalarsOf<rules::AdagradScalars, V>(slot);
          Loop<V>(
              slot, begin, end, [=](S& p, S g, S& sum) { rules::AdagradUpdate<l2()>(s, p, g, sum); },
              StatePtr<V>(slot, 0));
        });
      },
      modes.l2);
}

}  // namespace adamant::kernels::ADAMANT_TARGET
