// An embedding entry's part of the trace (nn/trace_part.hpp): the code each row reads and dL/dx (TraceEmbedding),
// under nn/embedding.hpp's names.
#include "backprop/nn/embedding.hpp"
#include "nn/trace_part.hpp"

namespace backprop::detail {

// y, dL/dy, codes, dL/dx; weights before, their gradient and after
std::size_t TracePart<LayerKind::embedding>::figure_count(const DenseLayer& layer, int batch) {
  const auto rows = static_cast<std::size_t>(batch);
  return 2 * rows * static_cast<std::size_t>(layer.out) + rows * (1 + static_cast<std::size_t>(layer.in)) +
         3 * layer.weight_count();
}

void TracePart<LayerKind::embedding>::before_step(TraceLayer&, const Network<double>&, std::size_t) {}

// An embedding entry's codes (which row of its table each row read) and, unless it is the first entry, dL/dx
// from the same backward on its own (the network's writes it into the delta of the entry below).
void TracePart<LayerKind::embedding>::record(TraceLayer& t, Network<double>& network,
                                             const Workspace<double>& workspace, std::size_t l, const double* x,
                                             int batch) {
  const DenseLayer& layer = network.layer(l);
  const double* input = l == 0 ? x : workspace.layer_output(l - 1);
  TraceEmbedding& e = t.embedding;
  e.column = layer.embedding.column;
  e.categories = layer.embedding.categories;
  e.dim = layer.dim();
  e.codes.resize(static_cast<std::size_t>(batch));
  for (int r = 0; r < batch; ++r)  // whole numbers in [0, N): the forward has checked them
    e.codes[r] = static_cast<int>(input[static_cast<std::size_t>(r) * layer.in + layer.embedding.column]);
  if (l == 0) return;
  std::vector<double> grad_weights(layer.weight_count());
  e.grad_input.resize(static_cast<std::size_t>(batch) * layer.in);
  embedding_backward(grad_weights.data(), e.grad_input.data(), input, workspace.delta(l), layer, batch,
                     static_cast<const InputChain<double>*>(nullptr));
}

std::vector<TraceFigure> TracePart<LayerKind::embedding>::figures(const TraceLayer& layer, int batch) {
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

}  // namespace backprop::detail
