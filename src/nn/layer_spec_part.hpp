// Private to src/nn/: each layer kind's part of a network's description (spec.cpp), LayerSpecPart<K>, declared here
// for every kind of kinds.hpp's list (BACKPROP_LAYER_KINDS) and defined in the kind's own file (src/nn/<kind>.cpp),
// which layer_arrays, layer_fields and validate reach through with_layer_kind (base/layer_kind_parts.hpp): a kind
// without it is a link error, and spec.cpp names no kind.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "backprop/base/layer_kind_parts.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop::detail {

// An entry of the kind: its arrays with `in` inputs, in file order (layer_arrays); its description as Python's
// Network.layers gives it, ("type", its kind's name) first for a kind other than dense (layer_fields); its checks,
// throwing Error(bad_input) "<where>.<field>: expected ..." (validate; `where` is "layers[l]", its units >= 1
// already checked).
template <LayerKind K>
struct LayerSpecPart;
#define BACKPROP_LAYER_SPEC_PART(kind, model_format_version)                                          \
  template <>                                                                                         \
  struct LayerSpecPart<LayerKind::kind> {                                                             \
    static std::vector<LayerArray> arrays(const LayerSpec& layer, int in);                            \
    static std::vector<LayerField> fields(const NetworkSpec& spec, std::size_t l);                    \
    static void validate(const NetworkSpec& spec, std::size_t l, const std::string& where);           \
  };
BACKPROP_LAYER_KINDS(BACKPROP_LAYER_SPEC_PART)
#undef BACKPROP_LAYER_SPEC_PART

// LayerSpec's own arrays as a kind's arrays name them (LayerArray::access).
inline std::vector<double>& weights_of(LayerSpec& layer) { return layer.weights; }
inline std::vector<double>& bias_of(LayerSpec& layer) { return layer.bias; }

// Whether every value is finite (spec.cpp).
bool all_finite(const std::vector<double>& values);

}  // namespace backprop::detail
