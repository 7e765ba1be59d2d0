// The trace written out for a learner: every figure with its working, as the tutorial in ../shared/seed/ does
// by hand (`z1[0] = 0.1000(1.0000) + 0.3000(2.0000) + ... + 0.1000 = 5.1000`), as plain text, Markdown with
// LaTeX math, a Graphviz graph or a self-contained HTML page. `backprop trace` and Python's backprop.trace
// print through these, so both write the same.
#pragma once

#include <string>
#include <vector>
#include <string_view>

#include "backprop/io/model_file.hpp"
#include "backprop/nn/trace.hpp"

namespace backprop::io {

enum class TraceFormat { text, markdown, html, dot };

// "text", "markdown", "html" or "dot"; throws OptionError("format", ...) for anything else.
TraceFormat parse_trace_format(std::string_view name);

struct TraceRenderOptions {
  int digits = 4;        // decimals of every printed figure, fixed notation (0 to 17)
  bool expand = false;   // every figure with its working; html and dot always carry it
  std::string source;    // what was traced (a file name), for the heading
  // The input as given, when the model's scaling made the traced x from it (text and markdown show both).
  std::vector<double> raw_input{};
  std::string scaling{};  // the scaling's kind, for that line
};

// Beyond these the working no longer fits on a page: the JSON trace (--json) holds every figure instead.
inline constexpr int kExpandMaxUnits = 16;  // units in any layer, the inputs included
inline constexpr int kExpandMaxRows = 8;    // rows of the batch

// Throws Error(bad_input), naming --json, when the network or the batch is too large to write out.
void check_expandable(const Trace& trace);

// The trace in the format; with the working when options.expand or the format is html or dot (then
// check_expandable applies). Throws OptionError("digits", ...) for digits outside 0 to 17.
std::string render_trace(const Trace& trace, TraceFormat format, const TraceRenderOptions& options);

// A trace of a model traces what it computes: the rows given (the network's inputs, row-major) scaled by the
// model's scaling, as predict scales them (data/scaling.hpp's scale_rows); a model trained on uint8 data
// also needs them in [0, 1] (check_byte_inputs). `given` unchanged for a network file.
std::vector<double> traced_input(const ModelFile& model, const std::vector<double>& given);
// The options render_trace takes for such a trace: the source, and the input as given when it was scaled.
TraceRenderOptions trace_render_options(const ModelFile& model, const std::vector<double>& given, int digits,
                                        bool expand, const std::string& source);

}  // namespace backprop::io
