// The training settings as the list declares them (nn/setting_list.hpp), below every folder that reads them:
// the network file's reader and writer (io/) loop over the settings kept in TrainingSpec, and the table of
// train/settings.hpp adds to each declaration the TrainingOptions field and the checks of a name.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "backprop/nn/spec.hpp"

namespace backprop {

// Where a setting lands in a network's spec, for the settings TrainingOptions::apply writes as they are.
using SpecField = std::variant<int*, long*, double*, std::optional<double>*, bool*, std::uint64_t*>;
// The TrainingSpec field of an IN_TRAINING setting (monostate: the setting is kept elsewhere).
using TrainingMember = std::variant<std::monostate, int TrainingSpec::*, double TrainingSpec::*>;

// A number's accepted values: from minimum to maximum, each end included unless open. NaN never is.
struct SettingRange {
  double minimum = -std::numeric_limits<double>::infinity();
  double maximum = std::numeric_limits<double>::infinity();
  bool minimum_open = false, maximum_open = false;
  bool contains(double value) const;
};

inline constexpr double kInfinity = std::numeric_limits<double>::infinity();
inline constexpr SettingRange kPositive{0, kInfinity, true, false};
inline constexpr SettingRange kUnitInterval{0, 1, false, true};  // [0, 1)

// The names a text setting takes (train/settings.cpp has each one's checks and choices).
enum class SettingNames { none, optimizer, schedule, scaling, class_weight };

struct SettingDeclaration {
  std::string_view key{};    // "clip_grad_norm": TrainingOptions' field, Python's keyword, OptionError's key
  TrainingMember member{};   // IN_TRAINING: its field of TrainingSpec
  std::string_view file_key{};  // "training.clip_grad_norm"; "layers[].dropout": each hidden layer's; "seed"
  // ELSEWHERE: the spec's field that TrainingOptions::apply sets to the option's value; null where apply has a
  // line of its own (a name parsed, a check against the network, every hidden layer's dropout).
  SpecField (*in_spec)(NetworkSpec&) = nullptr;
  // The file's default as text ("10"); "": it depends (momentum: on the optimizer) or is the key's absence
  // (class_weight: none).
  std::string_view file_default{};
  // Numbers: the accepted range and its words in a message ("expected a positive number, got 0").
  SettingRange range{};
  std::string_view expected{};
  // IN_TRAINING: the network file's words, where the file also takes the default that the option does not
  // ("a number >= 0 (0: no clipping)"); "": expected's.
  std::string_view file_expected{};
  // IN_TRAINING: written in every file, the default too (the settings every file has carried); a new setting
  // is written only when set, so that the files of runs without it keep their bytes.
  bool always_written = false;
  SettingNames names = SettingNames::none;
  std::string_view help{};      // the command's help; "{choices}" stands for the names' choices
  std::string_view example{};   // an accepted value that is not the file's default (the tests set it)
  std::string_view sklearn{};   // the estimators' parameter that sets it ("" none): backprop/sklearn.py
  bool fingerprint = true;      // part of the run's fingerprint: a checkpoint resumes only with the same value

  // Where apply() writes the option in spec: its TrainingSpec field or in_spec's; none when apply has a line.
  std::optional<SpecField> spec_field(NetworkSpec& spec) const;
  // "beta1" for the optimizer's coefficient "optimizer.beta1", the key optimizer_uses (nn/spec.hpp) takes; ""
  // for any other setting (the optimizer's type included).
  std::string_view optimizer_key() const;
};

// A setting's type, by its options' field: "int", "float", "bool" or "text" (Python's int, float, bool, str).
template <class Value>
constexpr std::string_view setting_type() {
  if constexpr (std::is_same_v<Value, std::string>)
    return "text";
  else if constexpr (std::is_same_v<Value, bool>)
    return "bool";
  else if constexpr (std::is_floating_point_v<Value>)
    return "float";
  else
    return "int";
}

// Every setting of the list, in its order.
std::span<const SettingDeclaration> declared_settings();

}  // namespace backprop
