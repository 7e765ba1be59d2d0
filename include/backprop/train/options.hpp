// The training options a caller may set over a network file's recipe: `backprop train`'s override flags
// and Python's fit() keyword arguments both fill one TrainingOptions. Every field is optional; an unset
// field keeps what the network file (or the model trained further) says. Default-constructed, it changes
// nothing: the file's own "training" and "optimizer" recipe.
//
// Messages name the network-file key (Python's keyword): "clip_grad_norm: expected a positive number,
// got 0". The command adds its flag: it catches OptionError and writes
// "--clip-grad-norm (clip_grad_norm): expected a positive number, got 0".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/nn/setting_list.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {

struct TrainingOptions {
  // One std::optional field a setting, `std::optional<double> clip_grad_norm;` ..., in the list's order: each
  // setting's entry in nn/setting_list.hpp declares it, with its network-file key, range and help.
#define BACKPROP_OPTION_FIELD(name, Type, ...) std::optional<Type> name;
  BACKPROP_TRAINING_SETTINGS(BACKPROP_OPTION_FIELD, BACKPROP_OPTION_FIELD)
#undef BACKPROP_OPTION_FIELD

  // Throws OptionError for the first set field out of range (fields in the order above): the ranges and
  // choices of train/settings.hpp's table, which declares each setting once.
  void validate() const;
  // validate(), then writes the set fields into spec, then checks the result as a network file is
  // checked (validate(NetworkSpec), validate(OptimizerSpec), validate(ScheduleSpec): Error(bad_input)
  // naming the file's key, e.g. "optimizer.momentum: expected a number in (0, 1) for nesterov"). A
  // label_smoothing above 0 for a network whose loss is not softmax_ce is an OptionError of label_smoothing; an
  // optimizer's coefficient (momentum, beta1, ...) that the resulting optimizer does not read, one of its key.
  void apply(NetworkSpec& spec) const;
  // The spec a run starts from: apply() on `current` (the parameters as they stand). A seed that differs from
  // the spec's also redraws, from the new seed, the weights that the network file as written leaves out
  // (empty in `as_written`; pass `current` for a trained model), as the file's own "seed" would: the
  // initialization follows --seed. Parameters the file gives keep their values.
  NetworkSpec start_spec(NetworkSpec current, const NetworkSpec& as_written) const;
};

// training.class_weight's text ("balanced", "none" or "LABEL=W,LABEL=W") as the spec holds it; OptionError
// of class_weight when it is not that.
ClassWeightSpec parse_class_weight(const std::string& text);

// Error(bad_input) about one option: what() is "KEY: EXPECTATION"; key() and expectation() apart, so that
// a front-end can name the option its own way.

}  // namespace backprop
