#include "kernels/loop.h"
#include "kernels/target.h"
#include "rules/sgd_rule.h"

namespace adamant::kernels::ADAMANT_TARGET {

// state: momentum_buffer (momentum != 0); slot.flag: first step (the buffer is set to the gradient).
void SGD(const void* modes_ptr, const Slot& slot, int64_t begin, int64_t end) {
  const auto& modes = *static_cast<const SGDModes*>(modes_ptr);
  DispatchBools(
      [&](auto l2, auto momentum, auto first, auto nesterov) {
        ForVariant(slot, [&](auto v) {
          using V = decltype(v);
          using S = typename V::Compute;
          const auto s = ScalarsOf<rules::SGDScalars, V>(slot);
          if constexpr (momentum()) {
            Loop<V>(
                slot, begin, end,
                [=](S& p, S g, S& buf) { rules::SGDUpdate<l2(), true, first(), nesterov()>(s, p, g, buf); },
                StatePtr<V>(slot, 0));
          } else if constexpr (!first() && !nesterov()) {  // without momentum, first/nesterov do not apply
            Loop<V>(slot, begin, end, [=](S& p, S g) {
              S unused{};
              rules::SGDUpdate<l2(), false, false, false>(s, p, g, unused);
            });
          }
        });
      },
      modes.l2, modes.momentum, modes.momentum && slot.flag, modes.momentum && modes.nesterov);
}

}  // namespace adamant::kernels::ADAMANT_TARGET
