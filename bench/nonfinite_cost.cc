// What the non-finite policies and loss scaling cost per step: Adam on one float32 tensor, timed with
// the default policy (propagate), skip, raise (finite gradients, so every step is taken), grad_scale != 1,
// and the read-only check alone. A rough timing program, not a test; the figures are in docs/design.md.
//
//   c++ -O2 -std=c++20 -fopenmp -Iinclude bench/nonfinite_cost.cc build/libadamant.a -o nonfinite_cost
//   ./nonfinite_cost [numel=10000000] [threads=2] [rounds=30]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <vector>

#include "adamant/adamant.h"

namespace {

// Milliseconds of CPU time the process used (all threads): on a shared machine, unlike the wall clock,
// it leaves out the time this process was not running.
double CpuMs() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

struct Timing {
  double wall, cpu;
};

Timing Measure(const std::function<void()>& f) {
  const double c0 = CpuMs();
  const auto t0 = std::chrono::steady_clock::now();
  f();
  const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return {wall, CpuMs() - c0};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 10'000'000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int steps = argc > 3 ? std::atoi(argv[3]) : 30;
  adamant::SetNumThreads(threads);
  std::vector<float> w(static_cast<size_t>(n), 0.5f), g(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) g[static_cast<size_t>(i)] = 1e-3f * static_cast<float>(i % 1000 - 500);
  const std::vector<adamant::ParamView> params = {adamant::MakeParam(w.data(), g.data(), n)};
  adamant::Adam opt(params, {.lr = 1e-6});

  struct Case {
    const char* name;
    std::function<void()> run;
  };
  // Loss scaling writes the unscaled gradient back, so the grad_scale cases divide by 2 and by 0.5 in
  // turn (both exact): the gradients stay as they were.
  double scale = 2.0;
  const std::vector<Case> cases = {
      {"propagate (default)", [&] { opt.set_nonfinite(adamant::NonFinite::kPropagate), opt.Step(); }},
      {"skip", [&] { opt.set_nonfinite(adamant::NonFinite::kSkip), opt.Step(); }},
      {"raise", [&] { opt.set_nonfinite(adamant::NonFinite::kRaise), opt.Step(); }},
      {"propagate, grad_scale", [&] {
         opt.set_nonfinite(adamant::NonFinite::kPropagate);
         opt.Step({.grad_scale = scale});
         scale = scale == 2.0 ? 0.5 : 2.0;
       }},
      {"skip, grad_scale", [&] {
         opt.set_nonfinite(adamant::NonFinite::kSkip);
         opt.Step({.grad_scale = scale});
         scale = scale == 2.0 ? 0.5 : 2.0;
       }},
      {"check alone", [&] { (void)adamant::functional::FirstNonFinite(params); }},
      {"clip_grad_norm (no clip)", [&] { (void)adamant::ClipGradNorm(params, 1e30); }},
  };
  std::printf("Adam, 1 x %lld float32, %d threads: medians over %d rounds, each round one step of every case\n"
              "  (cpu: CPU time of all threads per step; with one thread it leaves out time the step was not "
              "running)\n",
              static_cast<long long>(n), threads, steps);
  // Every round runs every case once, so that a busy neighbour slows the cases alike.
  std::vector<std::vector<double>> wall(cases.size()), cpu(cases.size());
  for (int r = 0; r < steps + 2; ++r) {
    for (size_t c = 0; c < cases.size(); ++c) {
      const Timing t = Measure(cases[c].run);
      if (r >= 2) wall[c].push_back(t.wall), cpu[c].push_back(t.cpu);  // two warm-up rounds
    }
  }
  const double base_wall = Median(wall[0]), base_cpu = Median(cpu[0]);
  for (size_t c = 0; c < cases.size(); ++c) {
    const double w = Median(wall[c]), u = Median(cpu[c]);
    std::printf("  %-26s wall %8.3f ms %+6.1f%%   cpu %8.3f ms %+6.1f%%\n", cases[c].name, w,
                100.0 * (w - base_wall) / base_wall, u, 100.0 * (u - base_cpu) / base_cpu);
  }
  return opt.last_step_skipped() ? 1 : 0;
}
