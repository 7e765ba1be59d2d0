// The one loop over a network's layers that the general CPU step (nn/network.cpp's Network::forward and
// Network::backward, whose cases are each kind's *_layer_forward and *_layer_backward in its own file), the
// one-row step (train/row_step.cpp) and the device step (device/device_network.cpp's DeviceNetwork::forward and
// loss_and_gradient) all run: each step says what one layer of each kind does, as a LayerCases, and the walk
// takes the layers in order (forward) or in reverse (backward) and calls the case of each layer's kind.
//
// Why a case per kind rather than one function that switches: a LayerCases is built with a member for every
// kind, so a kind added here (a member and a case below; -Werror=switch-enum checks the switch) fails to compile
// in every step that does not say what the new kind does, instead of falling through to the dense layer's code.
// The one-row step (train/row_step.cpp) runs the same walk with its own dense case (its widths unrolled) and
// NotReached for the kinds it declines (RowStep::applies).
// Internal to src/.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "backprop/nn/network.hpp"

namespace backprop {

// What one step does for layer l of each kind: callables taking the layer's number (forward: returning nothing;
// backward: returning whether its gradients are finite).
template <typename Dense, typename BatchNorm, typename Embedding>
struct LayerCases {
  Dense dense;
  BatchNorm batch_norm;
  Embedding embedding;
};
template <typename Dense, typename BatchNorm, typename Embedding>
LayerCases(Dense, BatchNorm, Embedding) -> LayerCases<Dense, BatchNorm, Embedding>;

// A layer's starting values (each kind's *_layer_initialize): the spec's where it gives them (from), else
// otherwise throughout.
template <typename T>
inline void starting_values(std::span<T> to, const std::vector<double>& from, double otherwise) {
  if (from.empty()) std::fill(to.begin(), to.end(), static_cast<T>(otherwise));
  std::transform(from.begin(), from.end(), to.begin(), [](double v) { return T(v); });
}

// Calls the case of layer l's kind. The walk is always inlined into the step: the one-row step's cases are too
// (a call per layer costs its seed network's step several percent).
template <typename Cases>
inline __attribute__((always_inline)) decltype(auto) layer_case(const DenseLayer& layer, std::size_t l, Cases& cases) {
  switch (layer.kind) {
    case LayerKind::dense:
      return cases.dense(l);
    case LayerKind::batch_norm:
      return cases.batch_norm(l);
    case LayerKind::embedding:
      return cases.embedding(l);
  }
  __builtin_unreachable();  // kind holds one of the values above (the spec's reader admits no other)
}

// The case of a kind that a step declines before it runs (the one-row step: RowStep::applies). Still one
// member of the step's LayerCases, so that a new kind is a compile error there too, until the step says it
// declines it or runs it; and unreachable, so that the walk's switch compiles to the other cases alone.
// Result: what the step's other cases return (void forward, bool backward).
template <typename Result>
struct NotReached {
  [[noreturn]] Result operator()(std::size_t) const { __builtin_unreachable(); }
};

// The forward pass: every layer from the first, each after the one below it.
template <typename Cases>
inline __attribute__((always_inline)) void forward_layers(const std::vector<DenseLayer>& layers, Cases&& cases) {
  for (std::size_t l = 0; l < layers.size(); ++l) layer_case(layers[l], l, cases);
}

// The backward pass: every layer from the last, each before the one below it (the loss's delta of the last one
// is the step's to write first). True when every case returned true; every layer runs either way.
template <typename Cases>
inline __attribute__((always_inline)) bool backward_layers(const std::vector<DenseLayer>& layers, Cases&& cases) {
  bool finite = true;
  for (std::size_t l = layers.size(); l-- > 0;) finite &= static_cast<bool>(layer_case(layers[l], l, cases));
  return finite;
}

}  // namespace backprop
