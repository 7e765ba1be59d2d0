#include "backprop/nn/trace.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/gradient_check.hpp"
#include "backprop/nn/network.hpp"
#include "kernels/math.hpp"

namespace backprop {
namespace {

template <typename Span>
std::vector<double> to_vector(Span values) {
  return std::vector<double>(values.begin(), values.end());
}

// A NaN or infinity would run through every figure of the trace; refused as the data files refuse them.
void check_finite(const std::vector<double>& values, const char* key) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      throw OptionError(key, "expected finite numbers, got " + std::to_string(values[i]) + " at position " +
                                 std::to_string(i + 1));
}

// The figures a step keeps of each entry (refused beyond kMaxTraceFigures before any step is computed).
std::size_t figures_per_step(const Network<double>& network, int batch) {
  const auto rows = static_cast<std::size_t>(batch);
  std::size_t per_step = 1;
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    const DenseLayer& layer = network.layer(l);
    const auto units = static_cast<std::size_t>(layer.out);
    switch (layer.kind) {
      case LayerKind::dense:
        per_step += 3 * rows * units + 3 * (static_cast<std::size_t>(layer.in) + 1) * units;
        break;
      case LayerKind::batch_norm:  // xhat, y, dL/dy, dL/dx; mean, variance, s, 4 running, 6 scale and shift
        per_step += 4 * rows * units + 13 * units;
        break;
      case LayerKind::embedding:  // y, dL/dy, codes, dL/dx; weights before, their gradient and after
        per_step += 2 * rows * units + rows * (1 + static_cast<std::size_t>(layer.in)) + 3 * layer.weight_count();
        break;
    }
  }
  return per_step;
}

std::vector<TraceFigure> batch_norm_figures(const TraceLayer& layer, int batch) {
  const TraceBatchNorm& bn = layer.batch_norm;
  std::vector<TraceFigure> figures{{"type", to_string(layer.kind)},
                                   {"mean", bn.mean},
                                   {"variance", bn.variance},
                                   {"inv_std", bn.inv_std},
                                   {"xhat", bn.xhat, batch, layer.out},
                                   {"a", layer.a, batch, layer.out},
                                   {"running_mean_before", bn.running_mean_before},
                                   {"running_var_before", bn.running_var_before},
                                   {"running_mean", bn.running_mean},
                                   {"running_var", bn.running_var},
                                   {"delta", layer.delta, batch, layer.out},
                                   {"grad_scale", layer.grad_weights},
                                   {"grad_shift", layer.grad_bias}};
  if (!bn.grad_input.empty()) figures.push_back({"grad_input", bn.grad_input, batch, layer.out});
  figures.push_back({"scale", layer.weights});
  figures.push_back({"shift", layer.bias});
  return figures;
}

std::vector<TraceFigure> embedding_figures(const TraceLayer& layer, int batch) {
  const TraceEmbedding& e = layer.embedding;
  std::vector<TraceFigure> figures{{"type", to_string(layer.kind)},
                                   {"input", e.column},
                                   {"categories", e.categories},
                                   {"dim", e.dim},
                                   {"codes", e.codes},
                                   {"a", layer.a, batch, layer.out},
                                   {"delta", layer.delta, batch, layer.out},
                                   {"grad_weights", layer.grad_weights, e.categories, e.dim}};
  if (!e.grad_input.empty()) figures.push_back({"grad_input", e.grad_input, batch, layer.in});
  figures.push_back({"weights", layer.weights, e.categories, e.dim});
  return figures;
}

std::vector<double> running(const Network<double>& network, std::size_t l, bool variance) {
  const DenseLayer& layer = network.layer(l);
  const auto out = static_cast<std::size_t>(layer.out);
  return to_vector(network.statistics().subspan(layer.statistics_offset + (variance ? out : 0), out));
}

// A batch_norm entry's figures after the step's forward and backward (the running statistics before the
// forward already in t): those the workspace keeps, the batch's statistics as the forward computes them, and
// dL/dx (which the backward writes through the chain of the entry below) from the same backward on its own.
void trace_batch_norm(TraceLayer& t, Network<double>& network, const Workspace<double>& workspace, std::size_t l,
                      const double* x, int batch) {
  const DenseLayer& layer = network.layer(l);
  const auto features = static_cast<std::size_t>(layer.out);
  const std::size_t n = static_cast<std::size_t>(batch) * features;
  const BatchNormSaved<const double> saved = workspace.batch_norm_saved(l);
  TraceBatchNorm& bn = t.batch_norm;
  bn.eps = layer.eps;
  bn.momentum = layer.momentum;
  const double* input = l == 0 ? x : workspace.layer_output(l - 1);
  bn.mean.resize(features);
  bn.variance.resize(features);
  batch_norm_statistics(bn.mean.data(), bn.variance.data(), input, layer.out, batch);
  bn.inv_std.assign(saved.inv_std, saved.inv_std + features);
  bn.xhat.assign(saved.xhat, saved.xhat + n);
  bn.running_mean = running(network, l, false);
  bn.running_var = running(network, l, true);
  if (l == 0) return;
  std::vector<double> grad_scale(features), grad_shift(features);
  bn.grad_input.resize(n);
  batch_norm_backward(grad_scale.data(), grad_shift.data(), bn.grad_input.data(), workspace.delta(l), saved,
                      network.weights(l).data(), layer, batch, static_cast<const InputChain<double>*>(nullptr));
}

// An embedding entry's codes (which row of its table each row read) and, unless it is the first entry, dL/dx
// from the same backward on its own (the network's writes it into the delta of the entry below).
void trace_embedding(TraceLayer& t, const Network<double>& network, const Workspace<double>& workspace, std::size_t l,
                     const double* x, int batch) {
  const DenseLayer& layer = network.layer(l);
  const double* input = l == 0 ? x : workspace.layer_output(l - 1);
  TraceEmbedding& e = t.embedding;
  e.column = layer.column;
  e.categories = layer.categories;
  e.dim = layer.dim();
  e.codes.resize(static_cast<std::size_t>(batch));
  for (int r = 0; r < batch; ++r)  // whole numbers in [0, N): the forward has checked them
    e.codes[r] = static_cast<int>(input[static_cast<std::size_t>(r) * layer.in + layer.column]);
  if (l == 0) return;
  std::vector<double> grad_weights(layer.weight_count());
  e.grad_input.resize(static_cast<std::size_t>(batch) * layer.in);
  embedding_backward(grad_weights.data(), e.grad_input.data(), input, workspace.delta(l), layer, batch,
                     static_cast<const InputChain<double>*>(nullptr));
}

}  // namespace

Trace trace(const NetworkSpec& spec, const TraceOptions& options) {
  Trace result;
  result.spec = spec;
  if (options.loss) result.spec.loss = *options.loss;
  // The trace is of the plain loss, as its update is plain SGD: the recipe's label smoothing, like its
  // optimizer and dropout, is training's, not the worked example's.
  result.spec.training.label_smoothing = 0.0;
  if (options.learning_rate) result.spec.optimizer.learning_rate = *options.learning_rate;
  if (options.steps < 1 || options.steps > kMaxTraceSteps)
    throw OptionError("steps", "expected a number of steps in [1, " + std::to_string(kMaxTraceSteps) + "], got " +
                                   std::to_string(options.steps));
  Network<double> network(result.spec);

  const std::size_t in = static_cast<std::size_t>(network.input_size());
  const std::size_t out = static_cast<std::size_t>(network.output_size());
  if (options.input.empty() || options.input.size() % in != 0)
    throw OptionError("input", "expected " + std::to_string(in) + " numbers per row (the network's inputs), got " +
                                 std::to_string(options.input.size()));
  const int batch = static_cast<int>(options.input.size() / in);
  if (batch < 2 && network.spec().has(LayerKind::batch_norm))
    throw OptionError("input", "expected at least 2 rows for a network with batch_norm (one row has no batch "
                               "variance; rows separated by ';'), got 1");
  if (options.target.size() != out * batch)
    throw OptionError("target", "expected " + std::to_string(out) + " numbers per row (the network's outputs) for " +
                                  std::to_string(batch) + " row(s), got " + std::to_string(options.target.size()));
  check_finite(options.input, "input");
  check_finite(options.target, "target");
  check_row_weights(options.weights, batch);
  // Every figure of every step is kept: refuse a trace that would not fit the cap before computing any.
  const std::size_t per_step = figures_per_step(network, batch);
  if (static_cast<std::size_t>(options.steps) > kMaxTraceFigures / per_step)
    throw OptionError("steps", "expected at most " + std::to_string(std::max<std::size_t>(1, kMaxTraceFigures / per_step)) +
                                   " steps for this network and batch (a trace keeps every figure of every step, " +
                                   std::to_string(per_step) + " a step, at most " + std::to_string(kMaxTraceFigures) +
                                   " in all), got " + std::to_string(options.steps));
  result.batch = batch;
  result.learning_rate = result.spec.optimizer.learning_rate;
  result.input = options.input;
  result.target = options.target;
  result.weights = options.weights;
  const double* weights = options.weights.empty() ? nullptr : options.weights.data();
  if (weights != nullptr) {
    double total = 0;
    for (const double w : options.weights) total += w;
    result.weight_denominator = math::weighted_loss_denominator(result.spec.loss, total, batch);
  }

  Workspace<double> workspace(network, batch);
  for (int step = 1; step <= options.steps; ++step) {
    TraceStep traced;
    traced.step = step;
    traced.layers.resize(network.layer_count());
    for (std::size_t l = 0; l < network.layer_count(); ++l)
      if (network.layer(l).kind == LayerKind::batch_norm) {
        traced.layers[l].batch_norm.running_mean_before = running(network, l, false);
        traced.layers[l].batch_norm.running_var_before = running(network, l, true);
      }
    network.forward(workspace, options.input.data(), batch, nullptr, true);
    traced.loss = network.loss_value(workspace, options.target.data(), batch, weights);
    network.backward(workspace, options.input.data(), options.target.data(), batch, weights);
    for (std::size_t l = 0; l < network.layer_count(); ++l) {
      const DenseLayer& layer = network.layer(l);
      const std::size_t n = static_cast<std::size_t>(batch) * layer.out;
      TraceLayer& t = traced.layers[l];
      t.kind = layer.kind;
      t.in = layer.in;
      t.out = layer.out;
      t.activation = layer.activation;
      switch (layer.kind) {
        case LayerKind::dense:
          t.z.assign(workspace.z(l), workspace.z(l) + n);
          break;
        case LayerKind::batch_norm:
          trace_batch_norm(t, network, workspace, l, options.input.data(), batch);
          break;
        case LayerKind::embedding:  // no z: its codes, and its output (a) and dL/dy (delta) below
          trace_embedding(t, network, workspace, l, options.input.data(), batch);
          break;
      }
      t.a.assign(workspace.a(l), workspace.a(l) + n);
      t.delta.assign(workspace.delta(l), workspace.delta(l) + n);
      t.grad_weights = to_vector(network.weight_gradients(l));
      t.grad_bias = to_vector(network.bias_gradients(l));
      t.weights_before = to_vector(network.weights(l));
      t.bias_before = to_vector(network.bias(l));
    }
    // Plain SGD over the whole arena: a batch_norm's scale and shift are updated with the weights.
    kernels::sgd_update(network.parameters().data(), network.gradients().data(), network.parameters().size(),
                        result.learning_rate);
    for (std::size_t l = 0; l < network.layer_count(); ++l) {
      traced.layers[l].weights = to_vector(network.weights(l));
      traced.layers[l].bias = to_vector(network.bias(l));
    }
    result.steps.push_back(std::move(traced));
  }
  return result;
}

std::vector<TraceFigure> trace_figures(const TraceLayer& layer, int batch) {
  switch (layer.kind) {
    case LayerKind::dense:
      return {{"z", layer.z, batch, layer.out},
              {"a", layer.a, batch, layer.out},
              {"delta", layer.delta, batch, layer.out},
              {"grad_weights", layer.grad_weights, layer.in, layer.out},
              {"grad_bias", layer.grad_bias},
              {"weights", layer.weights, layer.in, layer.out},
              {"bias", layer.bias}};
    case LayerKind::batch_norm: return batch_norm_figures(layer, batch);
    case LayerKind::embedding: return embedding_figures(layer, batch);
  }
  return {};
}

}  // namespace backprop
