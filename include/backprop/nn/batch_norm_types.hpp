// A batch_norm entry's own types (layer_kind_types.hpp): its settings, and its figures in a trace as
// nn/batch_norm.hpp names them.
#pragma once

#include <cstddef>
#include <vector>

#include "backprop/nn/layer_kind_types.hpp"

namespace backprop {

// Its scale and shift (OUT each) are the entry's weights and bias; its running statistics (OUT each) are
// running_mean and running_var here and, in a network, its statistics (Network::statistics(l): the mean, then the
// variance). What a training forward saves for the backward: xhat in the workspace's z and s = 1 / sqrt(var + eps)
// (OUT) in its saved values (nn/batch_norm.hpp's batch_norm_saved).
template <>
struct LayerSettings<LayerKind::batch_norm> {
  double momentum = 0.1;  // running = (1 - momentum) running + momentum batch statistic
  double eps = 1e-5;      // added to the variance under the root
  std::vector<double> running_mean;  // (OUT), or empty: zeros
  std::vector<double> running_var;   // (OUT), or empty: ones
  static constexpr std::size_t weight_count(int, int out) { return static_cast<std::size_t>(out); }
  static constexpr std::size_t bias_count(int, int out) { return static_cast<std::size_t>(out); }
  static constexpr std::size_t saved_count(int, int out, int) { return static_cast<std::size_t>(out); }
  static constexpr BatchRows fewest_batch_rows{2, "one row has no batch variance"};  // its statistics are the batch's
};

// F = the entry's width. Its scale and shift are the entry's weights and bias (TraceLayer), their gradients its
// grad_weights and grad_bias, its output y its a and its delta dL/dy.
template <>
struct TraceFigures<LayerKind::batch_norm> {
  double eps = 0.0, momentum = 0.0;
  std::vector<double> mean, variance;  // (F): the batch's mean and biased variance of the entry's input x
  std::vector<double> inv_std;         // (F): s = 1 / sqrt(variance + eps)
  std::vector<double> xhat;            // (B, F): (x - mean) s
  std::vector<double> grad_input;      // (B, F): dL/dx; empty for the first entry (x is the input)
  std::vector<double> running_mean_before, running_var_before;  // (F) before this step's forward
  std::vector<double> running_mean, running_var;                // (F) after it
};
using TraceBatchNorm = TraceFigures<LayerKind::batch_norm>;

}  // namespace backprop
