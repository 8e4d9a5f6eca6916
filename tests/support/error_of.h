// The message of the exception a call throws, for tests that assert on messages.
#ifndef ADAMANT_TESTS_SUPPORT_ERROR_OF_H_
#define ADAMANT_TESTS_SUPPORT_ERROR_OF_H_

#include <stdexcept>
#include <string>

namespace adamant::test_support {

inline constexpr const char* kNoError = "<no error>";

// what() of the exception of type E that f() throws, or kNoError if it returns; an exception of another
// type escapes (and fails the test).
template <class E = std::invalid_argument, class F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return kNoError;
}

}  // namespace adamant::test_support

#endif  // ADAMANT_TESTS_SUPPORT_ERROR_OF_H_
