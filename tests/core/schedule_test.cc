// Learning-rate schedules: each formula of schedule.h at chosen steps, warmup, and validation messages.
#include "adamant/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace adamant {
namespace {

TEST(Schedule, ConstantAndWarmup) {
  Schedule s;
  EXPECT_EQ(ScheduledLr(s, 0.1, 1), 0.1);
  EXPECT_EQ(ScheduledLr(s, 0.1, 1000), 0.1);
  s.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(ScheduledLr(s, 0.1, 1), 0.025);
  EXPECT_DOUBLE_EQ(ScheduledLr(s, 0.1, 3), 0.075);
  EXPECT_DOUBLE_EQ(ScheduledLr(s, 0.1, 4), 0.1);
  EXPECT_DOUBLE_EQ(ScheduledLr(s, 0.1, 5), 0.1);
}

TEST(Schedule, InverseSqrtIsThePapersAlphaOverSqrtT) {
  Schedule s{.kind = ScheduleKind::kInverseSqrt};
  for (int t : {1, 2, 9, 100}) EXPECT_DOUBLE_EQ(ScheduledLr(s, 0.5, t), 0.5 / std::sqrt(t)) << t;
  s.warmup_steps = 10;  // the decay starts after the warmup: s = t - 10
  EXPECT_DOUBLE_EQ(ScheduledLr(s, 0.5, 11), 0.5);
  EXPECT_DOUBLE_EQ(ScheduledLr(s, 0.5, 14), 0.25);
}

TEST(Schedule, StepAndExponential) {
  Schedule step{.kind = ScheduleKind::kStep, .gamma = 0.5, .period = 3};
  EXPECT_DOUBLE_EQ(ScheduledLr(step, 1.0, 1), 1.0);
  EXPECT_DOUBLE_EQ(ScheduledLr(step, 1.0, 3), 1.0);
  EXPECT_DOUBLE_EQ(ScheduledLr(step, 1.0, 4), 0.5);
  EXPECT_DOUBLE_EQ(ScheduledLr(step, 1.0, 7), 0.25);
  Schedule exp{.kind = ScheduleKind::kExponential, .gamma = 0.5, .period = 2};
  EXPECT_DOUBLE_EQ(ScheduledLr(exp, 1.0, 1), 1.0);
  EXPECT_DOUBLE_EQ(ScheduledLr(exp, 1.0, 2), std::pow(0.5, 0.5));
  EXPECT_DOUBLE_EQ(ScheduledLr(exp, 1.0, 5), 0.25);
}

TEST(Schedule, CosineFromBaseToMinAndStaysThere) {
  Schedule s{.kind = ScheduleKind::kCosine, .warmup_steps = 2, .total_steps = 12, .min_lr = 0.1};
  EXPECT_DOUBLE_EQ(ScheduledLr(s, 1.0, 2), 1.0);  // end of warmup
  EXPECT_DOUBLE_EQ(ScheduledLr(s, 1.0, 3), 1.0);  // s = 1: cos(0)
  EXPECT_DOUBLE_EQ(ScheduledLr(s, 1.0, 8), 0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi * 0.5)));
  EXPECT_DOUBLE_EQ(ScheduledLr(s, 1.0, 13), 0.1);
  EXPECT_DOUBLE_EQ(ScheduledLr(s, 1.0, 100), 0.1);
}

std::string Message(const Schedule& s) {
  try {
    Validate(s);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "valid";
}

TEST(Schedule, ValidationNamesTheField) {
  EXPECT_EQ(Message({}), "valid");
  EXPECT_EQ(Message({.warmup_steps = -1}), "schedule: warmup_steps must be >= 0, got -1");
  EXPECT_EQ(Message({.kind = ScheduleKind::kStep, .gamma = 0}), "schedule: gamma must be > 0, got 0.0");
  EXPECT_EQ(Message({.kind = ScheduleKind::kExponential, .period = 0}), "schedule: period must be > 0, got 0.0");
  EXPECT_EQ(Message({.kind = ScheduleKind::kCosine, .warmup_steps = 5, .total_steps = 5}),
            "schedule: cosine needs total_steps > warmup_steps, got total_steps 5 and warmup_steps 5");
}

TEST(Schedule, Names) {
  for (auto name : ScheduleNames()) EXPECT_EQ(ScheduleName(ParseScheduleKind(name)), name);
  try {
    ParseScheduleKind("linear");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "unknown schedule 'linear' (valid: constant, inverse_sqrt, step, exponential, cosine)");
  }
}

}  // namespace
}  // namespace adamant
