// The embedding's part of the readable trace (TraceWriting<K>, trace_text.hpp; nn/embedding.hpp): its codes and
// the rows they pick forward, the scatter-add of its gradient backward, the rows of the batch's codes updated.
#include <algorithm>
#include <memory>
#include <vector>

#include "backprop/base/text.hpp"
#include "trace_text.hpp"

namespace backprop::io::trace_detail {

// An embedding's own figures with their working (trace_derivation.hpp): dL/dx, unless it is the first entry.
template <>
struct WorkedFigures<LayerKind::embedding> {
  std::vector<Worked> grad_input;
};

namespace {

// The codes an embedding entry read in the batch, ascending, each once: the rows of its table the step changes.
std::vector<int> embedding_codes_in_batch(const TraceEmbedding& embedding) {
  std::vector<int> codes = embedding.codes;
  std::sort(codes.begin(), codes.end());
  codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
  return codes;
}

// Where input i of an embedding goes in its output: the D values of the code at K, the others in order.
int embedding_output_of(const TraceEmbedding& e, int i) { return i <= e.column ? i : i + e.dim - 1; }

// The rows of an embedding's table (or of its gradient) that the batch's codes pick, in code order.
std::vector<double> code_rows(const std::vector<double>& table, const std::vector<int>& codes, int dim) {
  std::vector<double> rows;
  for (const int code : codes)
    rows.insert(rows.end(), table.begin() + static_cast<std::ptrdiff_t>(code) * dim,
                table.begin() + static_cast<std::ptrdiff_t>(code + 1) * dim);
  return rows;
}

std::string code_list(const std::vector<int>& codes, const char* separator = ", ") {
  std::string out;
  for (std::size_t i = 0; i < codes.size(); ++i) out += (i ? separator : "") + std::to_string(codes[i]);
  return out;
}

// "1..3": the positions of an embedding's output that hold the code's values.
std::string value_positions(const TraceEmbedding& e) {
  return e.dim == 1 ? std::to_string(e.column) : std::to_string(e.column) + ".." + std::to_string(e.column + e.dim - 1);
}

}  // namespace

// The entry below's dL/da is this one's dL/dx.
std::string TraceWriting<LayerKind::embedding>::upstream_text(int n) { return "grad x" + std::to_string(n); }
std::string TraceWriting<LayerKind::embedding>::upstream_tex(int n) {
  return "\\mathrm{grad}\\,x_{" + std::to_string(n) + "}";
}

// Its table is updated as W, which the update's heading names.
std::string TraceWriting<LayerKind::embedding>::update_rule_text(const std::string&) { return {}; }
std::string TraceWriting<LayerKind::embedding>::update_rule_tex(const std::string&) { return {}; }

std::string TraceWriting<LayerKind::embedding>::markdown_note() {
  return "An embedding entry reads one position of its input as a code $c$, a whole number, and puts row $c$ of "
         "its table $W$ (one row per category) in that position's place; its $\\delta$ is $\\partial L / \\partial a$, "
         "and the gradient of row $c$ adds $\\delta$'s values there over the rows of the batch with code $c$.\n\n";
}

void TraceWriting<LayerKind::embedding>::text_forward(const EntryWriting& w) {
  const auto& [out, layer, derived, f, l, batch, upstream, output_rule, output_carries_derivative] = w;
  const TraceEmbedding& e = layer.embedding;
  const std::string L = std::to_string(l), prev = std::to_string(l - 1), K = std::to_string(e.column);
  out << "  Layer " << L << " (embedding of a" << prev << "[" << K << "]: " << e.categories << " categories, "
      << e.dim << " value(s) each, placed at a" << L << "[" << value_positions(e) << "])\n";
  out << "    code" << L << " = a" << prev << (batch > 1 ? "[r]" : "") << "[" << K << "] = [" << code_list(e.codes)
      << "]  (the row of W" << L << " each row picks)\n";
  out << "    a" << L << " = a" << prev << " with a" << prev << "[" << K << "] replaced by W" << L << "[code" << L
      << "] = " << f.block(layer.a, batch, layer.out).text << "\n";
  if (derived) write_entries(out, derived->a, f, "      ");
}

void TraceWriting<LayerKind::embedding>::text_backward(const EntryWriting& w) {
  const auto& [out, layer, derived, f, l, batch, upstream, output_rule, output_carries_derivative] = w;
  const TraceEmbedding& e = layer.embedding;
  const std::string L = std::to_string(l);
  const std::vector<int> codes = embedding_codes_in_batch(e);
  auto entries = [&](auto part) {
    if (w.derived) write_entries(w.out, worked_part(*w.derived, part), w.f, "      ");
  };
  out << "    delta" << L << " = " << upstream << " = " << f.block(layer.delta, batch, layer.out).text << "\n";
  entries(&LayerDerivation::delta);
  out << "    grad W" << L << ", rows " << code_list(codes) << " (each the sum of delta" << L << "[r]["
      << value_positions(e) << "] over the rows r with that code; every other row 0) = "
      << f.block(code_rows(layer.grad_weights, codes, e.dim), static_cast<int>(codes.size()), e.dim).text << "\n";
  entries(&LayerDerivation::grad_weights);
  if (e.grad_input.empty()) return;
  out << "    grad x" << L << " = delta" << L << " without a" << L << "[" << value_positions(e) << "], 0 at the code = "
      << f.block(e.grad_input, batch, layer.in).text << "\n";
  entries(&WorkedFigures<LayerKind::embedding>::grad_input);
}

void TraceWriting<LayerKind::embedding>::text_update(const EntryWriting& w) {
  const auto& [out, layer, derived, f, l, batch, upstream, output_rule, output_carries_derivative] = w;
  const TraceEmbedding& e = layer.embedding;
  const std::vector<int> codes = embedding_codes_in_batch(e);
  out << "  W" << l << ", rows " << code_list(codes) << " = "
      << f.block(code_rows(layer.weights, codes, e.dim), static_cast<int>(codes.size()), e.dim).text
      << "  (the other " << e.categories - static_cast<int>(codes.size()) << " row(s) unchanged: gradient 0)\n";
  if (derived) write_entries(out, derived->weights, f, "    ");
}

// An embedding entry in Markdown, as the text writes it.
void TraceWriting<LayerKind::embedding>::markdown_forward(const EntryWriting& w) {
  const auto& [out, layer, derived, f, l, batch, upstream, output_rule, output_carries_derivative] = w;
  const TraceEmbedding& e = layer.embedding;
  const std::string L = std::to_string(l), prev = std::to_string(l - 1), K = std::to_string(e.column);
  out << "**Layer " << L << "** (embedding of $a_{" << prev << "}[" << K << "]$, " << e.categories << " categories, "
      << e.dim << " value(s) each, placed at $a_{" << L << "}[" << value_positions(e) << "]$)\n\n";
  out << "$$c_{" << L << "} = a_{" << prev << "}" << (batch > 1 ? "[r]" : "") << "[" << K << "] = ["
      << code_list(e.codes) << "]$$\n\n";
  out << "$$a_{" << L << "} = a_{" << prev << "} \\text{ with } a_{" << prev << "}[" << K << "] \\text{ replaced by } W_{"
      << L << "}[c_{" << L << "}] = " << f.block(layer.a, batch, layer.out).tex << "$$\n\n";
  if (derived) write_tex_entries(out, derived->a, f);
}

void TraceWriting<LayerKind::embedding>::markdown_backward(const EntryWriting& w) {
  const auto& [out, layer, derived, f, l, batch, upstream, output_rule, output_carries_derivative] = w;
  const TraceEmbedding& e = layer.embedding;
  const std::string L = std::to_string(l);
  const std::vector<int> codes = embedding_codes_in_batch(e);
  auto equation = [&](const std::string& tex, auto part) {
    w.out << "$$" << tex << "$$\n\n";
    if (w.derived) write_tex_entries(w.out, worked_part(*w.derived, part), w.f);
  };
  equation("\\delta_{" + L + "} = " + upstream + " = " + f.block(layer.delta, batch, layer.out).tex,
           &LayerDerivation::delta);
  out << "The gradient of row $c$ of $W_{" << L << "}$ is the sum of $\\delta_{" << L << "}[r][" << value_positions(e)
      << "]$ over the rows $r$ with $c_{" << L << "}[r] = c$; the rows of codes not in the batch have gradient 0.\n\n";
  equation("\\mathrm{grad}\\,W_{" + L + "}[" + code_list(codes, "; ") + "] = " +
               f.block(code_rows(layer.grad_weights, codes, e.dim), static_cast<int>(codes.size()), e.dim).tex,
           &LayerDerivation::grad_weights);
  if (e.grad_input.empty()) return;
  equation("\\mathrm{grad}\\,x_{" + L + "} = " + f.block(e.grad_input, batch, layer.in).tex,
           &WorkedFigures<LayerKind::embedding>::grad_input);
}

void TraceWriting<LayerKind::embedding>::markdown_update(const EntryWriting& w) {
  const auto& [out, layer, derived, f, l, batch, upstream, output_rule, output_carries_derivative] = w;
  const TraceEmbedding& e = layer.embedding;
  const std::vector<int> codes = embedding_codes_in_batch(e);
  out << "$$W_{" << l << "}[" << code_list(codes, "; ") << "] = "
      << f.block(code_rows(layer.weights, codes, e.dim), static_cast<int>(codes.size()), e.dim).tex << "$$\n\n"
      << "The other " << e.categories - static_cast<int>(codes.size()) << " row(s) of $W_{" << l
      << "}$ are unchanged (gradient 0).\n\n";
  if (derived) write_tex_entries(out, derived->weights, f);
}

// ---- Its working (x is its input a_(l-1), K its column, D its values per code) ----

// a[r][j] = x[r][j] before the code's place, W[code r][j - K] on it, x[r][j - D + 1] after it: the row of the
// table the code picks, value by value, from the table as it stood during the step.
void TraceWriting<LayerKind::embedding>::derive_forward(const StepContext& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const TraceEmbedding& e = layer.embedding;
  const std::string L = std::to_string(l), prev = std::to_string(l - 1);
  out.embedding = std::make_shared<WorkedFigures<LayerKind::embedding>>();
  for (int r = 0; r < c.batch; ++r) {
    for (int j = 0; j < layer.out; ++j) {
      const double a = layer.a[r * layer.out + j];
      Formula symbolic;
      double value = 0;
      if (j >= e.column && j < e.column + e.dim) {
        const std::string at = "[" + std::to_string(e.codes[r]) + "][" + std::to_string(j - e.column) + "]";
        symbolic = lit("W" + L + at, "W_{" + L + "}" + at);
        value = layer.weights_before[static_cast<std::size_t>(e.codes[r]) * e.dim + (j - e.column)];
      } else {
        const int i = j < e.column ? j : j - e.dim + 1;
        symbolic = figure("a", "a", l - 1, index_suffix(c.batch, r, i));
        value = c.input_of(l, r, i);
      }
      out.a.push_back({figure("a", "a", l, index_suffix(c.batch, r, j)), symbolic, {f.number(value)}, a,
                       "u" + L + "-" + std::to_string(j), c.phases.forward(l)});
    }
  }
}

// grad W[c][d] = the sum of delta[r][K + d] over the rows r whose code is c, in row order (the scatter-add), for
// each code in the batch; every other row of grad W is 0 (the renderers say so). Unless the entry is the first,
// grad x[r][i] = delta[r][i's place in the output], 0 at the code's place (an index has no gradient).
void TraceWriting<LayerKind::embedding>::derive_gradients(const StepContext& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const TraceEmbedding& e = layer.embedding;
  const int phase = c.phases.backward(l);
  const std::string L = std::to_string(l);
  for (const int code : embedding_codes_in_batch(e)) {
    for (int d = 0; d < e.dim; ++d) {
      std::vector<Formula> names, terms;
      for (int r = 0; r < c.batch; ++r) {
        if (e.codes[r] != code) continue;
        const double delta = layer.delta[r * layer.out + e.column + d];
        names.push_back(delta_name(l, index_suffix(c.batch, r, e.column + d)));
        terms.push_back(terms.empty() ? f.number(delta) : f.factor(delta));
      }
      const std::string at = "[" + std::to_string(code) + "][" + std::to_string(d) + "]";
      out.grad_weights.push_back({lit("grad W" + L + at, "\\mathrm{grad}\\,W_{" + L + "}" + at), join(names, lit(" + ")),
                                  {join(terms, lit(" + "))},
                                  layer.grad_weights[static_cast<std::size_t>(code) * e.dim + d],
                                  "u" + L + "-" + std::to_string(e.column + d), phase});
    }
  }
  if (e.grad_input.empty()) return;
  for (int r = 0; r < c.batch; ++r) {
    for (int i = 0; i < layer.in; ++i) {
      const int j = embedding_output_of(e, i);
      const std::string suffix = index_suffix(c.batch, r, i);
      Worked worked{figure("grad x", "\\mathrm{grad}\\,x", l, suffix), delta_name(l, index_suffix(c.batch, r, j)),
                    {f.number(layer.delta[r * layer.out + j])}, e.grad_input[r * layer.in + i],
                    "u" + L + "-" + std::to_string(j), phase};
      if (i == e.column) {
        worked.symbolic = lit("0 (the code: an index, not a value the loss varies with)",
                              "0 \\text{ (the code: an index, not a value the loss varies with)}");
        worked.working = {};
      }
      out.embedding->grad_input.push_back(std::move(worked));
    }
  }
}

// Its dL/dx after its gradients.
std::vector<const std::vector<Worked>*> TraceWriting<LayerKind::embedding>::worked_parts(const LayerDerivation& d) {
  return {&d.z, &d.a, &d.delta, &d.grad_weights, &d.grad_bias, &d.embedding->grad_input, &d.weights, &d.bias};
}

// W[c][d] new = old - lr grad for the codes in the batch; the other rows' gradient is 0, so they stay as they are.
void TraceWriting<LayerKind::embedding>::derive_update(const StepContext& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const TraceEmbedding& e = layer.embedding;
  const std::string L = std::to_string(l);
  const Formula lr = lit(format_double(c.trace.learning_rate));
  for (const int code : embedding_codes_in_batch(e)) {
    for (int d = 0; d < e.dim; ++d) {
      const std::size_t k = static_cast<std::size_t>(code) * e.dim + d;
      const std::string at = "[" + std::to_string(code) + "][" + std::to_string(d) + "]";
      out.weights.push_back({lit("W" + L + at, "W_{" + L + "}" + at), {},
                             {f.number(layer.weights_before[k]) + lit(" - ") + times(lr, f.number(layer.grad_weights[k]))},
                             layer.weights[k], "u" + L + "-" + std::to_string(e.column + d), c.phases.update()});
    }
  }
}

// The entry below's dL/da[r][i] is this entry's dL/dx (embeddings come first: only another embedding is below).
Upstream TraceWriting<LayerKind::embedding>::derive_upstream(const StepContext& c, int l, int r, int i) {
  const TraceLayer& layer = c.layer(l);
  return {c.format.factor(layer.embedding.grad_input[r * layer.in + i]),
          figure("grad x", "\\mathrm{grad}\\,x", l, index_suffix(c.batch, r, i))};
}

// delta = dL/dy, as a batch_norm's: no activation.
void TraceWriting<LayerKind::embedding>::derive_delta(const StepContext&, int, int, int, const Formula& upstream,
                                                      Worked& worked) {
  worked.working = {upstream};
}


// ---- Its page and graph: each value a unit (pink), each input passed to its place (dashed), the code to the D
// values its row puts there; its working in the value's panel and node ----

std::string TraceWriting<LayerKind::embedding>::html_note() {
  return "<p>An embedding entry (pink) reads one input as a code c and puts row c of its table W in its place; "
         "the other inputs pass through (dashed). Only the rows of the codes in the batch have a gradient; the "
         "other rows stay as they are. Click one of its values for the row each code picks, its gradient and "
         "its update.</p>\n";
}

std::string TraceWriting<LayerKind::embedding>::dot_note() {
  return "; each embedding value's lookup (the table row its code picks), delta, and the looked-up rows' "
         "gradients and updates";
}

double TraceWriting<LayerKind::embedding>::largest_drawn_weight(const TraceLayer&) { return 0.0; }

void TraceWriting<LayerKind::embedding>::svg_lines(std::ostream& out, const Trace& trace, const PageLayout& layout,
                                                   int l, const std::vector<double>&) {
  const TraceLayer& first = trace.steps[0].layers[l - 1];
  const TraceEmbedding& e = first.embedding;
  for (int i = 0; i < first.in; ++i) {
    const bool code = i == e.column;
    const int to = embedding_output_of(e, i);
    for (int j = to; j < (code ? to + e.dim : to + 1); ++j)
      out << "<line class=\"" << (code ? "lookup" : "pass") << "\" x1=\"" << layout.x(l - 1) << "\" y1=\""
          << layout.y(l - 1, i) << "\" x2=\"" << layout.x(l) << "\" y2=\"" << layout.y(l, j) << "\" stroke=\""
          << (code ? "#e377c2\" stroke-width=\"3\"" : "#9aa5b8\" stroke-width=\"2\" stroke-dasharray=\"6 4\"")
          << "><title>" << (code ? "W" + std::to_string(l) + "[code][" + std::to_string(j - to) + "]" : "passed through")
          << "</title></line>\n";
  }
}

std::string TraceWriting<LayerKind::embedding>::unit_title() { return "embedding "; }
std::string TraceWriting<LayerKind::embedding>::unit_style() { return " style=\"fill: #f7cfe8; stroke: #8c3a6e\""; }
std::string TraceWriting<LayerKind::embedding>::panel_heading() { return " (embedding), value "; }
bool TraceWriting<LayerKind::embedding>::weight_panels() { return false; }

void TraceWriting<LayerKind::embedding>::dot_entry(const DotEntry& d) {
  const TraceLayer& layer = d.layer;
  const TraceEmbedding& e = layer.embedding;
  const int l = d.l;
  for (int j = 0; j < layer.out; ++j) {
    const auto [label, tooltip] = dot_label(d.lines_of(unit_id(l, j)), d.f,
                                            "layer " + std::to_string(l) + ", embedding value " + std::to_string(j));
    d.out << "  u" << l << "_" << j << " [label=" << dot_string(label) << ", tooltip=" << dot_string(tooltip)
          << ", fillcolor=\"#fce4f1\"];\n";
  }
  for (int i = 0; i < layer.in; ++i) {
    const int to = embedding_output_of(e, i);
    if (i != e.column)
      d.out << "  u" << l - 1 << "_" << i << " -> u" << l << "_" << to << " [label=\"pass\", style=dashed];\n";
    else
      for (int k = 0; k < e.dim; ++k)
        d.out << "  u" << l - 1 << "_" << i << " -> u" << l << "_" << to + k << " [label="
              << dot_string("W" + std::to_string(l) + "[code][" + std::to_string(k) + "]") << ", color=\"#e377c2\"];\n";
  }
}

}  // namespace backprop::io::trace_detail
