// A dense layer's own types (layer_kind_types.hpp). Its settings (units, activation, slope, dropout, initializer)
// are LayerSpec's own, shared by every kind; its figures in a trace are TraceLayer's own (trace.hpp: z, a, delta,
// its gradients, weights and bias): it keeps none of its own.
#pragma once

#include <cstddef>

#include "backprop/nn/layer_kind_types.hpp"

namespace backprop {

// Weights (IN, OUT), bias (OUT); nothing saved beyond z, a and delta.
template <>
struct LayerSettings<LayerKind::dense> {
  static constexpr std::size_t weight_count(int in, int out) { return static_cast<std::size_t>(in) * out; }
  static constexpr std::size_t bias_count(int, int out) { return static_cast<std::size_t>(out); }
  static constexpr std::size_t saved_count(int, int, int) { return 0; }
  static constexpr BatchRows fewest_batch_rows{};  // its rows are independent
};

template <>
struct TraceFigures<LayerKind::dense> {};

}  // namespace backprop
