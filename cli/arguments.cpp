#include <string>

#include "commands.hpp"

namespace backprop::cli {

std::string architecture(const NetworkSpec& spec) {
  std::string text = std::to_string(spec.input);
  for (const auto& layer : spec.layers) text += "-" + std::to_string(layer.units);
  return text;
}

std::optional<LossKind> loss_option(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return parse_loss(text);  // the option's CLI::IsMember check has already refused unknown names
}

}  // namespace backprop::cli
