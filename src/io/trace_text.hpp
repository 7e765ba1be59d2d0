// Private to src/io/: each layer kind's part of the readable trace, plain text and Markdown (trace_render.cpp),
// TraceWriting<K>, declared here for every kind of kinds.hpp's list (BACKPROP_LAYER_KINDS) and defined in the
// kind's own file (src/io/batch_norm_trace_text.cpp for batch_norm), which the renderer reaches through
// with_layer_kind (base/layer_kind_parts.hpp): a kind without it is a link error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "backprop/base/layer_kind_parts.hpp"
#include "trace_derivation.hpp"

namespace backprop::io::trace_detail {

// Each figure's working, one line each under the line that gives the figure: text indented, Markdown a list.
void write_entries(std::ostream& out, const std::vector<Worked>& entries, const NumberFormat& format,
                   const char* indent);
void write_tex_entries(std::ostream& out, const std::vector<Worked>& entries, const NumberFormat& format);

// Entry l (from 1) of a step as a kind writes it: its figures, their working when expanded (derived: null
// otherwise), and, backward, what its dL/da comes from as the format writes it: upstream, the entry above's
// (empty for the last entry), or for the last entry output_rule, (a - y) with the loss's mean, which carries the
// output activation's derivative when output_carries_derivative.
struct EntryWriting {
  std::ostream& out;
  const TraceLayer& layer;
  const LayerDerivation* derived;
  const NumberFormat& f;
  int l = 0;
  int batch = 1;
  std::string upstream;
  std::string output_rule;
  bool output_carries_derivative = false;
};

// A kind's part of the readable trace: what the entry below names its dL/da from an entry of this kind (n: its
// number), text and LaTeX; what the update's heading adds for the kind, given the learning rate (empty: nothing);
// Markdown's note on the kind above the first step (empty: none); its forward, backward and update lines.
template <LayerKind K>
struct TraceWriting;
#define BACKPROP_TRACE_WRITING(kind, model_format_version)            \
  template <>                                                         \
  struct TraceWriting<LayerKind::kind> {                              \
    static std::string upstream_text(int n);                          \
    static std::string upstream_tex(int n);                           \
    static std::string update_rule_text(const std::string& lr);       \
    static std::string update_rule_tex(const std::string& lr);        \
    static std::string markdown_note();                               \
    static void text_forward(const EntryWriting& w);                  \
    static void text_backward(const EntryWriting& w);                 \
    static void text_update(const EntryWriting& w);                   \
    static void markdown_forward(const EntryWriting& w);              \
    static void markdown_backward(const EntryWriting& w);             \
    static void markdown_update(const EntryWriting& w);               \
  };
BACKPROP_LAYER_KINDS(BACKPROP_TRACE_WRITING)
#undef BACKPROP_TRACE_WRITING

}  // namespace backprop::io::trace_detail
