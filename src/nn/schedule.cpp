#include "backprop/nn/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "backprop/base/error.hpp"
#include "base/kind_names.hpp"

namespace backprop {

void validate(const ScheduleSpec& schedule) {
  if (schedule.warmup_steps < 0) throw_bad_input("schedule.warmup_steps: expected a whole number >= 0");
  if (schedule.step_size < 0) throw_bad_input("schedule.step_size: expected a whole number >= 0");
  if (!(schedule.gamma > 0.0 && std::isfinite(schedule.gamma)))
    throw_bad_input("schedule.gamma: expected a positive number");
  if (!(schedule.min_learning_rate >= 0.0 && std::isfinite(schedule.min_learning_rate)))
    throw_bad_input("schedule.min_learning_rate: expected a number >= 0");
  if (!(schedule.pct_start > 0.0 && schedule.pct_start < 1.0))
    throw_bad_input("schedule.pct_start: expected a fraction in (0, 1)");
  if (!(schedule.div_factor >= 1.0 && std::isfinite(schedule.div_factor)))
    throw_bad_input("schedule.div_factor: expected a number >= 1");
  if (!(schedule.final_div_factor >= 1.0 && std::isfinite(schedule.final_div_factor)))
    throw_bad_input("schedule.final_div_factor: expected a number >= 1");
  if (schedule.kind == ScheduleKind::one_cycle && schedule.warmup_steps > 0)
    throw_bad_input("schedule.warmup: one_cycle rises by itself (pct_start); expected no warm-up");
}

namespace {

// torch.optim.lr_scheduler.OneCycleLR's rate at step s (its step_num), in its order of operations and with its
// roundings: no fused multiply-add (which -march=native would otherwise make of end + half * cos_out), so that
// the rates equal torch's to the last bit (Schedule.OneCycleIsTorchsOneCycleLR).
__attribute__((optimize("fp-contract=off"))) double one_cycle_rate(const ScheduleSpec& schedule, double max_rate, long s, long total_steps) {
  const double initial = max_rate / schedule.div_factor;
  const double minimum = initial / schedule.final_div_factor;
  const double rise_end = schedule.pct_start * static_cast<double>(total_steps) - 1.0;
  const double last = static_cast<double>(total_steps) - 1.0;
  const auto anneal = [](double start, double end, double pct) {
    return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
  };
  const double step = static_cast<double>(s);
  if (rise_end > 0.0 && step <= rise_end) return anneal(initial, max_rate, step / rise_end);
  return anneal(max_rate, minimum, (step - rise_end) / (last - rise_end));
}

}  // namespace

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
    case ScheduleKind::one_cycle:
      return one_cycle_rate(schedule, base_learning_rate, std::min(s, std::max(total_steps - 1, 0L)), total_steps);
  }
  return base_learning_rate;
}

namespace {
#define BACKPROP_SCHEDULE_NAME(kind) {ScheduleKind::kind, #kind},
constexpr KindName<ScheduleKind> kScheduleNames[] = {BACKPROP_SCHEDULE_KINDS(BACKPROP_SCHEDULE_NAME)};
#undef BACKPROP_SCHEDULE_NAME
}  // namespace

std::string_view to_string(ScheduleKind kind) { return detail::name_of(kScheduleNames, kind); }
std::optional<ScheduleKind> parse_schedule(std::string_view name) { return detail::value_of(kScheduleNames, name); }
std::string schedule_names() { return detail::names_of(kScheduleNames); }

}  // namespace backprop
