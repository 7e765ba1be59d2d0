// Private to src/nn/: each layer kind's part of the trace (trace.cpp), TracePart<K>, declared here for every kind of
// kinds.hpp's list (BACKPROP_LAYER_KINDS) and defined in the kind's own file (src/nn/batch_norm_trace.cpp for
// batch_norm), which trace() and trace_figures reach through with_layer_kind (base/layer_kind_parts.hpp): a kind
// without it is a link error.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "backprop/base/layer_kind_parts.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/trace.hpp"

namespace backprop::detail {

// A copy of an arena's view, the trace's figures being its own.
template <typename Span>
std::vector<double> to_vector(Span values) {
  return std::vector<double>(values.begin(), values.end());
}

// Entry l of a traced step: the figures a step keeps of it (counted before any step is computed, against
// kMaxTraceFigures), what it keeps from before the step's forward, its own figures recorded after the step's
// forward and backward (x: the network's input; trace() records a, delta, the gradients and the parameters of
// every kind), and its figures by name (trace_figures).
template <LayerKind K>
struct TracePart;
#define BACKPROP_TRACE_PART(kind, model_format_version)                                                        \
  template <>                                                                                                  \
  struct TracePart<LayerKind::kind> {                                                                          \
    static std::size_t figure_count(const DenseLayer& layer, int batch);                                      \
    static void before_step(TraceLayer& traced, const Network<double>& network, std::size_t l);               \
    static void record(TraceLayer& traced, Network<double>& network, const Workspace<double>& workspace,       \
                       std::size_t l, const double* x, int batch);                                             \
    static std::vector<TraceFigure> figures(const TraceLayer& layer, int batch);                              \
  };
BACKPROP_LAYER_KINDS(BACKPROP_TRACE_PART)
#undef BACKPROP_TRACE_PART

}  // namespace backprop::detail
