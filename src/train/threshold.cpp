// The kept threshold's choice (train/threshold.hpp): the rules are eval's (binary_thresholds).
#include "backprop/train/threshold.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/train/metrics.hpp"

namespace backprop {

ThresholdChoice parse_threshold(const std::string& text) {
  if (text == "f1") return {ThresholdRule::f1, 0};
  if (text == "youden") return {ThresholdRule::youden, 0};
  double value = -1;  // from_chars: whatever the locale
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !(value >= 0 && value <= 1))
    throw OptionError("threshold", "expected f1, youden or a probability in [0, 1], got '" + text + "'");
  return {ThresholdRule::given, value};
}

void check_threshold_choice(const ThresholdChoice& choice, const NetworkSpec& spec, bool has_validation) {
  const bool classification = task_of(spec) == TaskKind::classification;
  if (!classification || class_count(spec) != 2)
    throw OptionError("threshold", "expected a network of two classes (the threshold is on the second's "
                                   "probability), the network has " +
                                       (classification ? std::to_string(class_count(spec)) + " classes"
                                                       : std::string("numeric targets")));
  switch (choice.rule) {
    case ThresholdRule::f1:
    case ThresholdRule::youden:
      if (!has_validation)
        throw OptionError("threshold", describe(choice) + " needs validation rows: give a validation set or a "
                                                          "validation split");
      return;
    case ThresholdRule::given:
      return;
  }
}

double pick_threshold(const ThresholdChoice& choice, const Network<float>& network, const Dataset* validation,
                      const Scaling& scaling, kernels::DeviceBackend* device) {
  check_threshold_choice(choice, network.spec(), validation != nullptr);
  switch (choice.rule) {
    case ThresholdRule::given:
      return choice.value;
    case ThresholdRule::f1:
    case ThresholdRule::youden:
      break;
  }
  // eval's computation on these rows: the scores of P(second class), its last output.
  const std::vector<float> outputs = network_outputs(network, *validation, scaling, device);  // (rows, OUT)
  const auto width = static_cast<std::size_t>(network.output_size());
  std::vector<double> scores(validation->rows);
  std::vector<std::uint8_t> positive(validation->rows);
  for (std::size_t r = 0; r < validation->rows; ++r) {
    scores[r] = outputs[r * width + width - 1];
    positive[r] = validation->labels[r] == 1 ? 1 : 0;
  }
  const BinaryThresholds best = binary_thresholds(scores, positive);
  const double threshold = choice.rule == ThresholdRule::f1 ? best.f1_threshold : best.youden_threshold;
  if (std::isnan(threshold))
    throw_bad_input("threshold: " + describe(choice) + ": the " + std::to_string(validation->rows) +
                    " validation rows hold one class only: no threshold to pick");
  return threshold;
}

std::string describe(const ThresholdChoice& choice) {
  switch (choice.rule) {
    case ThresholdRule::f1: return "f1 (the threshold of the largest F1 on the validation rows)";
    case ThresholdRule::youden: return "youden (the threshold of the largest Youden's J on the validation rows)";
    case ThresholdRule::given: return "given";
  }
  return "";
}

}  // namespace backprop
