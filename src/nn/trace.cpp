#include "backprop/nn/trace.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/batch_rows.hpp"
#include "backprop/nn/gradient_check.hpp"
#include "backprop/nn/network.hpp"
#include "kernels/math.hpp"
#include "nn/trace_part.hpp"

namespace backprop {
namespace {

// A NaN or infinity would run through every figure of the trace; refused as the data files refuse them.
void check_finite(const std::vector<double>& values, const char* key) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      throw OptionError(key, "expected finite numbers, got " + std::to_string(values[i]) + " at position " +
                                 std::to_string(i + 1));
}

// The figures a step keeps of each entry (refused beyond kMaxTraceFigures before any step is computed).
std::size_t figures_per_step(const Network<double>& network, int batch) {
  std::size_t per_step = 1;
  for (std::size_t l = 0; l < network.layer_count(); ++l)
    per_step += with_layer_kind(network.layer(l).kind, [&](auto k) {
      return detail::TracePart<decltype(k)::value>::figure_count(network.layer(l), batch);
    });
  return per_step;
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
  if (const FewestBatchRows fewest = fewest_batch_rows(result.spec); batch < fewest.rows)
    throw OptionError("input", fewest.expected() + ", got " + std::to_string(batch) + " (rows separated by ';')");
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
      with_layer_kind(network.layer(l).kind, [&](auto k) {
        detail::TracePart<decltype(k)::value>::before_step(traced.layers[l], network, l);
      });
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
      with_layer_kind(layer.kind, [&](auto k) {
        detail::TracePart<decltype(k)::value>::record(t, network, workspace, l, options.input.data(), batch);
      });
      t.a.assign(workspace.a(l), workspace.a(l) + n);
      t.delta.assign(workspace.delta(l), workspace.delta(l) + n);
      t.grad_weights = detail::to_vector(network.weight_gradients(l));
      t.grad_bias = detail::to_vector(network.bias_gradients(l));
      t.weights_before = detail::to_vector(network.weights(l));
      t.bias_before = detail::to_vector(network.bias(l));
    }
    // Plain SGD over the whole arena: every kind's trained arrays are updated with the dense layers' weights.
    kernels::sgd_update(network.parameters().data(), network.gradients().data(), network.parameters().size(),
                        result.learning_rate);
    for (std::size_t l = 0; l < network.layer_count(); ++l) {
      traced.layers[l].weights = detail::to_vector(network.weights(l));
      traced.layers[l].bias = detail::to_vector(network.bias(l));
    }
    result.steps.push_back(std::move(traced));
  }
  return result;
}

std::vector<TraceFigure> trace_figures(const TraceLayer& layer, int batch) {
  return with_layer_kind(layer.kind,
                         [&](auto k) { return detail::TracePart<decltype(k)::value>::figures(layer, batch); });
}

}  // namespace backprop
