#include "backprop/nn/network.hpp"

#include <algorithm>
#include <iterator>

#include "backprop/nn/initializer.hpp"
#include "backprop/nn/loss.hpp"

namespace backprop {

template <typename T>
Workspace<T>::Workspace(const Network<T>& network, int max_batch) : max_batch_(max_batch) {
  std::size_t total = 0;
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    // Round each buffer up to 16 values so that every z, a and delta starts 64-byte aligned.
    const std::size_t size = (static_cast<std::size_t>(max_batch) * network.layer(l).out + 15) / 16 * 16;
    const bool dropout = network.spec().layers[l].dropout > 0.0 && l + 1 < network.layer_count();
    has_dropout_.push_back(dropout);
    offsets_.push_back(total);
    sizes_.push_back(size);
    total += (dropout ? 5 : 3) * size;
  }
  buffer_.assign(total, T(0));
}

template <typename T>
Network<T>::Network(const NetworkSpec& spec) : spec_(spec) {
  validate(spec_);
  std::size_t offset = 0;
  for (std::size_t l = 0; l < spec_.layers.size(); ++l) {
    const LayerSpec& layer_spec = spec_.layers[l];
    DenseLayer layer;
    layer.in = spec_.layer_input(l);
    layer.out = layer_spec.units;
    layer.activation = layer_spec.activation;
    layer.slope = layer_spec.slope;
    // Keep each W and b 64-byte aligned in the arena (16 floats); the padding is never read.
    layer.weights_offset = offset;
    offset += (static_cast<std::size_t>(layer.in) * layer.out + 15) / 16 * 16;
    layer.bias_offset = offset;
    offset += (static_cast<std::size_t>(layer.out) + 15) / 16 * 16;
    layers_.push_back(layer);
  }
  parameters_.assign(offset, T(0));
  gradients_.assign(offset, T(0));

  Random random(spec_.seed);
  std::vector<double> drawn;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerSpec& layer_spec = spec_.layers[l];
    const std::vector<double>* weights = &layer_spec.weights;
    if (weights->empty()) {
      initialize_weights(drawn, layer_spec.initializer.value_or(spec_.initializer), layer_spec.activation,
                         layers_[l].in, layers_[l].out, random);
      weights = &drawn;
    }
    std::transform(weights->begin(), weights->end(), this->weights(l).begin(), [](double v) { return T(v); });
    std::transform(layer_spec.bias.begin(), layer_spec.bias.end(), bias(l).begin(), [](double v) { return T(v); });
  }
}

template <typename T>
void Network<T>::forward(Workspace<T>& workspace, const T* x, int batch, Random* dropout) const {
  workspace.set_dropout_active(dropout != nullptr);
  const T* input = x;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const DenseLayer& layer = layers_[l];
    dense_forward(workspace.z(l), workspace.a(l), input, parameters_.data() + layer.weights_offset,
                  parameters_.data() + layer.bias_offset, layer, batch);
    if (workspace.dropout_active(l)) {
      const double p = spec_.layers[l].dropout;
      const T keep_scale = static_cast<T>(1.0 / (1.0 - p));
      const std::size_t n = static_cast<std::size_t>(batch) * layer.out;
      T* mask = workspace.mask(l);
      T* dropped = workspace.dropped(l);
      const T* a = workspace.a(l);
      double draws[256];  // the numbers of uniform(), a block at a time
      for (std::size_t first = 0; first < n; first += std::size(draws)) {
        const std::size_t count = std::min(std::size(draws), n - first);
        dropout->uniforms(draws, count);
        for (std::size_t i = first; i < first + count; ++i) {
          mask[i] = draws[i - first] < p ? T(0) : keep_scale;
          dropped[i] = a[i] * mask[i];
        }
      }
    }
    input = workspace.layer_output(l);
  }
}

template <typename T>
T Network<T>::loss_value(const Workspace<T>& workspace, const T* y, int batch, double label_smoothing,
                         const T* weights) const {
  const std::size_t last = layers_.size() - 1;
  return backprop::loss_value(spec_.loss, label_smoothing, workspace.z(last), workspace.a(last), y, batch,
                              layers_[last].out, weights);
}

template <typename T>
bool Network<T>::backward(Workspace<T>& workspace, const T* x, const T* y, int batch, const T* weights) {
  bool finite = true;
  const std::size_t last = layers_.size() - 1;
  loss_backward(workspace.delta(last), spec_.loss, label_smoothing(), workspace.z(last), workspace.a(last), y,
                layers_[last], batch, weights);
  for (std::size_t l = last + 1; l-- > 0;) {
    const DenseLayer& layer = layers_[l];
    const T* input = l == 0 ? x : workspace.layer_output(l - 1);
    // dL/da of the layer below goes straight into its delta buffer, then becomes dL/dz in place.
    T* grad_input = l == 0 ? nullptr : workspace.delta(l - 1);
    InputChain<T> chain;
    if (l > 0) {
      const DenseLayer& below = layers_[l - 1];
      chain.z = workspace.z(l - 1);
      chain.a = workspace.a(l - 1);
      chain.mask = workspace.dropout_active(l - 1) ? workspace.mask(l - 1) : nullptr;
      chain.activation = below.activation;
      chain.slope = static_cast<T>(below.slope);
    }
    finite &= dense_backward(gradients_.data() + layer.weights_offset, gradients_.data() + layer.bias_offset,
                             grad_input, input, workspace.delta(l), parameters_.data() + layer.weights_offset, layer,
                             batch, l > 0 ? &chain : nullptr);
  }
  return finite;
}

template <typename T>
NetworkSpec Network<T>::spec_with_parameters() const {
  NetworkSpec spec = spec_;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const auto w = weights(l);
    const auto b = bias(l);
    spec.layers[l].weights.assign(w.begin(), w.end());
    spec.layers[l].bias.assign(b.begin(), b.end());
  }
  return spec;
}

template class Workspace<float>;
template class Workspace<double>;
template class Network<float>;
template class Network<double>;

}  // namespace backprop
