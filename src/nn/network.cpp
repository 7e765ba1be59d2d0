#include "backprop/nn/network.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include "backprop/nn/initializer.hpp"
#include "kernels/math.hpp"
#include "backprop/nn/loss.hpp"
#include "nn/layer_walk.hpp"

namespace backprop {

template <typename T>
Workspace<T>::Workspace(const Network<T>& network, int max_batch)
    : max_batch_(max_batch), first_out_(network.layer_count() > 0 ? network.layer(0).out : 0) {
  std::size_t total = 0;
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    // Round each buffer up to 16 values so that every z, a and delta starts 64-byte aligned.
    const std::size_t size = (static_cast<std::size_t>(max_batch) * network.layer(l).out + 15) / 16 * 16;
    const bool dropout = network.spec().layers[l].dropout > 0.0 && l + 1 < network.layer_count();
    has_dropout_.push_back(dropout);
    offsets_.push_back(total);
    sizes_.push_back(size);
    const bool batch_norm = network.layer(l).kind == LayerKind::batch_norm;
    total += (dropout ? 5 : 3) * size + (batch_norm ? (static_cast<std::size_t>(network.layer(l).out) + 15) / 16 * 16 : 0);
  }
  buffer_.assign(total, T(0));
}

template <typename T>
Network<T>::Network(const NetworkSpec& spec) : spec_(spec) {
  validate(spec_);
  std::size_t offset = 0;
  std::size_t statistics = 0;
  const auto aligned = [](std::size_t count) { return (count + 15) / 16 * 16; };
  for (std::size_t l = 0; l < spec_.layers.size(); ++l) {
    const LayerSpec& layer_spec = spec_.layers[l];
    DenseLayer layer;
    layer.kind = layer_spec.kind;
    layer.in = spec_.layer_input(l);
    layer.out = layer_spec.units;
    layer.activation = layer_spec.activation;
    layer.slope = layer_spec.slope;
    layer.momentum = layer_spec.momentum;
    layer.eps = layer_spec.eps;
    layer.column = layer_spec.column;
    layer.categories = layer_spec.categories;
    // Keep each W and b 64-byte aligned in the arena (16 floats); the padding is never read.
    layer.weights_offset = offset;
    offset += aligned(layer.weight_count());
    layer.bias_offset = offset;
    offset += aligned(layer.bias_count());
    layer.statistics_offset = statistics;
    if (layer.kind == LayerKind::batch_norm) statistics += 2 * static_cast<std::size_t>(layer.out);
    layers_.push_back(layer);
  }
  parameters_.assign(offset, T(0));
  gradients_.assign(offset, T(0));
  statistics_.assign(statistics, T(0));
  initialize();
}

// The spec's parameters and statistics where it gives them; else a dense layer's weights drawn by the
// initializer from the spec's seed (in double, so that a float and a double network of one spec start from the
// same values) and zero biases, a batch_norm's scale 1, shift 0, running mean 0 and running variance 1, an
// embedding's weights N(0, 1) (torch.nn.Embedding's).
template <typename T>
void Network<T>::initialize() {
  Random random(spec_.seed);
  std::vector<double> drawn;
  const auto copy = [](const std::vector<double>& from, std::span<T> to, double otherwise) {
    if (from.empty()) std::fill(to.begin(), to.end(), static_cast<T>(otherwise));
    std::transform(from.begin(), from.end(), to.begin(), [](double v) { return T(v); });
  };
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerSpec& layer_spec = spec_.layers[l];
    const DenseLayer& layer = layers_[l];
    switch (layer.kind) {
      case LayerKind::dense: {
        const std::vector<double>* weights = &layer_spec.weights;
        if (weights->empty()) {
          initialize_weights(drawn, layer_spec.initializer.value_or(spec_.initializer), layer_spec.activation,
                             layer.in, layer.out, random);
          weights = &drawn;
        }
        copy(*weights, this->weights(l), 0.0);
        copy(layer_spec.bias, bias(l), 0.0);
        break;
      }
      case LayerKind::batch_norm: {
        const auto out = static_cast<std::size_t>(layer.out);
        copy(layer_spec.weights, this->weights(l), 1.0);
        copy(layer_spec.bias, bias(l), 0.0);
        copy(layer_spec.running_mean, statistics().subspan(layer.statistics_offset, out), 0.0);
        copy(layer_spec.running_var, statistics().subspan(layer.statistics_offset + out, out), 1.0);
        break;
      }
      case LayerKind::embedding: {
        const std::vector<double>* weights = &layer_spec.weights;
        if (weights->empty()) {
          drawn.resize(layer.weight_count());
          for (double& v : drawn) v = random.normal();
          weights = &drawn;
        }
        copy(*weights, this->weights(l), 0.0);
        break;
      }
    }
  }
}

// The walk of nn/layer_walk.hpp, with the CPU's case for each kind; a layer reads the output of the one below
// as that one leaves it (after its dropout).
template <typename T>
void Network<T>::forward(Workspace<T>& workspace, const T* x, int batch, Random* dropout, bool training) const {
  workspace.set_dropout_active(dropout != nullptr);
  const auto input = [&](std::size_t l) { return l == 0 ? x : std::as_const(workspace).layer_output(l - 1); };
  forward_layers(layers_, LayerCases{
      [&](std::size_t l) { dense_layer_forward(workspace, l, input(l), batch, dropout); },
      [&](std::size_t l) {
        const DenseLayer& layer = layers_[l];
        const T* scale = parameters_.data() + layer.weights_offset;
        const T* shift = parameters_.data() + layer.bias_offset;
        T* mean = statistics_.data() + layer.statistics_offset;
        T* variance = mean + layer.out;
        if (training)
          batch_norm_forward_training(workspace.a(l), workspace.batch_norm_saved(l), input(l), scale, shift, mean,
                                      variance, layer, batch, batch_norm_sync_);
        else
          batch_norm_forward_evaluation(workspace.a(l), input(l), scale, shift, mean, variance, layer, batch);
      },
      [&](std::size_t l) {
        embedding_forward(workspace.a(l), input(l), parameters_.data() + layers_[l].weights_offset, layers_[l],
                          batch, l);
      }});
}

template <typename T>
void Network<T>::dense_layer_forward(Workspace<T>& workspace, std::size_t l, const T* input, int batch,
                                     Random* dropout) const {
  const DenseLayer& layer = layers_[l];
  const T* weights = parameters_.data() + layer.weights_offset;
  const T* bias = parameters_.data() + layer.bias_offset;
  if (l == 0 && workspace.input_shift() != nullptr) {
    fold_input_shift(workspace.folded_bias(), bias, weights, workspace.input_shift(), layer.in, layer.out);
    bias = workspace.folded_bias();
  }
  dense_forward(workspace.z(l), workspace.a(l), input, weights, bias, layer, batch);
  if (!workspace.dropout_active(l)) return;
  const double p = spec_.layers[l].dropout;
  const T keep_scale = math::dropout_keep_scale<T>(p);
  const std::size_t n = static_cast<std::size_t>(batch) * layer.out;
  T* mask = workspace.mask(l);
  T* dropped = workspace.dropped(l);
  const T* a = workspace.a(l);
  double draws[256];  // the numbers of uniform(), a block at a time
  for (std::size_t first = 0; first < n; first += std::size(draws)) {
    const std::size_t count = std::min(std::size(draws), n - first);
    dropout->uniforms(draws, count);
    for (std::size_t i = first; i < first + count; ++i) {
      mask[i] = math::dropout_mask(draws[i - first], p, keep_scale);
      dropped[i] = a[i] * mask[i];
    }
  }
}

template <typename T>
T Network<T>::loss_value(const Workspace<T>& workspace, const T* y, int batch, double label_smoothing,
                         const T* weights) const {
  const std::size_t last = layers_.size() - 1;
  return backprop::loss_value(spec_.loss, label_smoothing, workspace.z(last), workspace.a(last), y, batch,
                              layers_[last].out, weights);
}

// The loss's delta of the last layer, then the walk of nn/layer_walk.hpp from the last layer down: each case
// takes its layer's gradients from its delta, and the delta of the entry below (dL/da of it, written straight
// into its delta buffer, then through its dropout mask and activation: its dL/dz).
template <typename T>
bool Network<T>::backward(Workspace<T>& workspace, const T* x, const T* y, int batch, const T* weights) {
  const std::size_t last = layers_.size() - 1;
  loss_backward(workspace.delta(last), spec_.loss, label_smoothing(), workspace.z(last), workspace.a(last), y,
                layers_[last], batch, weights);
  // What every kind's backward takes of layer l: its input, where the delta below goes (null for the first
  // layer), the chain through the layer below, its gradients' and its parameters' places.
  struct Below {
    const T* input;
    T* grad_input = nullptr;
    InputChain<T> chain;
    const InputChain<T>* chain_or_null() const { return grad_input != nullptr ? &chain : nullptr; }
  };
  const auto below = [&](std::size_t l) {
    Below b{l == 0 ? x : std::as_const(workspace).layer_output(l - 1), nullptr, {}};
    if (l == 0) return b;
    b.grad_input = workspace.delta(l - 1);
    b.chain.z = workspace.z(l - 1);
    b.chain.a = workspace.a(l - 1);
    b.chain.mask = workspace.dropout_active(l - 1) ? workspace.mask(l - 1) : nullptr;
    b.chain.activation = layers_[l - 1].activation;
    b.chain.slope = static_cast<T>(layers_[l - 1].slope);
    return b;
  };
  const auto grad_weights = [&](std::size_t l) { return gradients_.data() + layers_[l].weights_offset; };
  const auto grad_bias = [&](std::size_t l) { return gradients_.data() + layers_[l].bias_offset; };
  const auto parameters = [&](std::size_t l) { return parameters_.data() + layers_[l].weights_offset; };
  return backward_layers(layers_, LayerCases{
      [&](std::size_t l) {
        const Below b = below(l);
        return dense_backward(grad_weights(l), grad_bias(l), b.grad_input, b.input, workspace.delta(l),
                              parameters(l), layers_[l], batch, b.chain_or_null(),
                              l == 0 ? workspace.input_shift() : nullptr);
      },
      [&](std::size_t l) {
        const Below b = below(l);
        return batch_norm_backward(grad_weights(l), grad_bias(l), b.grad_input, workspace.delta(l),
                                   std::as_const(workspace).batch_norm_saved(l), parameters(l), layers_[l], batch,
                                   b.chain_or_null(), batch_norm_sync_);
      },
      [&](std::size_t l) {
        const Below b = below(l);
        return embedding_backward(grad_weights(l), b.grad_input, b.input, workspace.delta(l), layers_[l], batch,
                                  b.chain_or_null());
      }});
}

template <typename T>
NetworkSpec Network<T>::spec_with_parameters() const {
  NetworkSpec spec = spec_;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const auto w = weights(l);
    const auto b = bias(l);
    spec.layers[l].weights.assign(w.begin(), w.end());
    spec.layers[l].bias.assign(b.begin(), b.end());
    if (layers_[l].kind == LayerKind::batch_norm) {
      const auto out = static_cast<std::size_t>(layers_[l].out);
      const auto mean = statistics().subspan(layers_[l].statistics_offset, out);
      const auto variance = statistics().subspan(layers_[l].statistics_offset + out, out);
      spec.layers[l].running_mean.assign(mean.begin(), mean.end());
      spec.layers[l].running_var.assign(variance.begin(), variance.end());
    }
  }
  return spec;
}

template class Workspace<float>;
template class Workspace<double>;
template class Network<float>;
template class Network<double>;

}  // namespace backprop
