// TrainingOptions: the checks of the settings' table (train/settings.hpp), once for the command and Python
// alike, and the options written into a network's spec.
#include "backprop/data/scaling.hpp"
#include "backprop/train/options.hpp"
#include "backprop/train/settings.hpp"

#include <algorithm>
#include <cmath>
#include <charconv>
#include <string>
#include <type_traits>

#include "backprop/base/text.hpp"
#include "backprop/nn/schedule.hpp"

namespace backprop {

// "balanced", "none" or "LABEL=W,LABEL=W": the spec, or OptionError naming class_weight.
ClassWeightSpec parse_class_weight(const std::string& text) {
  ClassWeightSpec weights;
  if (text == "balanced") weights.balanced = true;
  if (text == "balanced" || text == "none") return weights;
  const auto refuse = [&](const std::string& why) {
    throw OptionError("class_weight", "expected balanced, none or LABEL=WEIGHT,LABEL=WEIGHT (weights >= 0)" +
                                          why + ", got '" + text + "'");
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, end - start);
    const std::size_t equals = item.rfind('=');
    if (equals == std::string::npos || equals == 0) refuse("");
    const std::string number = item.substr(equals + 1);
    double w = -1;  // from_chars: whatever the locale
    const auto [parsed_end, error] = std::from_chars(number.data(), number.data() + number.size(), w);
    if (error != std::errc() || parsed_end != number.data() + number.size() || !(w >= 0) || !fits_float(w))
      refuse("; '" + number + "' is not a weight");
    for (const auto& [label, weight] : weights.labels)
      if (label == item.substr(0, equals)) refuse("; '" + label + "' twice");
    weights.labels.emplace_back(item.substr(0, equals), w);
    start = end + 1;
  }
  return weights;
}

void TrainingOptions::validate() const {
  for (const TrainingSetting& setting : training_settings()) check_setting(setting, *this);
}

NetworkSpec TrainingOptions::start_spec(NetworkSpec current, const NetworkSpec& as_written) const {
  if (seed && *seed != current.seed && as_written.layers.size() == current.layers.size()) {
    for (std::size_t l = 0; l < current.layers.size(); ++l) {
      if (as_written.layers[l].weights.empty()) current.layers[l].weights.clear();  // drawn again (Network)
      if (as_written.layers[l].bias.empty()) current.layers[l].bias.clear();        // zeros again
    }
  }
  apply(current);
  return current;
}

void TrainingOptions::apply(NetworkSpec& spec) const {
  validate();
  TrainingSpec& t = spec.training;
  // The settings written as they are (the table's in_spec), then those with a line of their own.
  for (const TrainingSetting& setting : training_settings()) apply_setting(setting, *this, spec);
  if (scale) t.scale = *parse_scaling(*scale);
  if (schedule) t.schedule.kind = *parse_schedule(*schedule);
  if (optimizer) spec.optimizer.type = *parse_optimizer(*optimizer);
  // An optimizer's coefficient the chosen rule would not read is refused rather than silently without effect,
  // with the file's rule and words.
  for (const TrainingSetting& setting : training_settings()) {
    const std::optional<std::string> value = setting.value_text(*this);
    if (value && !setting.optimizer_key().empty() && !optimizer_uses(spec.optimizer.type, setting.optimizer_key()))
      throw OptionError(std::string(setting.key),
                        expected_unused(spec.optimizer.type, setting.optimizer_key()) + ", got " + *value);
  }
  if (dropout)
    for (std::size_t l = 0; l + 1 < spec.layers.size(); ++l) spec.layers[l].dropout = *dropout;
  if (label_smoothing) {  // written by its entry; refused here for another loss
    if (*label_smoothing != 0.0 && spec.loss != LossKind::softmax_ce)
      throw OptionError("label_smoothing", "expected 0 with the loss " + std::string(to_string(spec.loss)) +
                                               " (label smoothing is for softmax_ce only), got " +
                                               format_double(*label_smoothing));
  }
  if (class_weight) {
    const bool classifying = spec.loss == LossKind::softmax_ce || (spec.loss == LossKind::bce && spec.output() == 1);
    ClassWeightSpec weights = parse_class_weight(*class_weight);
    if (!weights.empty() && !classifying)
      throw OptionError("class_weight", "expected none for a network that does not classify (loss " +
                                            std::string(to_string(spec.loss)) + "), got '" + *class_weight + "'");
    t.class_weight = std::move(weights);
  }
  backprop::validate(spec);
  backprop::validate(spec.optimizer);
  backprop::validate(spec.training.schedule);
}

}  // namespace backprop
