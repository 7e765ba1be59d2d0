// An embedding entry's own types (layer_kind_types.hpp): its settings, and its figures in a trace
// (nn/embedding.hpp).
#pragma once

#include <cstddef>
#include <vector>

#include "backprop/nn/layer_kind_types.hpp"

namespace backprop {

// The input position read as a code ("input" in a network file), the number of codes; its D values per code
// ("dim") are OUT - IN + 1, its weights (categories, D), its bias empty; nothing saved beyond z, a and delta.
template <>
struct LayerSettings<LayerKind::embedding> {
  int column = 0;
  int categories = 0;
  std::size_t weight_count(int in, int out) const {
    return static_cast<std::size_t>(categories) * static_cast<std::size_t>(out - in + 1);
  }
  static constexpr std::size_t bias_count(int, int) { return 0; }
  static constexpr std::size_t saved_count(int, int, int) { return 0; }
  static constexpr BatchRows fewest_batch_rows{};  // its rows are independent
};

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
