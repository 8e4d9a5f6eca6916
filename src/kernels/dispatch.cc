// Runtime choice of the SIMD target: the best one this CPU supports, unless forced.
#include <cpuid.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/kernels.h"

#define ADAMANT_TARGET avx512  // for target.h's declarations; this file is compiled once, without target flags
#include "kernels/target.h"
#undef ADAMANT_TARGET
ADAMANT_DECLARE_TARGET(avx2)
ADAMANT_DECLARE_TARGET(baseline)

namespace adamant::kernels {
namespace {

// Each member by name: a member left out would be a null pointer, so none is spelled out by hand.
#define ADAMANT_STEP_ENTRY(T, Class) .Class = &T::Step<algorithms::Class>,
#define ADAMANT_TABLE(T)                                                                                   \
  KernelTable {                                                                                            \
    .target = #T, ADAMANT_OPTIMIZERS(ADAMANT_STEP_ENTRY_##T, ADAMANT_SKIP_VARIANT).all_finite = T::AllFinite, \
    .grad_norm = T::GradNorm, .scale_grad = T::ScaleGrad, .clamp_grad = T::ClampGrad                       \
  }
#define ADAMANT_STEP_ENTRY_avx512(Class, name) ADAMANT_STEP_ENTRY(avx512, Class)
#define ADAMANT_STEP_ENTRY_avx2(Class, name) ADAMANT_STEP_ENTRY(avx2, Class)
#define ADAMANT_STEP_ENTRY_baseline(Class, name) ADAMANT_STEP_ENTRY(baseline, Class)

// Best first: the targets this build compiled (CMake's ADAMANT_KERNEL_TARGETS; the baseline always).
const KernelTable kTables[] = {
#ifdef ADAMANT_HAS_TARGET_avx512
    ADAMANT_TABLE(avx512),
#endif
#ifdef ADAMANT_HAS_TARGET_avx2
    ADAMANT_TABLE(avx2),
#endif
    ADAMANT_TABLE(baseline)};
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

// Read by every thread that steps, written by SetTarget.
std::atomic<const KernelTable*> g_forced{nullptr};

}  // namespace

const KernelTable& Active() {
  const KernelTable* forced = g_forced.load(std::memory_order_relaxed);
  return forced != nullptr ? *forced : *Automatic();
}

int NumAvailableTargets() { return static_cast<int>(AvailableTables().size()); }

const KernelTable& AvailableTarget(int i) { return *AvailableTables().at(static_cast<size_t>(i)); }

void SetTarget(std::string_view name) {
  if (name.empty()) {
    g_forced.store(nullptr);
    return;
  }
  const KernelTable* t = Find(name);
  if (t == nullptr) {
    std::string available;
    for (const KernelTable* a : AvailableTables()) available += (available.empty() ? "" : ", ") + std::string(a->target);
    throw std::invalid_argument("SIMD target '" + std::string(name) + "' is not available here (available: " +
                                available + ")");
  }
  g_forced.store(t);
}

}  // namespace adamant::kernels
