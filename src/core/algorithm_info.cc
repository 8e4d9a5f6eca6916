// What each optimizer keeps, read from its descriptor (variants from their base's).
#include "adamant/algorithm_info.h"

#include <array>

#include "adamant/algorithms.h"
#include "algorithms/all.h"

namespace adamant {
namespace {

// The names of A's buffers, in their order.
template <class A>
constexpr std::array<std::string_view, A::kState.size()> kNames = [] {
  std::array<std::string_view, A::kState.size()> names;
  for (size_t k = 0; k < names.size(); ++k) names[k] = A::kState[k].name;
  return names;
}();

template <class A>
constexpr AlgorithmInfo InfoOf(std::string_view name) {
  return {name, kNames<A>, A::kState, A::kCountsSteps, A::kScalarState};
}

#define ADAMANT_INFO(Class, name) InfoOf<algorithms::Class>(name),
#define ADAMANT_VARIANT_INFO(Class, name, Base) InfoOf<algorithms::Base>(name),
constexpr AlgorithmInfo kAlgorithms[] = {ADAMANT_OPTIMIZERS(ADAMANT_INFO, ADAMANT_VARIANT_INFO)};
#undef ADAMANT_INFO
#undef ADAMANT_VARIANT_INFO

}  // namespace

std::span<const AlgorithmInfo> Algorithms() { return kAlgorithms; }

const AlgorithmInfo* FindAlgorithm(std::string_view name) {
  for (const AlgorithmInfo& a : kAlgorithms) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace adamant
