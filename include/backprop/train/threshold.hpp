// A two-class model's kept decision threshold (issue 30): `train --threshold f1|youden|NUMBER`, Model::fit's
// RunSettings::threshold and Python's fit(threshold=) pick it once training is done, and the model file keeps it
// (io::ModelFile::threshold, format version 4). f1 and youden are the thresholds `eval` prints
// (binary_thresholds, train/metrics.hpp), computed on the run's validation rows.
#pragma once

#include <optional>
#include <string>

#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/spec.hpp"
#include "backprop/train/trainer.hpp"

namespace backprop {

enum class ThresholdRule {
  f1,      // the threshold that maximises F1 on the validation rows
  youden,  // the one that maximises Youden's J = TPR - FPR there
  given,   // ThresholdChoice::value
};

struct ThresholdChoice {
  ThresholdRule rule = ThresholdRule::given;
  double value = 0.5;  // given: the threshold, in [0, 1]
};

// "f1", "youden" or a probability in [0, 1]; OptionError of "threshold" otherwise.
ThresholdChoice parse_threshold(const std::string& text);

// Before training: OptionError of "threshold" for a network that does not make two classes, or for f1 and
// youden without validation rows (a validation set or split) to pick the threshold on.
void check_threshold_choice(const ThresholdChoice& choice, const NetworkSpec& spec, bool has_validation);

// After training: the threshold. f1 and youden on the validation rows' outputs (Error(bad_input) when those
// rows hold one class only: no threshold separates them).
double pick_threshold(const ThresholdChoice& choice, const Network<float>& network, const Dataset* validation,
                      const Scaling& scaling, kernels::DeviceBackend* device = nullptr);

// How the choice is described ("max F1 on the validation rows", "given").
std::string describe(const ThresholdChoice& choice);

}  // namespace backprop
