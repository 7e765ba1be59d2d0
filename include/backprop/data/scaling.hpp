// Feature scaling, fitted on the training data and stored in the model: x' = (x - offset) / scale per
// feature. standard: offset = mean, scale = standard deviation; minmax: offset = min, scale = max - min.
// A constant feature (scale 0) gets scale 1, so it maps to 0 rather than to NaN.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "backprop/base/kinds.hpp"

namespace backprop {

struct Scaling {
  ScalingKind kind = ScalingKind::none;
  std::vector<double> offset;  // (features); empty for none
  std::vector<double> scale;   // (features); empty for none

  bool empty() const { return kind == ScalingKind::none; }
};

std::string_view to_string(ScalingKind kind);
std::optional<ScalingKind> parse_scaling(std::string_view name);
// "none, standard, minmax", or with `last` before the last name.
std::string scaling_names(std::string_view last = ", ");

// rows (whole rows of the scaling's features, row-major) scaled in double, x' = (x - offset) / scale: the
// formula of the model's inputs (math::scaled_feature) without the rounding to float, for the trace in
// double. Error(bad_input) when rows is not whole rows of that width.
std::vector<double> scale_rows(const Scaling& scaling, std::vector<double> rows);

struct Dataset;
// Fits the scaling on every row of the data set (statistics accumulated in double).
Scaling fit_scaling(ScalingKind kind, const Dataset& data);

}  // namespace backprop
