// A batch_norm entry's part of the trace (nn/trace_part.hpp): its batch statistics, normalized values, running
// statistics before and after the step, and dL/dx (TraceBatchNorm), under nn/batch_norm.hpp's names.
#include "backprop/nn/batch_norm.hpp"
#include "nn/trace_part.hpp"

namespace backprop::detail {
namespace {

std::vector<double> running(const Network<double>& network, std::size_t l, bool variance) {
  return to_vector(variance ? batch_norm_running_var(network, l) : batch_norm_running_mean(network, l));
}

}  // namespace

// xhat, y, dL/dy, dL/dx; mean, variance, s, 4 running, 6 scale and shift
std::size_t TracePart<LayerKind::batch_norm>::figure_count(const DenseLayer& layer, int batch) {
  const auto units = static_cast<std::size_t>(layer.out);
  return 4 * static_cast<std::size_t>(batch) * units + 13 * units;
}

void TracePart<LayerKind::batch_norm>::before_step(TraceLayer& traced, const Network<double>& network, std::size_t l) {
  traced.batch_norm.running_mean_before = running(network, l, false);
  traced.batch_norm.running_var_before = running(network, l, true);
}

// A batch_norm entry's figures after the step's forward and backward (the running statistics before the
// forward already in t): those the workspace keeps, the batch's statistics as the forward computes them, and
// dL/dx (which the backward writes through the chain of the entry below) from the same backward on its own.
void TracePart<LayerKind::batch_norm>::record(TraceLayer& t, Network<double>& network,
                                              const Workspace<double>& workspace, std::size_t l, const double* x,
                                              int batch) {
  const DenseLayer& layer = network.layer(l);
  const auto features = static_cast<std::size_t>(layer.out);
  const std::size_t n = static_cast<std::size_t>(batch) * features;
  const BatchNormSaved<const double> saved = batch_norm_saved(workspace, l);
  TraceBatchNorm& bn = t.batch_norm;
  bn.eps = layer.batch_norm.eps;
  bn.momentum = layer.batch_norm.momentum;
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

std::vector<TraceFigure> TracePart<LayerKind::batch_norm>::figures(const TraceLayer& layer, int batch) {
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

}  // namespace backprop::detail
