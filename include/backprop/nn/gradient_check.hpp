// Gradient check: every analytic gradient of the backward pass against a central finite difference of
// the loss, in double precision.
//
//   numeric = (L(p + h) - L(p - h)) / (2h),  h = 1e-6
//   error   = |analytic - numeric| / max(|analytic| + |numeric|, 1e-4)
//
// The central difference is exact to O(h^2) for smooth functions; in double its own rounding error is
// about 1e-16 * |L| / h ~ 1e-10 for losses of order 1. A relative error is meaningful only for gradients
// well above that, so below 1e-4 the error is taken against the floor 1e-4: such gradients are held to
// an absolute 1e-4 * tolerance = 1e-9, still far below what a wrong formula gives (an error of the order
// of the gradient itself). kDefaultGradientTolerance (1e-5) leaves room for losses of order 1..100.
// relu and leaky_relu have a kink at 0: a unit whose z lies within h of 0 gives a wrong numeric figure.
#pragma once

#include <cstdint>
#include <vector>

#include "backprop/nn/spec.hpp"

namespace backprop {

inline constexpr double kDefaultGradientTolerance = 1e-5;
inline constexpr double kGradientCheckStep = 1e-6;

struct GradientCheckLayer {
  double max_error_weights = 0.0;
  double max_error_bias = 0.0;
  double max_error() const { return max_error_weights > max_error_bias ? max_error_weights : max_error_bias; }
};

struct GradientCheckResult {
  std::vector<GradientCheckLayer> layers;
  std::size_t parameters_checked = 0;
  double max_error() const;
};

double gradient_relative_error(double analytic, double numeric);

// x (B, IN), y (B, OUT) row-major. The loss is the network's training objective: with the spec's label smoothing,
// and with row weights (B values >= 0, not all 0; empty: none) their weighted mean (nn/loss.hpp).
GradientCheckResult gradient_check(const NetworkSpec& spec, const std::vector<double>& x,
                                   const std::vector<double>& y, const std::vector<double>& weights = {});

// Row weights for a batch of `rows` rows: OptionError of "sample_weight" unless empty or rows finite values
// >= 0 of which one at least is above 0.
void check_row_weights(const std::vector<double>& weights, int rows);

// Random inputs in U(-1, 1) (an embedding's codes uniform in [0, N)) and targets that fit the loss (mse: U(0, 1); bce: 0 or 1; softmax_ce:
// one-hot rows), reproducible from the seed.
void random_batch(std::vector<double>& x, std::vector<double>& y, const NetworkSpec& spec, int batch,
                  std::uint64_t seed);

}  // namespace backprop
