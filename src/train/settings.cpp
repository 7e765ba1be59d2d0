// The table of training settings (train/settings.hpp): the list's declarations with their options' fields and
// the checks of the names, and the check built from it.
#include "backprop/train/settings.hpp"

#include <cmath>
#include <type_traits>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/base/text.hpp"
#include "backprop/nn/schedule.hpp"
#include "backprop/nn/setting_list.hpp"

namespace backprop {
namespace {

// A text setting's checks and choices, by the names it takes.
void add_names(TrainingSetting& setting) {
  switch (setting.names) {
    case SettingNames::none:
      return;
    case SettingNames::optimizer:
      setting.accepts = [](const std::string& name) { return parse_optimizer(name).has_value(); };
      setting.expected_names = [] { return "one of " + optimizer_names(); };
      setting.choices = optimizer_names;
      return;
    case SettingNames::schedule:
      setting.accepts = [](const std::string& name) { return parse_schedule(name).has_value(); };
      setting.expected_names = schedule_names;
      setting.choices = schedule_names;
      return;
    case SettingNames::scaling:
      setting.accepts = [](const std::string& name) { return parse_scaling(name).has_value(); };
      setting.expected_names = [] { return scaling_names(" or "); };
      setting.choices = [] { return scaling_names(); };
      return;
    case SettingNames::class_weight:
      setting.parse = [](const std::string& text) { parse_class_weight(text); };
      return;
  }
}

const std::vector<TrainingSetting>& table() {
  static const std::vector<TrainingSetting> settings = [] {
#define BACKPROP_OPTION_MEMBER(name, ...) OptionField(&TrainingOptions::name),
    const OptionField fields[] = {BACKPROP_TRAINING_SETTINGS(BACKPROP_OPTION_MEMBER, BACKPROP_OPTION_MEMBER)};
#undef BACKPROP_OPTION_MEMBER
    const std::span<const SettingDeclaration> declared = declared_settings();
    std::vector<TrainingSetting> out;
    for (std::size_t i = 0; i < declared.size(); ++i) {
      TrainingSetting setting{declared[i]};
      setting.field = fields[i];
      add_names(setting);
      out.push_back(setting);
    }
    return out;
  }();
  return settings;
}

}  // namespace

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
  constexpr std::string_view optimizers = "{optimizers}";
  const std::size_t rules = text.find(optimizers);
  if (rules != std::string::npos && !optimizer_key().empty())
    text.replace(rules, optimizers.size(), optimizers_using(optimizer_key()));
  return text;
}

std::optional<std::string> TrainingSetting::value_text(const TrainingOptions& options) const {
  return std::visit(
      [&](auto member) -> std::optional<std::string> {
        const auto& value = options.*member;
        if (!value) return std::nullopt;
        using Value = std::remove_cvref_t<decltype(*value)>;
        if constexpr (std::is_same_v<Value, std::string>)
          return "'" + *value + "'";
        else if constexpr (std::is_same_v<Value, bool>)
          return *value ? "true" : "false";
        else if constexpr (std::is_floating_point_v<Value>)
          return format_double(*value);
        else
          return std::to_string(*value);
      },
      field);
}

std::string_view TrainingSetting::type() const {
  return std::visit(
      [](auto member) {
        return setting_type<typename std::remove_reference_t<decltype(TrainingOptions{}.*member)>::value_type>();
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
  const std::optional<SpecField> target = setting.spec_field(spec);
  if (!target) return;
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
      setting.field, *target);
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
            throw OptionError(key, "expected " + setting.expected_names() + ", got " + *setting.value_text(options));
        } else if (!setting.expected.empty()) {
          if (!setting.range.contains(static_cast<double>(*value)))
            throw OptionError(key,
                              "expected " + std::string(setting.expected) + ", got " + *setting.value_text(options));
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
