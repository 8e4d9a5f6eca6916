// One functional::Step of fp32 Adam on 20M elements with float32, bfloat16 and int8 state, best of 8,
// for 1 and 2 threads, on the active kernel target (ADAMANT_TARGET=avx2 ... picks another): the functional
// layer alone, beside make bench's -int8state rows (docs/performance.md, "int8 state").
//
//   cmake --build build-bench --target state_storage_timing && build-bench/bench/state_storage_timing
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "adamant/functional.h"
#include "adamant/options.h"
#include "adamant/threads.h"

int main() {
  using adamant::StateStorage;
  constexpr int64_t n = 20'000'000;
  constexpr int64_t blocks = (n + 255) / 256;
  std::vector<float> w(n, 0.5f), g(n, 0.01f), m(n, 0.0f), v(n, 0.0f), absmax(2 * blocks, 0.0f);
  std::vector<uint16_t> m16(n), v16(n);
  std::vector<uint8_t> m8(n, 127), v8(n, 0);
  const char* names[] = {"float32", "bfloat16", "int8"};
  const double bytes[] = {28.0, 20.0, 16.0 + 8.0 / 256};  // per element: param, grad, state
  for (int threads : {1, 2}) {
    adamant::SetNumThreads(threads);
    double first = 0.0;
    for (int mode = 0; mode < 3; ++mode) {
      adamant::functional::Tensor t{adamant::ParamView{w.data(), g.data(), n, adamant::DType::kFloat32}};
      if (mode == 0) t.state = {m.data(), v.data()};
      if (mode == 1) {
        t.state = {m16.data(), v16.data()};
        t.state_storage = {StateStorage::kBFloat16, StateStorage::kBFloat16};
      }
      if (mode == 2) {
        t.state = {m8.data(), v8.data()};
        t.state_storage = {StateStorage::kInt8, StateStorage::kInt8};
        t.state_absmax = {absmax.data(), absmax.data() + blocks};
      }
      double best = 1e9;
      for (int rep = 0; rep < 8; ++rep) {
        t.step = rep + 1;
        const auto a = std::chrono::steady_clock::now();
        adamant::functional::Step({&t, 1}, adamant::AdamOptions{.lr = 1e-3});
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
      }
      if (mode == 0) first = best;
      std::printf("threads %d  %-8s state  %7.2f ms  %5.1f GB/s  time / float32's %.2f\n", threads, names[mode],
                  best * 1e3, bytes[mode] * n / best / 1e9, best / first);
    }
  }
}
