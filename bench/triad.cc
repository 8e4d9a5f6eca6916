#include "triad.h"

#include <omp.h>

#include <stdexcept>

namespace adamant_bench {
namespace {

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void TriadKernel(
    int64_t n, float* __restrict a, const float* __restrict b, const float* __restrict c, float s) {
  for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

}  // namespace

void TriadStep(float* a, const float* b, const float* c, float s, const Partition& partition, int threads) {
  if (partition.parts() != threads) throw std::invalid_argument("triad: partition has the wrong part count");
#pragma omp parallel num_threads(threads)
  for (int part = omp_get_thread_num(); part < partition.parts(); part += omp_get_num_threads()) {
    partition.ForEach(part, [&](size_t, int64_t lo, int64_t hi) { TriadKernel(hi - lo, a + lo, b + lo, c + lo, s); });
  }
}

}  // namespace adamant_bench
