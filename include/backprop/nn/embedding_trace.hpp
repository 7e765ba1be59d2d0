// An embedding entry's own figures in a trace (TraceFigures<K>, trace_kind.hpp; nn/embedding.hpp).
#pragma once

#include <vector>

#include "backprop/nn/trace_kind.hpp"

namespace backprop {

// The code each row reads at its input position `column` and dL/dx. Its table W (N, D) is the entry's weights
// (weights_before during the step, weights after it), dL/dW its grad_weights (rows of codes absent from the batch
// 0), its output y its a and its delta dL/dy.
template <>
struct TraceFigures<LayerKind::embedding> {
  int column = 0, categories = 0, dim = 0;
  std::vector<int> codes;         // (B): the row of W each row of the batch reads
  std::vector<double> grad_input; // (B, IN): dL/dy passed through, 0 at the code; empty for the first entry
};
using TraceEmbedding = TraceFigures<LayerKind::embedding>;

}  // namespace backprop
