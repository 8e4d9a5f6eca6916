// Learning-rate schedules: the learning rate of optimizer step t as a function of the base rate, in double.
//
//   adamant::Schedule schedule{.kind = adamant::ScheduleKind::kCosine, .warmup_steps = 500, .total_steps = 10000};
//   for (int64_t t = 1; ...; ++t) { opt.set_lr(0, adamant::ScheduledLr(schedule, 1e-3, t)); opt.Step(); }
//
// Steps count from 1 (the first optimizer step is t = 1). With `warmup_steps` W > 0 the rate rises linearly,
// base * t / W for t <= W, and the schedule proper then runs on s = t - W (s = 1 right after the warmup):
//   constant      base
//   inverse_sqrt  base / sqrt(s)                          (Kingma & Ba's alpha_t = alpha / sqrt(t))
//   step          base * gamma^floor((s - 1) / period)    (torch.optim.lr_scheduler.StepLR, period in steps)
//   exponential   base * gamma^((s - 1) / period)         (ExponentialLR when period is 1; gamma per period)
//   cosine        min_lr + (base - min_lr) * (1 + cos(pi * min(s - 1, T) / T)) / 2,  T = total_steps - W
//                 (CosineAnnealingLR without restarts; stays at min_lr after T)
// A function of t alone: resuming at step t needs nothing but t.
#ifndef ADAMANT_SCHEDULE_H_
#define ADAMANT_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace adamant {

enum class ScheduleKind { kConstant, kInverseSqrt, kStep, kExponential, kCosine };

struct Schedule {
  ScheduleKind kind = ScheduleKind::kConstant;
  int64_t warmup_steps = 0;
  double gamma = 0.1;       // step, exponential: factor per period
  double period = 1.0;      // step, exponential: steps per period
  int64_t total_steps = 0;  // cosine: warmup plus decay, in steps
  double min_lr = 0.0;      // cosine: the rate at the end
};

// Throws std::invalid_argument naming the bad field (negative warmup, gamma <= 0, period <= 0, cosine
// without total_steps > warmup_steps, negative min_lr).
void Validate(const Schedule& schedule);

// The learning rate of step `step` (>= 1). Assumes a valid schedule.
double ScheduledLr(const Schedule& schedule, double base_lr, int64_t step);

// "constant", "inverse_sqrt", "step", "exponential", "cosine".
std::string_view ScheduleName(ScheduleKind kind);
std::vector<std::string_view> ScheduleNames();
// Throws std::invalid_argument listing the valid names.
ScheduleKind ParseScheduleKind(std::string_view name);

}  // namespace adamant

#endif  // ADAMANT_SCHEDULE_H_
