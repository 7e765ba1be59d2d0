// The declarations of the training settings: the list of nn/setting_list.hpp expanded into a table.
#include "backprop/nn/settings.hpp"

#include <cmath>
#include <string>

#include "backprop/nn/setting_list.hpp"

namespace backprop {

bool SettingRange::contains(double value) const {
  const bool above = minimum_open ? value > minimum : value >= minimum;
  const bool below = maximum_open ? value < maximum : value <= maximum;
  return std::isfinite(value) && above && below;
}

std::optional<SpecField> SettingDeclaration::spec_field(NetworkSpec& spec) const {
  if (in_spec != nullptr) return in_spec(spec);
  return std::visit(
      [&](auto field) -> std::optional<SpecField> {
        if constexpr (std::is_same_v<decltype(field), std::monostate>)
          return std::nullopt;
        else
          return &(spec.training.*field);
      },
      member);
}

std::string_view SettingDeclaration::optimizer_key() const {
  constexpr std::string_view prefix = "optimizer.";
  if (!file_key.starts_with(prefix) || file_key == "optimizer.type") return {};
  return file_key.substr(prefix.size());
}

std::span<const SettingDeclaration> declared_settings() {
#define BACKPROP_DECLARE_IN_TRAINING(name, Type, initial, ...)                                              \
  SettingDeclaration{.key = #name, .member = &TrainingSpec::name, .file_key = "training." #name,            \
                     .file_default = #initial, __VA_ARGS__},
#define BACKPROP_DECLARE_ELSEWHERE(name, Type, ...) SettingDeclaration{.key = #name, __VA_ARGS__},
  static const SettingDeclaration settings[] = {
      BACKPROP_TRAINING_SETTINGS(BACKPROP_DECLARE_IN_TRAINING, BACKPROP_DECLARE_ELSEWHERE)};
#undef BACKPROP_DECLARE_IN_TRAINING
#undef BACKPROP_DECLARE_ELSEWHERE
  return settings;
}

}  // namespace backprop
