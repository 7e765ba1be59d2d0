// Each layer kind's own types, declared here for every kind and defined in the kind's own header
// (include/backprop/nn/batch_norm_types.hpp for batch_norm; layer_kinds.hpp includes them all):
// - LayerSettings<K>: its settings and arrays of its own (batch_norm's momentum, eps and running statistics,
//   embedding's column and categories; dense's none), its arrays' counts (weight_count, bias_count), the count
//   of values a training forward saves for the backward beyond z, a and delta (saved_count(in, out, max_batch):
//   Workspace::saved) and the fewest rows a training batch may have with an entry of the kind (fewest_batch_rows,
//   BatchRows; nn/batch_rows.hpp takes the most over a network's entries). LayerSpec (spec.hpp) and DenseLayer
//   (dense.hpp) hold one of every kind's, each named as its kind (layer.batch_norm.momentum), made from kinds.hpp's
//   list (BACKPROP_LAYER_KINDS); settings_of<K> reaches the one of kind K.
// - TraceFigures<K>: its own figures in a trace, recorded after the step by its TracePart<K> (src/nn/trace_part.hpp);
//   TraceLayer (trace.hpp) holds one of every kind's the same way (layer.batch_norm).
#pragma once

#include "backprop/base/kinds.hpp"

namespace backprop {

template <LayerKind K>
struct LayerSettings;

// The fewest rows of a training batch that an entry of a kind computes on, and why: 1 and no reason for a kind
// whose rows are independent; more for one whose training statistics span the batch's rows.
struct BatchRows {
  int rows = 1;
  const char* why = "";
};

template <LayerKind K>
struct TraceFigures;

// The settings of kind K of a LayerSpec or DenseLayer (its member named as the kind).
template <LayerKind K, typename Holder>
constexpr auto& settings_of(Holder& holder) {
#define BACKPROP_SETTINGS_OF(kind, model_format_version) \
  if constexpr (K == LayerKind::kind) return holder.kind; \
  else
  BACKPROP_LAYER_KINDS(BACKPROP_SETTINGS_OF)
#undef BACKPROP_SETTINGS_OF
  static_assert(K != K, "settings_of: a kind of BACKPROP_LAYER_KINDS");
}

}  // namespace backprop
