// A dense (fully connected) layer and its activation: z = a_prev . W + b, a = f(z).
//
// Conventions for all of nn/: B rows in a batch, IN inputs and OUT outputs of a layer, row-major,
// W stored (IN, OUT) as the tutorial writes it. Gradient rule: backward OVERWRITES the gradient
// buffers it is given (no accumulation, so nothing needs zeroing between steps).
#pragma once

#include <cstddef>
#include <vector>

#include "backprop/base/layer_kind_parts.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {

class Random;
template <typename T>
class Network;
template <typename T>
class Workspace;

// One entry of a network and where its arrays sit: its parameters in the parameter arena (the gradient arena
// has the same layout), its running statistics (a kind's arrays that are not trained) in the network's
// statistics. A dense layer's weights are (IN, OUT) and its bias (OUT); a batch_norm's (IN = OUT) are its scale
// (OUT) and shift (OUT); an embedding's weights are (categories, D) and it has no bias. Each kind's settings
// (LayerSpec's, copied: a kind's arrays there are the spec's starting values, the network's are in its arena and
// statistics) are its member named as the kind (layer.batch_norm.eps), and its counts of weights, bias and saved
// values its LayerSettings<K>'s.
struct DenseLayer {
  int in = 0;
  int out = 0;
  Activation activation = Activation::identity;
  double slope = 0.01;  // leaky_relu only
  std::size_t weights_offset = 0;  // (IN, OUT); batch_norm: scale (OUT)
  std::size_t bias_offset = 0;     // (OUT); batch_norm: shift (OUT)
  std::size_t statistics_offset = 0;  // its running statistics in the network's (Network::statistics(l))
#define BACKPROP_LAYER_SETTINGS_MEMBER(kind, model_format_version) \
  [[no_unique_address]] LayerSettings<LayerKind::kind> kind;
  BACKPROP_LAYER_KINDS(BACKPROP_LAYER_SETTINGS_MEMBER)
#undef BACKPROP_LAYER_SETTINGS_MEMBER
  LayerKind kind = LayerKind::dense;
  int dim() const { return out - in + 1; }  // embedding: the values per code
  std::size_t weight_count() const {
    return with_layer_kind(kind, [&](auto k) { return settings_of<decltype(k)::value>(*this).weight_count(in, out); });
  }
  std::size_t bias_count() const {
    return with_layer_kind(kind, [&](auto k) { return settings_of<decltype(k)::value>(*this).bias_count(in, out); });
  }
  // The values a training forward of up to max_batch rows saves for the backward beyond z, a and delta.
  std::size_t saved_count(int max_batch) const {
    return with_layer_kind(
        kind, [&](auto k) { return settings_of<decltype(k)::value>(*this).saved_count(in, out, max_batch); });
  }
};

// z (B, OUT) = input (B, IN) . weights (IN, OUT) + bias (OUT);  a (B, OUT) = f(z).
template <typename T>
void dense_forward(T* z, T* a, const T* input, const T* weights, const T* bias, const DenseLayer& layer, int batch);

// How dL/d(input) becomes the layer below's dL/dz: through its dropout mask (when it had dropout in the
// forward) and its activation's derivative, from its saved z and a (each (B, IN)).
template <typename T>
struct InputChain {
  const T* z = nullptr;
  const T* a = nullptr;
  const T* mask = nullptr;  // null: no dropout
  Activation activation = Activation::identity;
  T slope = T(0);
};

// Given dz = dL/dz (B, OUT) and the forward's input (B, IN):
//   grad_weights (IN, OUT) = input^T . dz
//   grad_bias (OUT)        = column sums of dz
//   grad_input (B, IN)     = dz . weights^T      (skipped when grad_input is null: the first layer)
// and, with a chain, grad_input = (dz . weights^T) * mask * f'(z_below): the layer below's dL/dz, applied
// block by block while each block of the product is in cache; with a shift (IN; fold_input_shift), the input
// is u = x / s and grad_weights = u^T . dz - shift^T grad_bias, also block by block. Returns whether
// grad_weights and grad_bias are finite (each block of the product looked at while in cache).
template <typename T>
bool dense_backward(T* grad_weights, T* grad_bias, T* grad_input, const T* input, const T* dz, const T* weights,
                    const DenseLayer& layer, int batch, const InputChain<T>* chain = nullptr,
                    const T* shift = nullptr);

// What a layer's backward takes of the entry below it in a network (Network::backward): the layer's input, where
// dL/d(input) goes (null for the first entry) and the chain through the entry below.
template <typename T>
struct LayerBelow {
  const T* input = nullptr;
  T* grad_input = nullptr;
  InputChain<T> chain;
  const InputChain<T>* chain_or_null() const { return grad_input != nullptr ? &chain : nullptr; }
};

// A first dense layer given its inputs as u = x / s, the standardization (x - m) / s with its offset
// shift = m / s taken out (Workspace::set_input_shift): since ((x - m) / s) W + b = u W + (b - shift W),
//   folded_bias (OUT) = bias - shift . weights          (the forward's bias in place of b)
// and since dL/dW = ((x - m) / s)^T dz = u^T dz - shift^T (column sums of dz) = u^T dz - shift^T dL/db,
//   grad_weights (IN, OUT) -= shift^T grad_bias         (dense_backward given the shift)
// so that u keeps x's zeros for the products that skip them. Each sum in input order, the same for any threads.
template <typename T>
void fold_input_shift(T* folded_bias, const T* bias, const T* weights, const T* shift, int in, int out);

// grad (B, IN) = dL/d(input) becomes the layer below's dL/dz through the chain (in place).
template <typename T>
void apply_input_chain(T* grad, const InputChain<T>& chain, int batch, int in);

// a (rows, cols) = f(z), row-wise for softmax.
template <typename T>
void activation_forward(T* a, const T* z, Activation activation, T slope, int rows, int cols);

// dz = da * f'(z) element-wise (for softmax, the Jacobian-vector product a * (da - <da, a>)). dz may
// alias da.
template <typename T>
void activation_backward(T* dz, const T* z, const T* a, const T* da, Activation activation, T slope, int rows,
                         int cols);

}  // namespace backprop
