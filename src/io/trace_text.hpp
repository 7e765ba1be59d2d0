// Private to src/io/: each layer kind's part of the readable trace, TraceWriting<K>: its working
// (trace_derivation.cpp), its plain text and Markdown (trace_render.cpp), its HTML page and Graphviz graph
// (trace_page.cpp); declared here for every kind of kinds.hpp's list (BACKPROP_LAYER_KINDS) and defined in the
// kind's own file (src/io/batch_norm_trace_text.cpp for batch_norm), which those reach through
// with_layer_kind (base/layer_kind_parts.hpp): a kind without it is a link error.
#pragma once

#include <algorithm>
#include <map>
#include <ostream>
#include <string>
#include <utility>
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

// The page's drawing (trace_page.cpp): a column per entry, the inputs first, the units of a column spread evenly.
struct PageLayout {
  std::vector<int> sizes;  // units per column, the inputs first
  int width = 760, height = 0;
  double x(int layer) const { return 70 + layer * (width - 140.0) / std::max<std::size_t>(1, sizes.size() - 1); }
  double y(int layer, int unit) const { return (unit + 1) * double(height) / (sizes[layer] + 1); }
};
// The drawn elements' ids: "u<layer>-<unit>" (layer 0 holds the inputs), "w<layer>-<in>-<out>" for the weight
// from unit <in> of layer-1 to unit <out>.
std::string unit_id(int layer, int unit);
std::string weight_id(int layer, int in, int out);

// Graphviz: text as a quoted string; "name = value" of each figure for a label, their working for a tooltip.
std::string dot_string(const std::string& text);
std::pair<std::string, std::string> dot_label(const std::vector<const Worked*>& lines, const NumberFormat& f,
                                              const std::string& heading);

// Entry l (from 1) of the graph's step as a kind draws it: its figures by the element they belong to, and the
// loss's for the last entry (null for the others).
struct DotEntry {
  std::ostream& out;
  const TraceLayer& layer;
  int l = 0;
  const NumberFormat& f;
  const std::map<std::string, std::vector<const Worked*>>& elements;
  const Worked* loss = nullptr;
  std::vector<const Worked*> lines_of(const std::string& id) const;
};

// A kind's part of the readable trace: what the entry below names its dL/da from an entry of this kind (n: its
// number), text and LaTeX; what the update's heading adds for the kind, given the learning rate (empty: nothing);
// Markdown's note on the kind above the first step (empty: none); its forward, backward and update lines.
// Its working (trace_derivation.cpp's derive): forward, its figures of the forward pass; derive_upstream, the
// entry below's dL/da[r][i] as this entry (l) passes it down; derive_delta, this entry's delta[r][i] from the
// dL/da the entry above passes down (the working of `worked`, which holds its name, that dL/da's name and value);
// its gradients and its update; worked_parts, all of an entry's figures (its shared ones and its kind's own,
// trace_derivation.hpp) in the order the page lists a unit's or weight's working within a phase.
// Its page and graph (trace_page.cpp): its notes on the page and in the graph's heading comment (empty: none);
// the largest |weight| it draws as a line (0: none), its lines into the SVG's column l, its units' title and
// style there, its panels' heading after "layer l" (before the unit's number), whether each weight has a panel
// of its own; its nodes and edges in the graph.
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
    static void derive_forward(const StepContext& c, int l, LayerDerivation& out);                        \
    static Upstream derive_upstream(const StepContext& c, int l, int r, int i);                           \
    static void derive_delta(const StepContext& c, int l, int r, int i, const Formula& upstream,        \
                             Worked& worked);                                                             \
    static void derive_gradients(const StepContext& c, int l, LayerDerivation& out);                      \
    static void derive_update(const StepContext& c, int l, LayerDerivation& out);                         \
    static std::vector<const std::vector<Worked>*> worked_parts(const LayerDerivation& derived);          \
    static std::string html_note();                                                                       \
    static std::string dot_note();                                                                        \
    static double largest_drawn_weight(const TraceLayer& layer);                                          \
    static void svg_lines(std::ostream& out, const Trace& trace, const PageLayout& layout, int l,         \
                          const std::vector<double>& largest);                                            \
    static std::string unit_title();                                                                      \
    static std::string unit_style();                                                                      \
    static std::string panel_heading();                                                                   \
    static bool weight_panels();                                                                          \
    static void dot_entry(const DotEntry& d);                                                             \
  };
BACKPROP_LAYER_KINDS(BACKPROP_TRACE_WRITING)
#undef BACKPROP_TRACE_WRITING

}  // namespace backprop::io::trace_detail
