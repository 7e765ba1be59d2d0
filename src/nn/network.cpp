#include "backprop/nn/network.hpp"

#include <utility>

#include "backprop/base/random.hpp"
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
    const std::size_t saved = network.layer(l).saved_count(max_batch);
    saved_offsets_.push_back((dropout ? 5 : 3) * size);
    saved_counts_.push_back(saved);
    total += saved_offsets_.back() + (saved + 15) / 16 * 16;
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
#define BACKPROP_COPY_LAYER_SETTINGS(kind, model_format_version) layer.kind = layer_spec.kind;
    BACKPROP_LAYER_KINDS(BACKPROP_COPY_LAYER_SETTINGS)
#undef BACKPROP_COPY_LAYER_SETTINGS
    // Keep each W and b 64-byte aligned in the arena (16 floats); the padding is never read.
    layer.weights_offset = offset;
    offset += aligned(layer.weight_count());
    layer.bias_offset = offset;
    offset += aligned(layer.bias_count());
    layer.statistics_offset = statistics;
    for (const LayerArray& array : spec_.arrays(l))
      if (!array.trained) statistics += array.size;
    layers_.push_back(layer);
  }
  parameters_.assign(offset, T(0));
  gradients_.assign(offset, T(0));
  statistics_.assign(statistics, T(0));
  initialize();
}

// Each entry's first values, its kind's CpuLayer<K>::initialize (in its own file, nn/layer_walk.hpp), in order:
// the draws come from one generator seeded by the spec.
template <typename T>
void Network<T>::initialize() {
  Random random(spec_.seed);
  std::vector<double> drawn;
  forward_layers(layers_, every_kind_cases([&](auto kind, std::size_t l) {
    CpuLayer<decltype(kind)::value>::initialize(*this, l, random, drawn);
  }));
}

// The walk of nn/layer_walk.hpp, with the CPU's case of each kind (its CpuLayer<K>::forward); a layer reads the
// output of the one below as that one leaves it (after its dropout).
template <typename T>
void Network<T>::forward(Workspace<T>& workspace, const T* x, int batch, Random* dropout, bool training) const {
  workspace.set_dropout_active(dropout != nullptr);
  const auto input = [&](std::size_t l) { return l == 0 ? x : std::as_const(workspace).layer_output(l - 1); };
  forward_layers(layers_, every_kind_cases([&](auto kind, std::size_t l) {
    CpuLayer<decltype(kind)::value>::forward(*this, workspace, l, input(l), batch, dropout, training);
  }));
}

template <typename T>
T Network<T>::loss_value(const Workspace<T>& workspace, const T* y, int batch, double label_smoothing,
                         const T* weights) const {
  const std::size_t last = layers_.size() - 1;
  return backprop::loss_value(spec_.loss, label_smoothing, workspace.z(last), workspace.a(last), y, batch,
                              layers_[last].out, weights);
}

// The loss's delta of the last layer, then the walk of nn/layer_walk.hpp from the last layer down: each kind's
// CpuLayer<K>::backward takes its layer's gradients from its delta, and the delta of the entry below (dL/da of it,
// written straight into its delta buffer, then through its dropout mask and activation: its dL/dz).
template <typename T>
bool Network<T>::backward(Workspace<T>& workspace, const T* x, const T* y, int batch, const T* weights) {
  const std::size_t last = layers_.size() - 1;
  loss_backward(workspace.delta(last), spec_.loss, label_smoothing(), workspace.z(last), workspace.a(last), y,
                layers_[last], batch, weights);
  // What every kind's backward takes of layer l (LayerBelow): its input, where the delta below goes (null for
  // the first layer) and the chain through the layer below.
  const auto below = [&](std::size_t l) {
    LayerBelow<T> b;
    b.input = l == 0 ? x : std::as_const(workspace).layer_output(l - 1);
    if (l == 0) return b;
    b.grad_input = workspace.delta(l - 1);
    b.chain.z = workspace.z(l - 1);
    b.chain.a = workspace.a(l - 1);
    b.chain.mask = workspace.dropout_active(l - 1) ? workspace.mask(l - 1) : nullptr;
    b.chain.activation = layers_[l - 1].activation;
    b.chain.slope = static_cast<T>(layers_[l - 1].slope);
    return b;
  };
  return backward_layers(layers_, every_kind_cases([&](auto kind, std::size_t l) {
    return CpuLayer<decltype(kind)::value>::backward(*this, workspace, l, below(l), batch);
  }));
}

template <typename T>
NetworkSpec Network<T>::spec_with_parameters() const {
  NetworkSpec spec = spec_;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const auto w = weights(l);
    const auto b = bias(l);
    spec.layers[l].weights.assign(w.begin(), w.end());
    spec.layers[l].bias.assign(b.begin(), b.end());
    // Its running statistics: its arrays that are not trained, one after another in statistics(l).
    std::size_t offset = 0;
    for (const LayerArray& array : spec.arrays(l)) {
      if (array.trained) continue;
      const auto values = statistics(l).subspan(offset, array.size);
      array.values(spec.layers[l]).assign(values.begin(), values.end());
      offset += array.size;
    }
  }
  return spec;
}

template class Workspace<float>;
template class Workspace<double>;
template class Network<float>;
template class Network<double>;

}  // namespace backprop
