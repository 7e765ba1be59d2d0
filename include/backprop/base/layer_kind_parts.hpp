// How shared code reaches each layer kind's own part of a concern without a switch that names every kind: a
// struct template over the kind (io's LayerFileForm<K>, OnnxLayer<K>) whose members each kind defines in its own
// file, called through with_layer_kind for the kinds of kLayerKinds (kinds.hpp). A kind without its part is a
// link error (an undefined Part<K>::member), never a kind silently left out.
#pragma once

#include <type_traits>

#include "backprop/base/kinds.hpp"

namespace backprop {

// visit(std::integral_constant<LayerKind, K>{}) for K = kind.
template <int I = 0, typename Visit>
constexpr decltype(auto) with_layer_kind(LayerKind kind, Visit&& visit) {
  constexpr LayerKind candidate = kLayerKinds[I].kind;
  if constexpr (I + 1 < kLayerKindCount) {
    if (kind != candidate) return with_layer_kind<I + 1>(kind, static_cast<Visit&&>(visit));
  }
  return visit(std::integral_constant<LayerKind, candidate>{});
}

}  // namespace backprop
