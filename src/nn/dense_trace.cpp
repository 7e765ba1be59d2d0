// A dense entry's part of the trace (nn/trace_part.hpp): its z besides the figures every entry has.
#include "nn/trace_part.hpp"

namespace backprop::detail {

std::size_t TracePart<LayerKind::dense>::figure_count(const DenseLayer& layer, int batch) {
  const auto units = static_cast<std::size_t>(layer.out);
  return 3 * static_cast<std::size_t>(batch) * units + 3 * (static_cast<std::size_t>(layer.in) + 1) * units;
}

void TracePart<LayerKind::dense>::before_step(TraceLayer&, const Network<double>&, std::size_t) {}

void TracePart<LayerKind::dense>::record(TraceLayer& traced, Network<double>&, const Workspace<double>& workspace,
                                         std::size_t l, const double*, int batch) {
  const std::size_t n = static_cast<std::size_t>(batch) * traced.out;
  traced.z.assign(workspace.z(l), workspace.z(l) + n);
}

std::vector<TraceFigure> TracePart<LayerKind::dense>::figures(const TraceLayer& layer, int batch) {
  return {{"z", layer.z, batch, layer.out},
          {"a", layer.a, batch, layer.out},
          {"delta", layer.delta, batch, layer.out},
          {"grad_weights", layer.grad_weights, layer.in, layer.out},
          {"grad_bias", layer.grad_bias},
          {"weights", layer.weights, layer.in, layer.out},
          {"bias", layer.bias}};
}

}  // namespace backprop::detail
