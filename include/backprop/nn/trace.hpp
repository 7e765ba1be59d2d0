// The trace: every figure of the forward pass, the backward pass and the SGD update, step by step, in
// double precision, as the tutorial in ../shared/seed/ writes them out by hand. `backprop trace` prints it.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "backprop/nn/layer_kinds.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {

struct TraceLayer {
  LayerKind kind = LayerKind::dense;
  int in = 0;
  int out = 0;
  Activation activation = Activation::identity;
  std::vector<double> z, a, delta;        // (B, OUT); delta = dL/dz (batch_norm, embedding: no z, delta = dL/dy)
  std::vector<double> grad_weights;       // (IN, OUT); an embedding's (N, D)
  std::vector<double> grad_bias;          // (OUT)
  std::vector<double> weights_before;     // (IN, OUT) as they stood during the step
  std::vector<double> bias_before;        // (OUT)
  std::vector<double> weights, bias;      // after this step's update
  // Each kind's own figures (layer_kind_types.hpp), named as the kind: batch_norm's in layer.batch_norm, filled for
  // an entry of that kind only.
#define BACKPROP_TRACE_FIGURES_MEMBER(kind, model_format_version) [[no_unique_address]] TraceFigures<LayerKind::kind> kind;
  BACKPROP_LAYER_KINDS(BACKPROP_TRACE_FIGURES_MEMBER)
#undef BACKPROP_TRACE_FIGURES_MEMBER
};

// One figure of a traced entry under the name `backprop trace --json` and Python's backprop.trace give it: a
// word, a whole number, whole numbers, or numbers (a 1-D array, or a (rows, cols) block where rows > 0).
struct TraceFigure {
  std::string_view name;
  std::variant<std::string_view, int, std::span<const int>, std::span<const double>> value;
  int rows = 0, cols = 0;
};
// Entry `layer`'s figures (views into it) in the order they are written: a dense layer's z, a, delta,
// grad_weights, grad_bias, weights, bias; ("type", its kind's name) first for another kind, then its own figures
// under nn/batch_norm.hpp's and nn/embedding.hpp's names ("grad_input" only where there is an entry below).
std::vector<TraceFigure> trace_figures(const TraceLayer& layer, int batch);

struct TraceStep {
  int step = 0;          // from 1
  double loss = 0.0;     // before the update
  std::vector<TraceLayer> layers;
};

// The most steps a trace takes, and the most figures it keeps in all (every figure of every step, in
// double: 2^26 numbers are 512 MiB); more is refused (OptionError "steps") before any is computed.
inline constexpr int kMaxTraceSteps = 1000000;
inline constexpr std::size_t kMaxTraceFigures = std::size_t{1} << 26;

struct TraceOptions {
  std::vector<double> input;    // (B, IN) row-major; B >= 2 for a network with batch_norm
  std::vector<double> target;   // (B, OUT)
  int steps = 1;
  std::optional<LossKind> loss;            // overrides the network's loss
  std::optional<double> learning_rate;     // overrides the network's optimizer learning rate
  std::vector<double> weights;  // (B) each row's weight in the loss (class and sample weights); empty: none
};

struct Trace {
  NetworkSpec spec;  // as traced (loss and learning rate applied, label smoothing 0)
  int batch = 1;
  double learning_rate = 0.0;
  std::vector<double> input, target;
  // The rows' weights (empty: none) and the weighted mean's denominator (nn/loss.hpp: their sum for
  // softmax_ce, the rows for the others): the loss is sum_r w_r l_r / denominator, row r's delta carries
  // w_r / denominator instead of 1/B.
  std::vector<double> weights;
  double weight_denominator = 0.0;
  std::vector<TraceStep> steps;
};

// Runs opts.steps plain SGD updates of the network on one batch and records every figure: the network's loss
// without the training recipe's label smoothing (as without its optimizer, schedule and dropout), weighted by
// opts.weights where given (check_row_weights' refusals). Embedding entries read each row's code (a code that
// is not a whole number in [0, N) is Error(bad_input), as in training); batch_norm
// entries normalize with the batch's statistics (training's function) and update their running ones. Throws
// Error(bad_input) when the input or target do not fit the network (a network with batch_norm takes at least 2
// rows) or the loss does not fit the output.
Trace trace(const NetworkSpec& spec, const TraceOptions& options);

}  // namespace backprop
