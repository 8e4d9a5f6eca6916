// The cases the tests of state storages (bfloat16, int8) run through: every algorithm with options under
// which its rule uses every state buffer it has, on every kernel target of this machine.
#ifndef ADAMANT_TESTS_SUPPORT_STATE_STORAGE_CASES_H_
#define ADAMANT_TESTS_SUPPORT_STATE_STORAGE_CASES_H_

#include <gtest/gtest.h>

#include <string>
#include <type_traits>

#include "adamant/options.h"
#include "adamant/threads.h"
#include "kernels/kernels.h"

namespace adamant::test_support {

// Calls f(name, options) for every algorithm.
template <class F>
void ForEveryAlgorithmUsingEveryBuffer(F&& f) {
  f("adam", AdamOptions{.weight_decay = 0.01, .amsgrad = true});
  f("adamw", AdamWOptions{});
  f("adamax", AdamaxOptions{});
  f("nadam", NAdamOptions{});
  f("radam", RAdamOptions{});
  f("adagrad", AdagradOptions{});
  f("rmsprop", RMSpropOptions{.momentum = 0.9, .centered = true});
  f("adadelta", AdadeltaOptions{});
  f("sgd", SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
  f("lion", LionOptions{});
}

// The same with the options under which int8 state may keep every buffer it can: RMSprop not centered
// (its options refuse int8 square_avg and grad_avg then).
template <class F>
void ForEveryAlgorithmWithInt8State(F&& f) {
  ForEveryAlgorithmUsingEveryBuffer([&](const char* name, const auto& options) {
    auto o = options;
    if constexpr (std::is_same_v<std::decay_t<decltype(o)>, RMSpropOptions>) o.centered = false;
    f(name, o);
  });
}

// Calls f() on every kernel target this machine runs, with `threads` threads; then restores both.
template <class F>
void ForEveryTarget(int threads, F&& f) {
  const int saved = GetNumThreads();
  SetNumThreads(threads);
  for (int target = 0; target < kernels::NumAvailableTargets(); ++target) {
    kernels::SetTarget(kernels::AvailableTarget(target).target);
    SCOPED_TRACE(std::string(kernels::AvailableTarget(target).target));
    f();
  }
  kernels::SetTarget("");
  SetNumThreads(saved);
}

}  // namespace adamant::test_support

#endif  // ADAMANT_TESTS_SUPPORT_STATE_STORAGE_CASES_H_
