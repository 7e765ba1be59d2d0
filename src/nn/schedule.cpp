#include "backprop/nn/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "backprop/base/error.hpp"

namespace backprop {

void validate(const ScheduleSpec& schedule) {
  if (schedule.warmup_steps < 0) throw_bad_input("schedule.warmup_steps: expected a whole number >= 0");
  if (schedule.step_size < 0) throw_bad_input("schedule.step_size: expected a whole number >= 0");
  if (!(schedule.gamma > 0.0 && std::isfinite(schedule.gamma)))
    throw_bad_input("schedule.gamma: expected a positive number");
  if (!(schedule.min_learning_rate >= 0.0 && std::isfinite(schedule.min_learning_rate)))
    throw_bad_input("schedule.min_learning_rate: expected a number >= 0");
}

double learning_rate_at(const ScheduleSpec& schedule, double base_learning_rate, long step, long total_steps) {
  const long s = std::max(step, 0L);
  if (s < schedule.warmup_steps)
    return base_learning_rate * static_cast<double>(s + 1) / static_cast<double>(schedule.warmup_steps);
  const long t = s - schedule.warmup_steps;
  const long decay_steps = std::max(total_steps - schedule.warmup_steps, 1L);  // T
  switch (schedule.kind) {
    case ScheduleKind::constant:
      return base_learning_rate;
    case ScheduleKind::step: {
      const long step_size = schedule.step_size > 0 ? schedule.step_size : (decay_steps + 2) / 3;
      return base_learning_rate * std::pow(schedule.gamma, static_cast<double>(t / step_size));
    }
    case ScheduleKind::cosine: {
      const double progress = static_cast<double>(std::min(t, decay_steps)) / static_cast<double>(decay_steps);
      return schedule.min_learning_rate + (base_learning_rate - schedule.min_learning_rate) *
                                              (1.0 + std::cos(std::numbers::pi * progress)) / 2.0;
    }
  }
  return base_learning_rate;
}

std::string_view to_string(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::constant: return "constant";
    case ScheduleKind::step: return "step";
    case ScheduleKind::cosine: return "cosine";
  }
  return "?";
}

std::optional<ScheduleKind> parse_schedule(std::string_view name) {
  for (ScheduleKind kind : {ScheduleKind::constant, ScheduleKind::step, ScheduleKind::cosine})
    if (to_string(kind) == name) return kind;
  return std::nullopt;
}

}  // namespace backprop
