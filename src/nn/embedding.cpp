// The embedding entry: forward and backward side by side; the math is in nn/embedding.hpp.
// A row's copy and a row's scatter-add are D values each: nothing is allocated, so a training step stays
// allocation-free, and the rows are added in order, so the gradient has the same bits for any thread count.
#include "backprop/nn/embedding.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/base/random.hpp"
#include "backprop/nn/network.hpp"
#include "kernels/embedding_math.hpp"
#include "nn/layer_spec_part.hpp"
#include "nn/layer_walk.hpp"

namespace backprop {

namespace {

// The code of row r, checked: a whole number in [0, N).
template <typename T>
std::size_t code_of(const T* x, const DenseLayer& layer, int r, std::size_t entry) {
  const T v = x[static_cast<std::size_t>(r) * layer.in + layer.embedding.column];
  const std::int64_t row = math::embedding_row(v, layer.embedding.categories);
  if (row < 0)
    throw_bad_input("layers[" + std::to_string(entry) + "] (embedding of input " +
                    std::to_string(layer.embedding.column) + "): expected a category's code, a whole number in [0, " +
                    std::to_string(layer.embedding.categories) +
                    "), in row " + std::to_string(r + 1) + " of the batch, got " +
                    format_general(static_cast<double>(v), 9));
  return static_cast<std::size_t>(row);
}

}  // namespace

template <typename T>
void embedding_forward(T* y, const T* x, const T* weights, const DenseLayer& layer, int batch, std::size_t entry) {
  const auto in = static_cast<std::size_t>(layer.in), out = static_cast<std::size_t>(layer.out);
  const auto k = static_cast<std::size_t>(layer.embedding.column), dim = static_cast<std::size_t>(layer.dim());
  for (int r = 0; r < batch; ++r) {
    const T* row = x + static_cast<std::size_t>(r) * in;
    T* to = y + static_cast<std::size_t>(r) * out;
    const T* vector = weights + code_of(x, layer, r, entry) * dim;
    std::copy(row, row + k, to);
    std::copy(vector, vector + dim, to + k);
    std::copy(row + k + 1, row + in, to + k + dim);
  }
}

template <typename T>
bool embedding_backward(T* grad_weights, T* grad_input, const T* x, const T* dy, const DenseLayer& layer, int batch,
                        const InputChain<T>* chain) {
  const auto in = static_cast<std::size_t>(layer.in), out = static_cast<std::size_t>(layer.out);
  const auto k = static_cast<std::size_t>(layer.embedding.column), dim = static_cast<std::size_t>(layer.dim());
  std::fill(grad_weights, grad_weights + static_cast<std::size_t>(layer.embedding.categories) * dim, T(0));
  for (int r = 0; r < batch; ++r) {
    const T* from = dy + static_cast<std::size_t>(r) * out;
    T* row = grad_weights + code_of(x, layer, r, 0) * dim;  // checked by the forward already
    for (std::size_t d = 0; d < dim; ++d) row[d] += from[k + d];
    if (grad_input == nullptr) continue;
    T* to = grad_input + static_cast<std::size_t>(r) * in;
    std::copy(from, from + k, to);
    to[k] = T(0);
    std::copy(from + k + dim, from + out, to + k + 1);
  }
  if (grad_input != nullptr && chain != nullptr) apply_input_chain(grad_input, *chain, batch, layer.in);
  return std::all_of(grad_weights, grad_weights + static_cast<std::size_t>(layer.embedding.categories) * dim,
                     [](T v) { return std::isfinite(v); });
}

std::vector<int> embedding_code_columns(const NetworkSpec& spec) {
  std::vector<int> columns;
  for (std::size_t l = 0; l < spec.layers.size() && spec.layers[l].kind == LayerKind::embedding; ++l) {
    int column = spec.layers[l].embedding.column;
    for (std::size_t j = l; j-- > 0;) {  // back through the entries before: each put D values at its column
      const LayerSpec& before = spec.layers[j];
      const int dim = before.units - spec.layer_input(j) + 1;
      if (column >= before.embedding.column + dim) column -= dim - 1;
      else if (column >= before.embedding.column) return columns;  // one of its values: refused by its validate
    }
    columns.push_back(column);
  }
  return columns;
}

// The embedding's cases of the general CPU step (CpuLayer<K>, nn/layer_walk.hpp), entry l of network: its first
// values (the spec's, else N(0, 1) draws from random, through drawn); its forward (no dropout of its own, the same
// in training and evaluation); its backward.
template <typename T>
void CpuLayer<LayerKind::embedding>::initialize(Network<T>& network, std::size_t l, Random& random,
                                                std::vector<double>& drawn) {
  const std::vector<double>* weights = &network.spec().layers[l].weights;
  if (weights->empty()) {  // torch.nn.Embedding's N(0, 1)
    drawn.resize(network.layer(l).weight_count());
    for (double& v : drawn) v = random.normal();
    weights = &drawn;
  }
  starting_values(network.weights(l), *weights, 0.0);
}

template <typename T>
void CpuLayer<LayerKind::embedding>::forward(const Network<T>& network, Workspace<T>& workspace, std::size_t l,
                                             const T* input, int batch, Random*, bool) {
  embedding_forward(workspace.a(l), input, network.weights(l).data(), network.layer(l), batch, l);
}

template <typename T>
bool CpuLayer<LayerKind::embedding>::backward(Network<T>& network, Workspace<T>& workspace, std::size_t l,
                                              const LayerBelow<T>& below, int batch) {
  return embedding_backward(network.weight_gradients(l).data(), below.grad_input, below.input,
                            std::as_const(workspace).delta(l), network.layer(l), batch, below.chain_or_null());
}

#define BACKPROP_EMBEDDING_LAYER(T)                                                                              \
  template void CpuLayer<LayerKind::embedding>::initialize<T>(Network<T>&, std::size_t, Random&,               \
                                                              std::vector<double>&);                            \
  template void CpuLayer<LayerKind::embedding>::forward<T>(const Network<T>&, Workspace<T>&, std::size_t,       \
                                                           const T*, int, Random*, bool);                       \
  template bool CpuLayer<LayerKind::embedding>::backward<T>(Network<T>&, Workspace<T>&, std::size_t,           \
                                                            const LayerBelow<T>&, int);
BACKPROP_EMBEDDING_LAYER(float)
BACKPROP_EMBEDDING_LAYER(double)
#undef BACKPROP_EMBEDDING_LAYER
template void embedding_forward<float>(float*, const float*, const float*, const DenseLayer&, int, std::size_t);
template void embedding_forward<double>(double*, const double*, const double*, const DenseLayer&, int, std::size_t);
template bool embedding_backward<float>(float*, float*, const float*, const float*, const DenseLayer&, int,
                                        const InputChain<float>*);
template bool embedding_backward<double>(double*, double*, const double*, const double*, const DenseLayer&, int,
                                         const InputChain<double>*);

// An embedding entry's part of the network's description (nn/layer_spec_part.hpp): its weights (categories, D).
std::vector<LayerArray> detail::LayerSpecPart<LayerKind::embedding>::arrays(const LayerSpec& layer, int in) {
  const std::size_t dim = static_cast<std::size_t>(layer.units) - static_cast<std::size_t>(in) + 1;
  return {{weights_of, static_cast<std::size_t>(layer.embedding.categories) * dim, "weights", true, dim}};
}

std::vector<LayerField> detail::LayerSpecPart<LayerKind::embedding>::fields(const NetworkSpec& spec, std::size_t l) {
  const LayerSpec& layer = spec.layers[l];
  return {{"type", to_string(layer.kind)},
          {"units", layer.units},
          {"input", layer.embedding.column},
          {"categories", layer.embedding.categories},
          {"dim", layer.units - spec.layer_input(l) + 1}};
}

// Refuses an entry after a dense or batch_norm entry, last, a column outside the input or on the values of an
// embedding before it, N or D < 1, weights not (N, D) or not finite.
void detail::LayerSpecPart<LayerKind::embedding>::validate(const NetworkSpec& spec, std::size_t l,
                                                           const std::string& where) {
  const LayerSpec& layer = spec.layers[l];
  const int in = spec.layer_input(l);
  if (l > 0 && spec.layers[l - 1].kind != LayerKind::embedding)
    throw_bad_input(where + ": expected embedding entries first in \"layers\" (they read the network's input), "
                            "not after a " + std::string(to_string(spec.layers[l - 1].kind)) + " entry");
  if (l + 1 == spec.layers.size())
    throw_bad_input(where + ": an embedding cannot be the last entry (the output layer is dense)");
  if (!(layer.embedding.column >= 0 && layer.embedding.column < in))
    throw_bad_input(where + ".input: expected a position in [0, " + std::to_string(in) + ") of its input, got " +
                    std::to_string(layer.embedding.column));
  if (layer.embedding.categories < 1)
    throw_bad_input(where + ".categories: expected a number of categories >= 1, got " +
                    std::to_string(layer.embedding.categories));
  const int dim = layer.units - in + 1;
  if (dim < 1) throw_bad_input(where + ".dim: expected a number of values per category >= 1, got " + std::to_string(dim));
  if (layer.activation != Activation::identity || layer.dropout != 0.0 || layer.initializer)
    throw_bad_input(where + ": an embedding takes no activation, dropout or initializer");
  if (embedding_code_columns(spec).size() <= l)
    throw_bad_input(where + ".input: expected a column of the network's input, not one of the values an embedding "
                            "before it put at position " + std::to_string(layer.embedding.column));
  const std::size_t size = static_cast<std::size_t>(layer.embedding.categories) * static_cast<std::size_t>(dim);
  if (!layer.weights.empty() && layer.weights.size() != size)
    throw_bad_input(where + ".weights: expected " + std::to_string(layer.embedding.categories) + " rows of " +
                    std::to_string(dim) + " numbers (categories x dim)");
  for (double v : layer.weights)
    if (!fits_float(v)) throw_bad_input(where + ".weights: expected finite numbers within float32's range");
}

}  // namespace backprop
