// The table of training settings: each setting's entry in the list of nn/setting_list.hpp (its key, the
// network file's key, its range and the words of its message, the command's help, the file's default, the
// scikit-learn estimators' parameter, whether it is part of a run's fingerprint) with its TrainingOptions
// field and, for a text, the checks of its names. Built from this table: TrainingOptions::validate's checks
// and apply (train/options.cpp), the command's recipe flags and their --help (cli/train_command.cpp), the
// keywords Network.fit takes and the stub's (python/). Built from the list itself: TrainingOptions' and
// TrainingSpec's fields, the network file's "training" settings read and written (io/network_file.cpp).
// Checked against it by tests: the network file's other keys (test_settings.cpp), the fingerprint, the
// estimators' parameters and the lists of options in docs/contracts.md and README.md
// (tests/python/test_settings.py).
//
// Adding a training setting: its entry in nn/setting_list.hpp and the code that uses it; the tests then name
// whatever else must know it (the docs' lists). docs/architecture.md has the checklist.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "backprop/nn/settings.hpp"
#include "backprop/train/options.hpp"

namespace backprop {

// The TrainingOptions field a setting fills.
using OptionField = std::variant<std::optional<int> TrainingOptions::*, std::optional<long> TrainingOptions::*,
                                 std::optional<double> TrainingOptions::*, std::optional<bool> TrainingOptions::*,
                                 std::optional<std::string> TrainingOptions::*,
                                 std::optional<std::uint64_t> TrainingOptions::*>;

// A setting: its declaration (nn/settings.hpp: key, file key, range, help, ...) and what the options add.
struct TrainingSetting : SettingDeclaration {
  OptionField field{};
  // Texts: whether a name is accepted and the expectation's words ("one of sgd, momentum, ..."); the
  // choices (for the help) come from the kinds' name tables. Null for numbers.
  bool (*accepts)(const std::string&) = nullptr;
  std::string (*expected_names)() = nullptr;
  std::string (*choices)() = nullptr;
  void (*parse)(const std::string&) = nullptr;  // a text with a grammar of its own: throws its OptionError

  std::string flag() const;       // "--clip-grad-norm"
  std::string help_text() const;  // help with the choices and the optimizers that read it
  std::string_view type() const;  // "int", "float", "bool", "text" (Python's int, float, bool, str)
  // The option's value in options as messages write it ("0.5", "true", "'adam'"); none when it is unset.
  std::optional<std::string> value_text(const TrainingOptions& options) const;
};

// Every training setting, in TrainingOptions' order.
std::span<const TrainingSetting> training_settings();
// The setting of that key; Error(bad_input) "unknown training setting 'KEY'" when there is none.
const TrainingSetting& training_setting(std::string_view key);

// Writes the setting's value in options, when set, into its field of spec (setting.spec_field).
void apply_setting(const TrainingSetting& setting, const TrainingOptions& options, NetworkSpec& spec);

// Throws OptionError naming the setting when its value in options is set and refused (its range, or a
// name not among the choices). An optimizer's coefficient set for a rule that does not read it is refused by
// TrainingOptions::apply, which knows the rule.
void check_setting(const TrainingSetting& setting, const TrainingOptions& options);

}  // namespace backprop
