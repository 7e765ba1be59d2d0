// Fitting the feature scaling: statistics over every row, accumulated in double, two passes for the
// standard deviation (mean first, then squared deviations) so that large offsets do not cancel.
#include "backprop/data/scaling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/kind_names.hpp"
#include "kernels/math.hpp"
#include "backprop/data/dataset.hpp"
#include "backprop/base/error.hpp"

namespace backprop {

std::string_view to_string(ScalingKind kind) { return detail::name_of(kScalingNames, kind); }

std::optional<ScalingKind> parse_scaling(std::string_view name) { return detail::value_of(kScalingNames, name); }

std::string scaling_names(std::string_view last) { return detail::names_of(kScalingNames, last); }

namespace {

// Calls f(row values as float, (features)) for every row, converting uint8 rows a row at a time.
template <typename F>
void for_each_row(const Dataset& data, F&& f) {
  const auto width = static_cast<std::size_t>(data.features);
  std::vector<float> row(width);  // (features)
  for (std::size_t r = 0; r < data.rows; ++r) {
    if (data.features_u8.empty()) {
      f(data.features_f32.data() + r * width);
    } else {
      const std::uint8_t* bytes = data.features_u8.data() + r * width;
      for (std::size_t j = 0; j < width; ++j) row[j] = math::byte_feature(bytes[j]);  // as Dataset::feature
      f(row.data());
    }
  }
}

}  // namespace

std::vector<double> scale_rows(const Scaling& scaling, std::vector<double> rows) {
  if (scaling.empty()) return rows;
  const std::size_t width = scaling.offset.size();
  if (width == 0 || rows.size() % width != 0)
    throw_bad_input("expected rows of " + std::to_string(width) + " features (the scaling's), got " +
                    std::to_string(rows.size()) + " numbers");
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = (rows[i] - scaling.offset[i % width]) / scaling.scale[i % width];
  return rows;
}

Scaling fit_scaling(ScalingKind kind, const Dataset& data) {
  Scaling scaling;
  scaling.kind = kind;
  if (kind == ScalingKind::none) return scaling;
  if (data.rows == 0 || data.features <= 0)
    throw_bad_input(data.source + ": expected rows to fit the " + std::string(to_string(kind)) + " scaling on, got none");
  const auto width = static_cast<std::size_t>(data.features);
  std::vector<double> lowest(width, std::numeric_limits<double>::infinity());    // (features)
  std::vector<double> highest(width, -std::numeric_limits<double>::infinity());  // (features)
  std::vector<double> sum(width, 0.0);                                            // (features)
  for_each_row(data, [&](const float* row) {
    for (std::size_t j = 0; j < width; ++j) {
      const double x = row[j];
      lowest[j] = std::min(lowest[j], x);
      highest[j] = std::max(highest[j], x);
      sum[j] += x;
    }
  });
  scaling.offset.resize(width);
  scaling.scale.resize(width);
  if (kind == ScalingKind::minmax) {
    for (std::size_t j = 0; j < width; ++j) {
      scaling.offset[j] = lowest[j];
      scaling.scale[j] = highest[j] > lowest[j] ? highest[j] - lowest[j] : 1.0;
    }
    return scaling;
  }
  const auto n = static_cast<double>(data.rows);
  for (std::size_t j = 0; j < width; ++j) scaling.offset[j] = sum[j] / n;
  std::vector<double> squared_deviation(width, 0.0);  // (features)
  for_each_row(data, [&](const float* row) {
    for (std::size_t j = 0; j < width; ++j) {
      const double d = row[j] - scaling.offset[j];
      squared_deviation[j] += d * d;
    }
  });
  for (std::size_t j = 0; j < width; ++j) {
    // A constant feature maps to exactly 0: its mean may be off by a rounding, so take the value itself.
    if (!(highest[j] > lowest[j])) {
      scaling.offset[j] = lowest[j];
      scaling.scale[j] = 1.0;
      continue;
    }
    const double deviation = std::sqrt(squared_deviation[j] / n);  // population standard deviation
    scaling.scale[j] = deviation > 0.0 ? deviation : 1.0;
  }
  return scaling;
}

}  // namespace backprop
