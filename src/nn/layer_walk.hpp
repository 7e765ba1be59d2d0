// The one loop over a network's layers that the general CPU step (nn/network.cpp's Network::forward and
// Network::backward, whose cases are each kind's CpuLayer<K>, below, defined in its own file), the
// one-row step (train/row_step.cpp) and the device step (device/device_network.cpp's DeviceNetwork::forward and
// loss_and_gradient) all run: each step says what one layer of each kind does, as a LayerCases, and the walk
// takes the layers in order (forward) or in reverse (backward) and calls the case of each layer's kind.
//
// Why a case per kind rather than one function that switches: a LayerCases is built with a member for every
// kind (both it and the switch below are made from kinds.hpp's list, so a new kind needs no edit here), so a new
// kind fails to compile in every step that does not say what it does, instead of falling through to the dense
// layer's code. A step whose cases come from a part of each kind (every_kind_cases, CpuLayer<K>) fails to link
// instead.
// The one-row step (train/row_step.cpp) runs the same walk with its own dense case (its widths unrolled) and
// NotReached for every other kind (one_kind_cases), which it declines (RowStep::applies).
// Internal to src/.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "backprop/nn/network.hpp"

namespace backprop {

// What one step does for layer l of each kind: callables taking the layer's number (forward: returning nothing;
// backward: returning whether its gradients are finite), one member per kind of kinds.hpp's list
// (BACKPROP_LAYER_KINDS), named as the kind and in its order: LayerCases{dense, batch_norm, embedding}. A step
// that gives fewer cases than there are kinds has a template argument left without a value: a compile error.
#define BACKPROP_LAYER_CASE_TYPE(kind, model_format_version) typename kind##_case,
#define BACKPROP_LAYER_CASE_MEMBER(kind, model_format_version) kind##_case kind;
template <BACKPROP_LAYER_KINDS(BACKPROP_LAYER_CASE_TYPE) int = 0>
struct LayerCases {
  BACKPROP_LAYER_KINDS(BACKPROP_LAYER_CASE_MEMBER)
};
#undef BACKPROP_LAYER_CASE_MEMBER
#undef BACKPROP_LAYER_CASE_TYPE
template <typename... Cases>
LayerCases(Cases...) -> LayerCases<Cases...>;

// A layer's starting values (each kind's CpuLayer<K>::initialize): the spec's where it gives them (from), else
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
#define BACKPROP_LAYER_CASE(kind, model_format_version) \
  case LayerKind::kind:                                 \
    return cases.kind(l);
  switch (layer.kind) { BACKPROP_LAYER_KINDS(BACKPROP_LAYER_CASE) }
#undef BACKPROP_LAYER_CASE
  __builtin_unreachable();  // kind holds one of the values above (the spec's reader admits no other)
}

// The case of a kind that a step declines before it runs (the one-row step: RowStep::applies): unreachable, so
// that the walk's switch compiles to the other cases alone.
// Result: what the step's other cases return (void forward, bool backward).
template <typename Result>
struct NotReached {
  [[noreturn]] Result operator()(std::size_t) const { __builtin_unreachable(); }
};

// The cases of a step that runs one kind alone (the one-row step: dense layers): `only` for that kind and `other`
// for every other kind of the list (NotReached, or RowStep::applies' false), so that the step and its check
// decline a new kind alike, with no edit there.
template <bool Chosen, typename OnlyCase, typename OtherCase>
inline __attribute__((always_inline)) auto one_kind_case(const OnlyCase& only, const OtherCase& other) {
  if constexpr (Chosen)
    return only;
  else
    return other;
}
template <LayerKind Only, typename OnlyCase, typename OtherCase>
inline __attribute__((always_inline)) auto one_kind_cases(const OnlyCase& only, const OtherCase& other) {
#define BACKPROP_ONE_KIND_CASE(kind, model_format_version) one_kind_case<LayerKind::kind == Only>(only, other),
  return LayerCases{BACKPROP_LAYER_KINDS(BACKPROP_ONE_KIND_CASE)};
#undef BACKPROP_ONE_KIND_CASE
}

// The cases of a step that says what every kind does in one callable, each(kind, l) with kind a
// std::integral_constant<LayerKind, K> (the general CPU step: CpuLayer<decltype(kind)::value>'s members), made
// from the list so that the step names no kind.
template <typename Each>
inline __attribute__((always_inline)) auto every_kind_cases(const Each& each) {
#define BACKPROP_EVERY_KIND_CASE(kind, model_format_version) \
  [each](std::size_t l) -> decltype(auto) { return each(std::integral_constant<LayerKind, LayerKind::kind>{}, l); },
  return LayerCases{BACKPROP_LAYER_KINDS(BACKPROP_EVERY_KIND_CASE)};
#undef BACKPROP_EVERY_KIND_CASE
}

// Each kind's cases of the general CPU step (nn/network.cpp), declared here for every kind of kinds.hpp's list and
// defined in the kind's own file (src/nn/dense.cpp for dense), so that network.cpp names no kind and a kind
// without them is a link error (an undefined CpuLayer<K>::forward<float>). Entry l of network:
// - initialize: its first values, the spec's where it gives them, else drawn in the network's order from random
//   (through drawn, a buffer the walk reuses);
// - forward: from input (B, IN; the entry below's output as it leaves it, after its dropout) into the workspace;
//   dropout: the masks' generator, null when the step draws none; training: false in evaluation;
// - backward: from its delta into the gradient arena and the delta of the entry below (below); returns whether
//   its gradients are finite.
template <LayerKind K>
struct CpuLayer;
#define BACKPROP_CPU_LAYER(kind, model_format_version)                                                             \
  template <>                                                                                                      \
  struct CpuLayer<LayerKind::kind> {                                                                               \
    template <typename T>                                                                                          \
    static void initialize(Network<T>& network, std::size_t l, Random& random, std::vector<double>& drawn);       \
    template <typename T>                                                                                          \
    static void forward(const Network<T>& network, Workspace<T>& workspace, std::size_t l, const T* input,        \
                        int batch, Random* dropout, bool training);                                                \
    template <typename T>                                                                                          \
    static bool backward(Network<T>& network, Workspace<T>& workspace, std::size_t l, const LayerBelow<T>& below, \
                         int batch);                                                                               \
  };
BACKPROP_LAYER_KINDS(BACKPROP_CPU_LAYER)
#undef BACKPROP_CPU_LAYER

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
