#include "backprop/nn/trace.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/network.hpp"

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
  if (network.spec().has(LayerKind::batch_norm))
    throw_bad_input("trace: a network with batch_norm is not traced yet (its working is not written); gradcheck "
                    "checks its gradients");
  if (options.target.size() != out * batch)
    throw OptionError("target", "expected " + std::to_string(out) + " numbers per row (the network's outputs) for " +
                                  std::to_string(batch) + " row(s), got " + std::to_string(options.target.size()));
  check_finite(options.input, "input");
  check_finite(options.target, "target");
  // Every figure of every step is kept: refuse a trace that would not fit the cap before computing any.
  std::size_t per_step = 1;
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    const DenseLayer& layer = network.layer(l);
    const auto units = static_cast<std::size_t>(layer.out);
    per_step += 3 * static_cast<std::size_t>(batch) * units + 3 * (static_cast<std::size_t>(layer.in) + 1) * units;
  }
  if (static_cast<std::size_t>(options.steps) > kMaxTraceFigures / per_step)
    throw OptionError("steps", "expected at most " + std::to_string(std::max<std::size_t>(1, kMaxTraceFigures / per_step)) +
                                   " steps for this network and batch (a trace keeps every figure of every step, " +
                                   std::to_string(per_step) + " a step, at most " + std::to_string(kMaxTraceFigures) +
                                   " in all), got " + std::to_string(options.steps));
  result.batch = batch;
  result.learning_rate = result.spec.optimizer.learning_rate;
  result.input = options.input;
  result.target = options.target;

  Workspace<double> workspace(network, batch);
  for (int step = 1; step <= options.steps; ++step) {
    network.forward(workspace, options.input.data(), batch, nullptr, true);
    TraceStep traced;
    traced.step = step;
    traced.loss = network.loss_value(workspace, options.target.data(), batch);
    network.backward(workspace, options.input.data(), options.target.data(), batch);
    for (std::size_t l = 0; l < network.layer_count(); ++l) {
      const DenseLayer& layer = network.layer(l);
      const std::size_t n = static_cast<std::size_t>(batch) * layer.out;
      TraceLayer t;
      t.in = layer.in;
      t.out = layer.out;
      t.activation = layer.activation;
      t.z.assign(workspace.z(l), workspace.z(l) + n);
      t.a.assign(workspace.a(l), workspace.a(l) + n);
      t.delta.assign(workspace.delta(l), workspace.delta(l) + n);
      t.grad_weights = to_vector(network.weight_gradients(l));
      t.grad_bias = to_vector(network.bias_gradients(l));
      t.weights_before = to_vector(network.weights(l));
      t.bias_before = to_vector(network.bias(l));
      traced.layers.push_back(std::move(t));
    }
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

}  // namespace backprop
