#include "adamant/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "adamant/option_text.h"

namespace adamant {
namespace {

constexpr ScheduleKind kKinds[] = {ScheduleKind::kConstant, ScheduleKind::kInverseSqrt, ScheduleKind::kStep,
                                   ScheduleKind::kExponential, ScheduleKind::kCosine};

[[noreturn]] void Fail(const std::string& what) { throw std::invalid_argument("schedule: " + what); }

}  // namespace

void Validate(const Schedule& s) {
  if (s.warmup_steps < 0) Fail("warmup_steps must be >= 0, got " + std::to_string(s.warmup_steps));
  if (s.kind == ScheduleKind::kStep || s.kind == ScheduleKind::kExponential) {
    if (!(s.gamma > 0.0)) Fail("gamma must be > 0, got " + FormatNumber(s.gamma));
    if (!(s.period > 0.0)) Fail("period must be > 0, got " + FormatNumber(s.period));
  }
  if (s.kind == ScheduleKind::kCosine) {
    if (s.total_steps <= s.warmup_steps) {
      Fail("cosine needs total_steps > warmup_steps, got total_steps " + std::to_string(s.total_steps) +
           " and warmup_steps " + std::to_string(s.warmup_steps));
    }
    if (!(s.min_lr >= 0.0)) Fail("min_lr must be >= 0, got " + FormatNumber(s.min_lr));
  }
}

double ScheduledLr(const Schedule& s, double base_lr, int64_t step) {
  const int64_t t = std::max<int64_t>(step, 1);
  if (t <= s.warmup_steps) return base_lr * static_cast<double>(t) / static_cast<double>(s.warmup_steps);
  const double since = static_cast<double>(t - s.warmup_steps - 1);  // s - 1: 0 right after the warmup
  switch (s.kind) {
    case ScheduleKind::kConstant: return base_lr;
    case ScheduleKind::kInverseSqrt: return base_lr / std::sqrt(since + 1.0);
    case ScheduleKind::kStep: return base_lr * std::pow(s.gamma, std::floor(since / s.period));
    case ScheduleKind::kExponential: return base_lr * std::pow(s.gamma, since / s.period);
    case ScheduleKind::kCosine: {
      const double length = static_cast<double>(s.total_steps - s.warmup_steps);
      const double x = std::min(since, length) / length;
      return s.min_lr + (base_lr - s.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * x));
    }
  }
  return base_lr;
}

std::string_view ScheduleName(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kConstant: return "constant";
    case ScheduleKind::kInverseSqrt: return "inverse_sqrt";
    case ScheduleKind::kStep: return "step";
    case ScheduleKind::kExponential: return "exponential";
    case ScheduleKind::kCosine: return "cosine";
  }
  return "constant";
}

std::vector<std::string_view> ScheduleNames() {
  std::vector<std::string_view> names;
  for (ScheduleKind k : kKinds) names.push_back(ScheduleName(k));
  return names;
}

ScheduleKind ParseScheduleKind(std::string_view name) {
  std::string valid;
  for (ScheduleKind k : kKinds) {
    if (ScheduleName(k) == name) return k;
    valid += (valid.empty() ? "" : ", ") + std::string(ScheduleName(k));
  }
  throw std::invalid_argument("unknown schedule '" + std::string(name) + "' (valid: " + valid + ")");
}

}  // namespace adamant
