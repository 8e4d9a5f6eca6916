#include "timing.h"

#include <algorithm>
#include <chrono>

namespace adamant_bench {

double Timing::Median() const {
  std::vector<double> v = ms;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
double Timing::Min() const { return *std::min_element(ms.begin(), ms.end()); }
double Timing::Max() const { return *std::max_element(ms.begin(), ms.end()); }

namespace {

double TimeMs(const std::function<void()>& step) {
  const auto start = std::chrono::steady_clock::now();
  step();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Timing TimeSteps(const RepPolicy& policy, const std::function<void()>& step,
                 const std::function<void()>& after_first_step) {
  return TimeInterleaved(policy, {step}, after_first_step)[0];
}

std::vector<Timing> TimeInterleaved(const RepPolicy& policy, const std::vector<std::function<void()>>& steps,
                                    const std::function<void()>& after_first_round) {
  std::vector<Timing> t(steps.size());
  int warmup = after_first_round ? std::max(policy.warmup, 1) : policy.warmup;
  int min_reps = policy.min_reps;
  for (int i = 0; i < warmup; ++i) {
    double round_ms = 0;
    for (const auto& step : steps) round_ms += TimeMs(step);
    if (i == 0 && after_first_round) after_first_round();
    if (i == 0 && policy.adaptive && round_ms >= 1e3 * policy.max_seconds / 2) {
      warmup = 1;
      min_reps = std::min(min_reps, round_ms >= 3e3 * policy.max_seconds ? 1 : 2);
    }
  }
  double total_ms = 0;
  for (int rep = 1; rep <= policy.max_reps; ++rep) {
    for (size_t k = 0; k < steps.size(); ++k) total_ms += t[k].ms.emplace_back(TimeMs(steps[k]));
    if (rep >= min_reps && total_ms >= 1e3 * policy.max_seconds) break;
  }
  for (Timing& x : t) x.warmup = warmup;
  return t;
}

}  // namespace adamant_bench
