#include "kernels/loop.h"
#include "kernels/target.h"
#include "rules/rmsprop_rule.h"

namespace adamant::kernels::ADAMANT_TARGET {

// state: square_avg, momentum_buffer (momentum > 0), grad_avg (centered).
void RMSprop(const void* modes_ptr, const Slot& slot, int64_t begin, int64_t end) {
  const auto& modes = *static_cast<const RMSpropModes*>(modes_ptr);
  DispatchBools(
      [&](auto l2, auto centered, auto momentum) {
        ForVariant(slot, [&](auto v) {
          using V = decltype(v);
          using S = typename V::Compute;
          const auto s = ScalarsOf<rules::RMSpropScalars, V>(slot);
          S* sq = StatePtr<V>(slot, 0);
          S* buf = StatePtr<V>(slot, 1);
          S* avg = StatePtr<V>(slot, 2);
          auto rule = [=](S& p, S g, S& square_avg, S& b, S& a) {
            rules::RMSpropUpdate<l2(), centered(), momentum()>(s, p, g, square_avg, b, a);
          };
          // Pass only the buffers the mode uses: absent ones are null and must not be indexed.
          if constexpr (centered() && momentum()) {
            Loop<V>(slot, begin, end, rule, sq, buf, avg);
          } else if constexpr (centered()) {
            Loop<V>(slot, begin, end, [=](S& p, S g, S& q, S& a) { S b{}; rule(p, g, q, b, a); }, sq, avg);
          } else if constexpr (momentum()) {
            Loop<V>(slot, begin, end, [=](S& p, S g, S& q, S& b) { S a{}; rule(p, g, q, b, a); }, sq, buf);
          } else {
            Loop<V>(slot, begin, end, [=](S& p, S g, S& q) { S a{}, b{}; rule(p, g, q, b, a); }, sq);
          }
        });
      },
      modes.l2, modes.centered, modes.momentum);
}

}  // namespace adamant::kernels::ADAMANT_TARGET
