// The working of every figure of a trace, built once (trace_derivation.cpp, each kind's figures in its own file,
// embedding_trace_text.cpp for embedding) and written by each renderer: plain text and Markdown with LaTeX
// (trace_render.cpp), HTML and Graphviz (trace_page.cpp), each kind's part again in its own file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backprop/nn/trace.hpp"

namespace backprop::io::trace_detail {

// One piece of a formula in the three notations: plain text (which the tests parse and re-evaluate), LaTeX,
// and HTML whose numbers carry their full-precision value on hover.
struct Formula {
  std::string text, tex, html;
  bool empty() const { return text.empty(); }
  Formula& operator+=(const Formula& other);
};
Formula operator+(Formula left, const Formula& right);

// Numbers at a fixed number of decimals; the locale is never consulted.
class NumberFormat {
 public:
  explicit NumberFormat(int digits) : digits_(digits) {}
  int digits() const { return digits_; }
  std::string fixed(double v) const;
  Formula number(double v) const;  // as is: -0.3725
  Formula factor(double v) const;  // in parentheses when negative: (-0.3725)
  Formula list(const double* v, int n) const;                      // [a, b, c]
  Formula block(const std::vector<double>& v, int rows, int cols) const;  // a list, or a list of rows

 private:
  int digits_;
};

// Literal text: the same in text and HTML (escaped), tex as given.
Formula lit(const std::string& text, const std::string& tex);
inline Formula lit(const std::string& same) { return lit(same, same); }
// left(right), as the tutorial writes a product: 0.1(1), 0.6453(-0.3725).
Formula times(const Formula& left, const Formula& right);
// name(argument), the name an operator in LaTeX: sigmoid(0.5216).
Formula function(const std::string& name, const Formula& argument);

// The phases of one step, in the order the page steps through them: forward layer by layer, the loss,
// backward from the last layer down, the update.
struct Phases {
  int layers = 0;
  int forward(int layer) const { return layer - 1; }         // layer from 1
  int loss() const { return layers; }
  int backward(int layer) const { return layers + 1 + (layers - layer); }
  int update() const { return 2 * layers + 1; }
  int count() const { return 2 * layers + 2; }
};

// One figure: name = symbolic = working... = value. symbolic (may be empty) names what is combined;
// each working evaluates to value from the printed numbers.
struct Worked {
  Formula name;
  Formula symbolic;
  std::vector<Formula> working;
  double value = 0.0;
  std::string element;  // the drawn element it belongs to: "u<layer>-<unit>" (layer 0: the inputs),
                        // "w<layer>-<in>-<out>" (a weight), "loss"
  int phase = 0;
};

// Each layer kind's own figures with their working (beside LayerDerivation's: a normalization's mean and variance,
// say), declared here for every kind and defined in the kind's own file (embedding_trace_text.cpp for embedding),
// which alone fills and reads them. LayerDerivation holds one of every kind's by pointer, named as the kind
// (derived.embedding), made from kinds.hpp's list (BACKPROP_LAYER_KINDS), so that this header needs none of them; a
// kind without figures of its own leaves its undefined and its pointer empty. The kind's
// TraceWriting<K>::worked_parts lists all of an entry's figures in the order the page shows them.
template <LayerKind K>
struct WorkedFigures;

// An entry's figures that kinds share: a dense layer's all; another kind's a (its output), delta, grad_weights and
// grad_bias (the gradients of the arrays it keeps as its weights and bias), weights and bias (updated), as its kind
// says.
struct LayerDerivation {
  std::vector<Worked> z, a, delta, grad_weights, grad_bias, weights, bias;
#define BACKPROP_WORKED_FIGURES(kind, model_format_version) std::shared_ptr<WorkedFigures<LayerKind::kind>> kind;
  BACKPROP_LAYER_KINDS(BACKPROP_WORKED_FIGURES)
#undef BACKPROP_WORKED_FIGURES
};

// The figures `part` names: the entry's shared ones (&LayerDerivation::a) or its kind's own
// (&WorkedFigures<K>::mean, in the kind's own file, whose derive_forward made them).
inline const std::vector<Worked>& worked_part(const LayerDerivation& derived,
                                              const std::vector<Worked> LayerDerivation::*part) {
  return derived.*part;
}
template <LayerKind K>
const std::vector<Worked>& worked_part(const LayerDerivation& derived,
                                       const std::vector<Worked> WorkedFigures<K>::*part) {
#define BACKPROP_WORKED_PART(kind, model_format_version) \
  if constexpr (K == LayerKind::kind) return (*derived.kind).*part; \
  else
  BACKPROP_LAYER_KINDS(BACKPROP_WORKED_PART)
#undef BACKPROP_WORKED_PART
  static_assert(K != K, "worked_part: a kind of BACKPROP_LAYER_KINDS");
}

struct StepDerivation {
  Worked loss;
  std::vector<LayerDerivation> layers;
};

// Everything the working of one step needs (derive(), and each kind's part, trace_text.hpp's TraceWriting<K>).
struct StepContext {
  const Trace& trace;
  const TraceStep& step;
  const NumberFormat& format;
  Phases phases;
  int batch;

  const TraceLayer& layer(int l) const { return step.layers[l - 1]; }  // l from 1
  // a_(l-1)[row][i]: the input for the first entry.
  double input_of(int l, int row, int i) const {
    const int in = layer(l).in;
    return l == 1 ? trace.input[row * in + i] : layer(l - 1).a[row * in + i];
  }
  double slope(int l) const { return trace.spec.layers[l - 1].slope; }
};

// The terms with the separator between them: a + b + c.
Formula join(const std::vector<Formula>& terms, const Formula& separator);
// A figure's name: z3[0] / z_{3}[0]; symbol is the text name, tex_symbol its LaTeX, suffix its indices.
Formula figure(const std::string& symbol, const std::string& tex_symbol, int layer, const std::string& suffix);
Formula delta_name(int layer, const std::string& suffix);
// f'(z_l[suffix]) with f entry l's activation named.
Formula derivative_symbol(const StepContext& c, int l, const std::string& suffix);

// dL/da[r][i] of the entry below one, as the entry above passes it down: its working and its name.
struct Upstream {
  Formula working, symbolic;
};

// Every figure of every step with its working.
std::vector<StepDerivation> derive(const Trace& trace, const NumberFormat& format);

// Whether the output layer's delta carries the output activation's derivative: (a - y) f'(z) for mse; bce and
// softmax_ce cancel it ((a - y) with their sigmoid and softmax outputs).
bool delta_carries_derivative(LossKind loss);

// A number written so that it reads back exactly, in fixed notation ("0.00001", not "1e-05"): the settings
// (eps, momentum) that a line of working combines with the printed figures.
std::string exact_decimal(double v);

// "z3[0]" for one row, "z3[1][0]" (row 1) for a batch: the figure's indices.
std::string index_suffix(int batch, int row, int unit);

// A worked figure as one line of text or one LaTeX equation.
std::string worked_text(const Worked& worked, const NumberFormat& format);
std::string worked_tex(const Worked& worked, const NumberFormat& format);
std::string worked_html(const Worked& worked, const NumberFormat& format);

// The HTML page and the Graphviz graph (trace_page.cpp).
std::string render_html(const Trace& trace, const std::vector<StepDerivation>& steps, const NumberFormat& format,
                        const std::string& source);
std::string render_dot(const Trace& trace, const std::vector<StepDerivation>& steps, const NumberFormat& format,
                       const std::string& source);

}  // namespace backprop::io::trace_detail
