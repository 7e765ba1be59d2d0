// A batch_norm entry's own figures in a trace (TraceFigures<K>, trace_kind.hpp), as nn/batch_norm.hpp names them.
#pragma once

#include <vector>

#include "backprop/nn/trace_kind.hpp"

namespace backprop {

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
