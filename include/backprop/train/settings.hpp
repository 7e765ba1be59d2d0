// The training settings, each declared once: its key (TrainingOptions' field, Python's keyword, the key an
// OptionError names), the network file's key, its range and the words of its message, the command's flag and
// help, the file's default, the scikit-learn estimators' parameter, and whether it is part of a run's
// fingerprint. Built from this table: TrainingOptions::validate's checks (train/options.cpp), the command's
// recipe flags and their --help (cli/train_command.cpp), the keywords Network.fit takes (python/). Checked
// against it by tests: the network file's reader and writer (test_network_file.cpp, "Settings"), the
// fingerprint, the .pyi stub, the estimators' parameters and the lists of options in docs/contracts.md and
// README.md (tests/python/test_settings.py).
//
// Adding a training setting: its entry here (with its field of the spec, which TrainingOptions::apply then
// writes) and its field in TrainingOptions (options.hpp), its place in the spec (nn/spec.hpp) and the network
// file's key (io/network_file.cpp), and the code that uses it; the tests then name whatever else must know it
// (the stub, the docs' lists). docs/architecture.md has the checklist.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "backprop/train/options.hpp"

namespace backprop {

// The TrainingOptions field a setting fills.
using OptionField = std::variant<std::optional<int> TrainingOptions::*, std::optional<long> TrainingOptions::*,
                                 std::optional<double> TrainingOptions::*,
                                 std::optional<std::string> TrainingOptions::*,
                                 std::optional<std::uint64_t> TrainingOptions::*>;

// Where a setting lands in a network's spec, for the settings TrainingOptions::apply writes as they are.
using SpecField = std::variant<int*, long*, double*, std::optional<double>*, std::uint64_t*>;

// A number's accepted values: from minimum to maximum, each end included unless open. NaN never is.
struct SettingRange {
  double minimum = -std::numeric_limits<double>::infinity();
  double maximum = std::numeric_limits<double>::infinity();
  bool minimum_open = false, maximum_open = false;
  bool contains(double value) const;
};

struct TrainingSetting {
  std::string_view key{};       // "clip_grad_norm"
  OptionField field{};
  std::string_view file_key{};  // "training.clip_grad_norm"; "layers[].dropout": each hidden layer's; "seed"
  // The file's default as text ("10"); "": it depends (momentum: on the optimizer) or is the key's absence
  // (class_weight: none).
  std::string_view file_default{};
  // Numbers: the accepted range and its words in a message ("expected a positive number, got 0").
  SettingRange range{};
  std::string_view expected{};
  // Texts: whether a name is accepted and the expectation's words ("one of sgd, momentum, ..."); the
  // choices (for the help) come from the kinds' name tables. Null for numbers.
  bool (*accepts)(const std::string&) = nullptr;
  std::string (*expected_names)() = nullptr;
  std::string (*choices)() = nullptr;
  void (*parse)(const std::string&) = nullptr;  // a text with a grammar of its own: throws its OptionError
  // The spec's field that TrainingOptions::apply sets to the option's value; null where apply has a line of
  // its own (a name parsed, a check against the network, every hidden layer's dropout).
  SpecField (*in_spec)(NetworkSpec&) = nullptr;
  std::string_view help{};      // the command's help; "{choices}" stands for choices()
  std::string_view example{};   // an accepted value that is not the file's default (the tests set it)
  std::string_view sklearn{};   // the estimators' parameter that sets it ("" none): backprop/sklearn.py
  bool fingerprint = true;    // part of the run's fingerprint: a checkpoint resumes only with the same value

  std::string flag() const;       // "--clip-grad-norm"
  std::string help_text() const;  // help with the choices
  std::string_view type() const;  // "int", "float", "text" (Python's int, float, str)
};

// Every training setting, in TrainingOptions' order.
std::span<const TrainingSetting> training_settings();
// The setting of that key; Error(bad_input) "unknown training setting 'KEY'" when there is none.
const TrainingSetting& training_setting(std::string_view key);

// Writes the setting's value in options, when set, into its field of spec (setting.in_spec).
void apply_setting(const TrainingSetting& setting, const TrainingOptions& options, NetworkSpec& spec);

// Throws OptionError naming the setting when its value in options is set and refused (its range, or a
// name not among the choices).
void check_setting(const TrainingSetting& setting, const TrainingOptions& options);

}  // namespace backprop
