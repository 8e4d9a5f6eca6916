// Warm-up, then timed steps until a repetition count or a time budget is reached; medians.
#ifndef ADAMANT_BENCH_TIMING_H_
#define ADAMANT_BENCH_TIMING_H_

#include <functional>
#include <vector>

namespace adamant_bench {

// How many steps a case takes. So that a full run stays bounded (on a busy machine some peers take seconds
// per step), unless `adaptive` is off (--warmup or --min-reps given):
//   - a slow case (its first step took max_seconds / 2 or more: big shapes, slow peers) gets 1 warm-up
//     step and at least 2 timed ones;
//   - a very slow case (first step 3 * max_seconds or more) gets 1 warm-up step and 1 timed one.
struct RepPolicy {
  int warmup = 2;            // untimed steps first (state allocation, page faults, caches)
  int min_reps = 3;          // timed steps, at least ...
  int max_reps = 30;         // ... and at most
  double max_seconds = 0.5;  // stop after min_reps once the timed steps took this long
  bool adaptive = true;
};

struct Timing {
  int warmup = 0;
  std::vector<double> ms;  // one per timed step
  bool empty() const { return ms.empty(); }
  double Median() const;
  double Min() const;
  double Max() const;
};

// Runs `step` policy.warmup times (at least once when `after_first_step` is given, which then runs after
// the first step), then times single calls as the policy says.
Timing TimeSteps(const RepPolicy& policy, const std::function<void()>& step,
                 const std::function<void()>& after_first_step = nullptr);

// The same with rounds of several steps, each timed on its own: step 0, step 1, ..., step 0, step 1 ...
// Steps timed alternately see the same load, so their ratio holds up on a busy machine even when their
// times do not. The policy applies to the rounds (a round's time decides whether the case is slow).
std::vector<Timing> TimeInterleaved(const RepPolicy& policy, const std::vector<std::function<void()>>& steps,
                                    const std::function<void()>& after_first_round = nullptr);

}  // namespace adamant_bench

#endif  // ADAMANT_BENCH_TIMING_H_
