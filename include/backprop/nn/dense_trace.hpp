// A dense layer's figures in a trace are TraceLayer's own (trace.hpp: z, a, delta, its gradients, weights and
// bias): it keeps none of its own.
#pragma once

#include "backprop/nn/trace_kind.hpp"

namespace backprop {

template <>
struct TraceFigures<LayerKind::dense> {};

}  // namespace backprop
