// The table of training settings (train/settings.hpp) and the check built from it.
#include "backprop/train/settings.hpp"

#include <cmath>
#include <type_traits>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/base/text.hpp"
#include "backprop/nn/schedule.hpp"

namespace backprop {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr SettingRange kPositive{0, kInf, true, false};
constexpr SettingRange kUnitInterval{0, 1, false, true};  // [0, 1)

std::string scaling_names() { return "none, standard, minmax"; }

const std::vector<TrainingSetting>& table() {
  using O = TrainingOptions;
  static const std::vector<TrainingSetting> settings = {
      {.key = "epochs", .field = &O::epochs, .file_key = "training.epochs", .file_default = "10",
       .range = {1, 1000000}, .expected = "a number of epochs in [1, 1000000]",
       .in_spec = [](NetworkSpec& s) -> SpecField { return &s.training.epochs; },
       .help = "Passes over the training data (file default: 10)", .example = "3", .sklearn = "max_iter"},
      {.key = "batch_size", .field = &O::batch_size, .file_key = "training.batch_size", .file_default = "32",
       .range = {1, 1 << 20}, .expected = "a number of rows in [1, 1048576]",
       .in_spec = [](NetworkSpec& s) -> SpecField { return &s.training.batch_size; },
       .help = "Rows per step; the last partial batch is used (default 32)", .example = "8", .sklearn = "batch_size"},
      {.key = "optimizer", .field = &O::optimizer, .file_key = "optimizer.type", .file_default = "sgd",
       .accepts = [](const std::string& name) { return parse_optimizer(name).has_value(); },
       .expected_names = [] { return "one of " + optimizer_names(); }, .choices = optimizer_names,
       .help = "{choices} (torch.optim's rules)", .example = "adam", .sklearn = "solver"},
      {.key = "learning_rate", .field = &O::learning_rate, .file_key = "optimizer.learning_rate",
       .file_default = "0.1", .range = kPositive, .expected = "a positive number", .in_spec = [](NetworkSpec& s) -> SpecField { return &s.optimizer.learning_rate; },
       .help = "Base learning rate",
       .example = "0.01", .sklearn = "learning_rate_init"},
      {.key = "momentum", .field = &O::momentum, .file_key = "optimizer.momentum", .file_default = "",
       .range = kUnitInterval, .expected = "a number in [0, 1)",
       .help = "Momentum (momentum, nesterov: default 0.9; rmsprop: 0)", .example = "0.5", .sklearn = "momentum"},
      {.key = "weight_decay", .field = &O::weight_decay, .file_key = "optimizer.weight_decay", .file_default = "",
       .range = {0, kInf}, .expected = "a number >= 0",
       .in_spec = [](NetworkSpec& s) -> SpecField { return &s.optimizer.weight_decay; },
       .help = "Weight decay: L2, or decoupled for adamw (default 0; adamw 0.01)", .example = "0.001",
       .sklearn = "alpha"},
      {.key = "schedule", .field = &O::schedule, .file_key = "training.schedule.type", .file_default = "constant",
       .accepts = [](const std::string& name) { return parse_schedule(name).has_value(); },
       .expected_names = schedule_names, .choices = schedule_names,
       .help = "Learning-rate schedule: {choices} (one_cycle: torch's OneCycleLR up to --learning-rate; no --warmup)",
       .example = "cosine", .sklearn = "schedule"},
      {.key = "warmup", .field = &O::warmup, .file_key = "training.schedule.warmup", .file_default = "0",
       .range = {0, 1000000000}, .expected = "a number of steps in [0, 1000000000]",
       .in_spec = [](NetworkSpec& s) -> SpecField { return &s.training.schedule.warmup_steps; },
       .help = "Steps of linear warm-up before the schedule", .example = "5", .sklearn = "warmup"},
      {.key = "clip_grad_norm", .field = &O::clip_grad_norm, .file_key = "training.clip_grad_norm",
       .file_default = "0", .range = kPositive, .expected = "a positive number",
       .in_spec = [](NetworkSpec& s) -> SpecField { return &s.training.clip_grad_norm; },
       .help = "Clip the gradient's global L2 norm to this", .example = "1.5", .sklearn = "clip_grad_norm"},
      {.key = "dropout", .field = &O::dropout, .file_key = "layers[].dropout", .file_default = "0",
       .range = kUnitInterval, .expected = "a probability in [0, 1)",
       .help = "Dropout probability of every hidden layer (training only)", .example = "0.25", .sklearn = "dropout"},
      {.key = "scale", .field = &O::scale, .file_key = "training.scale", .file_default = "none",
       .accepts = [](const std::string& name) { return parse_scaling(name).has_value(); },
       .expected_names = [] { return std::string("none, standard or minmax"); }, .choices = scaling_names,
       .help = "Feature scaling fitted on the training data: {choices}", .example = "standard", .sklearn = "scale"},
      {.key = "early_stopping", .field = &O::early_stopping, .file_key = "training.early_stopping",
       .file_default = "0", .range = {0, 1000000}, .expected = "a patience in [0, 1000000] (0: off)",
       .in_spec = [](NetworkSpec& s) -> SpecField { return &s.training.early_stopping; },
       .help = "Stop after this many epochs without a better validation loss, keeping the best parameters (0: off)",
       .example = "2", .sklearn = "n_iter_no_change"},
      {.key = "validation_split", .field = &O::validation_split, .file_key = "training.validation_split",
       .file_default = "0", .range = kUnitInterval, .expected = "a fraction in [0, 1)",
       .in_spec = [](NetworkSpec& s) -> SpecField { return &s.training.validation_split; },
       .help = "Hold out this fraction of the training rows (shuffled by the seed; each class its share) for "
               "validation",
       .example = "0.2", .sklearn = "validation_fraction"},
      {.key = "label_smoothing", .field = &O::label_smoothing, .file_key = "training.label_smoothing",
       .file_default = "0", .range = kUnitInterval, .expected = "a number in [0, 1) (0: off)",
       .help = "softmax_ce only: train against (1 - X) one-hot + X / classes (torch's label_smoothing; 0: off); "
               "the training and validation losses are the smoothed loss, eval reports the plain one",
       .example = "0.1", .sklearn = "label_smoothing"},
      {.key = "class_weight", .field = &O::class_weight, .file_key = "training.class_weight", .file_default = "",
       .parse = [](const std::string& text) { parse_class_weight(text); },
       .help = "Classification: each class's weight in the loss, balanced (n / (classes x the class's rows), "
               "scikit-learn's) or LABEL=W,LABEL=W (labels as the data writes them; others 1), or none "
               "(torch's CrossEntropyLoss(weight=) / BCELoss(weight=))",
       .example = "balanced", .sklearn = "class_weight"},
      {.key = "seed", .field = &O::seed, .file_key = "seed", .file_default = "1",
       .in_spec = [](NetworkSpec& s) -> SpecField { return &s.seed; },
       .help = "Seed of the initialization (of the weights a network file leaves out), shuffling, dropout and the "
               "validation split",
       .example = "7", .sklearn = "random_state"},
  };
  return settings;
}

}  // namespace

bool SettingRange::contains(double value) const {
  const bool above = minimum_open ? value > minimum : value >= minimum;
  const bool below = maximum_open ? value < maximum : value <= maximum;
  return std::isfinite(value) && above && below;
}

std::string TrainingSetting::flag() const {
  std::string text = "--" + std::string(key);
  for (char& c : text)
    if (c == '_') c = '-';
  return text;
}

std::string TrainingSetting::help_text() const {
  std::string text(help);
  const std::size_t at = text.find("{choices}");
  if (at != std::string::npos && choices != nullptr) text.replace(at, 9, choices());
  return text;
}

std::string_view TrainingSetting::type() const {
  return std::visit(
      [](auto member) -> std::string_view {
        using Value = typename std::remove_reference_t<decltype(TrainingOptions{}.*member)>::value_type;
        if constexpr (std::is_same_v<Value, std::string>)
          return "text";
        else if constexpr (std::is_floating_point_v<Value>)
          return "float";
        else
          return "int";
      },
      field);
}

std::span<const TrainingSetting> training_settings() { return table(); }

const TrainingSetting& training_setting(std::string_view key) {
  for (const TrainingSetting& setting : table())
    if (setting.key == key) return setting;
  throw_bad_input("unknown training setting '" + std::string(key) + "'");
}

void apply_setting(const TrainingSetting& setting, const TrainingOptions& options, NetworkSpec& spec) {
  if (setting.in_spec == nullptr) return;
  std::visit(
      [&](auto member, auto target) {
        const auto& value = options.*member;
        using Target = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_assignable_v<Target&, decltype(*value)> &&
                      !std::is_same_v<std::remove_cvref_t<decltype(*value)>, std::string>) {
          if (value) *target = *value;
        } else {
          throw_runtime_error("training setting " + std::string(setting.key) + ": the option's type and the spec's differ");
        }
      },
      setting.field, setting.in_spec(spec));
}

void check_setting(const TrainingSetting& setting, const TrainingOptions& options) {
  const std::string key(setting.key);
  std::visit(
      [&](auto member) {
        const auto& value = options.*member;
        if (!value) return;
        using Value = std::remove_cvref_t<decltype(*value)>;
        if constexpr (std::is_same_v<Value, std::string>) {
          if (setting.parse != nullptr) setting.parse(*value);
          if (setting.accepts != nullptr && !setting.accepts(*value))
            throw OptionError(key, "expected " + setting.expected_names() + ", got '" + *value + "'");
        } else if (!setting.expected.empty()) {
          if (!setting.range.contains(static_cast<double>(*value))) {
            std::string shown;
            if constexpr (std::is_floating_point_v<Value>)
              shown = format_double(*value);
            else
              shown = std::to_string(*value);
            throw OptionError(key, "expected " + std::string(setting.expected) + ", got " + shown);
          }
          // Every number the options set is used as a float32 (the arenas, the update), so it must fit one.
          if constexpr (std::is_floating_point_v<Value>)
            if (!fits_float(*value))
              throw OptionError(key, "expected a number within float32's range (magnitude at most 3.4028235e+38), "
                                     "got " + format_double(*value));
        }
      },
      setting.field);
}

}  // namespace backprop
