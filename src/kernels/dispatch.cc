// Runtime choice of the SIMD target: the best one this CPU supports, unless forced.
#include <cpuid.h>

#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/kernels.h"

#define ADAMANT_DECLARE_TARGET(T)                                        \
  namespace adamant::kernels::T {                                        \
  void Adam(const void*, const Slot&, int64_t, int64_t);                 \
  void Adamax(const void*, const Slot&, int64_t, int64_t);               \
  void NAdam(const void*, const Slot&, int64_t, int64_t);                \
  void RAdam(const void*, const Slot&, int64_t, int64_t);                \
  void Adagrad(const void*, const Slot&, int64_t, int64_t);              \
  void RMSprop(const void*, const Slot&, int64_t, int64_t);              \
  void Adadelta(const void*, const Slot&, int64_t, int64_t);             \
  void SGD(const void*, const Slot&, int64_t, int64_t);                  \
  bool AllFinite(const Slot&, int64_t, int64_t);                         \
  double GradNorm(const Slot&, int64_t, int64_t, NormKind, double);      \
  void ScaleGrad(const void*, const Slot&, int64_t, int64_t);            \
  void ClampGrad(const void*, const Slot&, int64_t, int64_t);            \
  }
ADAMANT_DECLARE_TARGET(avx512)
ADAMANT_DECLARE_TARGET(avx2)
ADAMANT_DECLARE_TARGET(baseline)
#undef ADAMANT_DECLARE_TARGET

namespace adamant::kernels {
namespace {

#define ADAMANT_TABLE(T)                                                                                  \
  KernelTable{#T,           T::Adam,      T::Adamax,  T::NAdam,    T::RAdam,     T::Adagrad, T::RMSprop, \
              T::Adadelta,  T::SGD,       T::AllFinite, T::GradNorm, T::ScaleGrad, T::ClampGrad}

// Best first.
const KernelTable kTables[] = {ADAMANT_TABLE(avx512), ADAMANT_TABLE(avx2), ADAMANT_TABLE(baseline)};
#undef ADAMANT_TABLE

// F16C is CPUID leaf 1, ECX bit 29. Read directly because clang 14's __builtin_cpu_supports does not
// know "f16c" (the fuzz build uses clang).
bool HasF16C() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

bool Supported(std::string_view target) {
  __builtin_cpu_init();
  if (target == "avx512") {
    // The flags the avx512 copy is compiled with (CMakeLists.txt). libgcc also checks that the OS saves
    // the AVX-512 registers.
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && HasF16C();
  }
  if (target == "avx2") {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && HasF16C();
  }
  return target == "baseline";
}

std::vector<const KernelTable*> Available() {
  std::vector<const KernelTable*> out;
  for (const KernelTable& t : kTables) {
    if (Supported(t.target)) out.push_back(&t);
  }
  return out;
}

const std::vector<const KernelTable*>& AvailableTables() {
  static const std::vector<const KernelTable*> tables = Available();
  return tables;
}

const KernelTable* Find(std::string_view name) {
  for (const KernelTable* t : AvailableTables()) {
    if (t->target == name) return t;
  }
  return nullptr;
}

const KernelTable* Automatic() {
  static const KernelTable* table = [] {
    if (const char* env = std::getenv("ADAMANT_TARGET"); env != nullptr && *env != '\0') {
      if (const KernelTable* t = Find(env)) return t;
      // An unusable setting is not worth failing a training run for: fall back to the best target.
    }
    return AvailableTables().front();
  }();
  return table;
}

const KernelTable* g_forced = nullptr;

}  // namespace

const KernelTable& Active() { return g_forced != nullptr ? *g_forced : *Automatic(); }

int NumAvailableTargets() { return static_cast<int>(AvailableTables().size()); }

const KernelTable& AvailableTarget(int i) { return *AvailableTables().at(static_cast<size_t>(i)); }

void SetTarget(std::string_view name) {
  if (name.empty()) {
    g_forced = nullptr;
    return;
  }
  const KernelTable* t = Find(name);
  if (t == nullptr) {
    std::string available;
    for (const KernelTable* a : AvailableTables()) available += (available.empty() ? "" : ", ") + std::string(a->target);
    throw std::invalid_argument("SIMD target '" + std::string(name) + "' is not available here (available: " +
                                available + ")");
  }
  g_forced = t;
}

}  // namespace adamant::kernels
