// Every optimizer class of the list (adamant/algorithms.h) as GoogleTest's type list, so that typed tests
// cover a new algorithm without being edited (and fail to compile where they need its traits).
#ifndef ADAMANT_TESTS_SUPPORT_OPTIMIZER_TYPES_H_
#define ADAMANT_TESTS_SUPPORT_OPTIMIZER_TYPES_H_

#include <gtest/gtest.h>

#include "adamant/algorithms.h"
#include "adamant/optimizer.h"

namespace adamant::test_support {

// ::testing::Types<T...> without the `void`s in T (the list's expansion ends with one, after its commas).
template <class Done, class... In>
struct WithoutVoid;
template <class... Done>
struct WithoutVoid<::testing::Types<Done...>> {
  using type = ::testing::Types<Done...>;
};
template <class... Done, class T, class... In>
struct WithoutVoid<::testing::Types<Done...>, T, In...> {
  using type = typename WithoutVoid<::testing::Types<Done..., T>, In...>::type;
};
template <class... Done, class... In>
struct WithoutVoid<::testing::Types<Done...>, void, In...> {
  using type = typename WithoutVoid<::testing::Types<Done...>, In...>::type;
};

#define ADAMANT_TEST_OPTIMIZER_TYPE(Class, ...) ::adamant::Class,
using OptimizerTypes =
    WithoutVoid<::testing::Types<>, ADAMANT_OPTIMIZERS(ADAMANT_TEST_OPTIMIZER_TYPE, ADAMANT_TEST_OPTIMIZER_TYPE) void>::type;
#undef ADAMANT_TEST_OPTIMIZER_TYPE

}  // namespace adamant::test_support

#endif  // ADAMANT_TESTS_SUPPORT_OPTIMIZER_TYPES_H_
