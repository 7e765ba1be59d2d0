// Learning-rate schedules, per optimizer step. The trainer knows the total number of steps in advance
// (epochs x batches per epoch) and asks for the rate of each step, counted from 0:
//
//   warm-up (s < W, W = warmup_steps):   lr(s) = base * (s + 1) / W        (base / W up to base)
//   after it, with t = s - W and T = total_steps - W (at least 1):
//     constant:  lr = base
//     step:      lr = base * gamma^floor(t / step_size)
//                step_size 0 means ceil(T / 3): the rate falls by gamma twice over the run
//     cosine:    lr = min + (base - min) * (1 + cos(pi * min(t, T) / T)) / 2
//                (torch's CosineAnnealingLR with T_max = T: base at t = 0, min from t = T on)
//     one_cycle: torch's OneCycleLR (cosine annealing, two phases, no warm-up of its own: it is the first
//                phase): the rate rises from base / div_factor to base over the first pct_start of the steps,
//                then falls to base / (div_factor * final_div_factor) at the last step. With the phase's
//                start s0, end s1 (pct_start * total_steps - 1, then total_steps - 1), start and end rates:
//                lr = end + (start - end) / 2 * (cos(pi * (s - s0) / (s1 - s0)) + 1)
//                The momentum (or adam's beta1) is not cycled: torch's cycle_momentum=False.
//
// Warm-up ramps linearly to the base rate, and the decay starts only after it, so a warm-up does not
// shorten the decay's first phase.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "backprop/base/kinds.hpp"

namespace backprop {

// The enum and its names from one list, as the kinds of base/kinds.hpp.
#define BACKPROP_SCHEDULE_KINDS(X) X(constant) X(step) X(cosine) X(one_cycle)
enum class ScheduleKind { BACKPROP_SCHEDULE_KINDS(BACKPROP_KIND_ENUMERATOR) };

struct ScheduleSpec {
  ScheduleKind kind = ScheduleKind::constant;
  long warmup_steps = 0;           // >= 0
  long step_size = 0;              // step: steps between decays, >= 0; 0 = a third of the steps after warm-up
  double gamma = 0.1;              // step: factor per decay, > 0 (torch's StepLR default)
  double min_learning_rate = 0.0;  // cosine: the rate at the end, >= 0
  double pct_start = 0.3;          // one_cycle: the share of the steps spent rising, in (0, 1)
  double div_factor = 25.0;        // one_cycle: the first rate is base / div_factor, >= 1
  double final_div_factor = 1e4;   // one_cycle: the last rate is the first / final_div_factor, >= 1
};

// Throws Error(bad_input) "schedule.gamma: expected ..." for a setting out of range or not finite.
void validate(const ScheduleSpec& schedule);

// The learning rate of step `step` (0-based; negative counts as 0) of a run of total_steps steps.
// Steps past the end keep the last phase's rule (cosine stays at min_learning_rate).
double learning_rate_at(const ScheduleSpec& schedule, double base_learning_rate, long step, long total_steps);

std::string_view to_string(ScheduleKind kind);
std::optional<ScheduleKind> parse_schedule(std::string_view name);  // "constant", "step", "cosine", "one_cycle"
// "constant, step, cosine, one_cycle": for messages and help that list the choices.
std::string schedule_names();

}  // namespace backprop
