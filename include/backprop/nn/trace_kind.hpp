// Each layer kind's own figures in a trace, TraceFigures<K>: declared here for every kind, defined in the kind's own
// header (include/backprop/nn/batch_norm_trace.hpp for batch_norm), recorded after the step by its TracePart<K>
// (src/nn/trace_part.hpp). TraceLayer (trace.hpp) holds one of every kind's,
// each named as its kind (layer.batch_norm), made from kinds.hpp's list (BACKPROP_LAYER_KINDS).
#pragma once

#include "backprop/base/kinds.hpp"

namespace backprop {

template <LayerKind K>
struct TraceFigures;

}  // namespace backprop
