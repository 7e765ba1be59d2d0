// The dense layer's part of the readable trace (TraceWriting<K>, trace_text.hpp): z = W^T a + b and a = f(z)
// forward; delta, grad W and grad b backward; W and b updated.
#include <algorithm>
#include <cmath>

#include "backprop/base/text.hpp"
#include "io/activation_forms.hpp"
#include "trace_text.hpp"

namespace backprop::io::trace_detail {

std::string TraceWriting<LayerKind::dense>::upstream_text(int n) {
  return "(W" + std::to_string(n) + " delta" + std::to_string(n) + ")";
}

std::string TraceWriting<LayerKind::dense>::upstream_tex(int n) {
  const std::string N = std::to_string(n);
  return "(W_{" + N + "}\\,\\delta_{" + N + "})";
}

// The update's heading names W and b for every network (its own words, trace_render.cpp).
std::string TraceWriting<LayerKind::dense>::update_rule_text(const std::string&) { return {}; }
std::string TraceWriting<LayerKind::dense>::update_rule_tex(const std::string&) { return {}; }
std::string TraceWriting<LayerKind::dense>::markdown_note() { return {}; }

void TraceWriting<LayerKind::dense>::text_forward(const EntryWriting& w) {
  const TraceLayer& layer = w.layer;
  const std::string L = std::to_string(w.l), prev = std::to_string(w.l - 1);
  auto entries = [&](const std::vector<Worked> LayerDerivation::*part) {
    if (w.derived) write_entries(w.out, w.derived->*part, w.f, "      ");
  };
  w.out << "  Layer " << L << " (" << layer.in << " -> " << layer.out << ", " << to_string(layer.activation) << ")\n";
  w.out << "    z" << L << " = W" << L << "^T a" << prev << " + b" << L << " = "
        << w.f.block(layer.z, w.batch, layer.out).text << "\n";
  entries(&LayerDerivation::z);
  w.out << "    a" << L << " = " << to_string(layer.activation) << "(z" << L << ") = "
        << w.f.block(layer.a, w.batch, layer.out).text << "\n";
  entries(&LayerDerivation::a);
}

void TraceWriting<LayerKind::dense>::text_backward(const EntryWriting& w) {
  const TraceLayer& layer = w.layer;
  const std::string L = std::to_string(w.l), prev = std::to_string(w.l - 1);
  auto entries = [&](const std::vector<Worked> LayerDerivation::*part) {
    if (w.derived) write_entries(w.out, w.derived->*part, w.f, "      ");
  };
  const std::string derivative = std::string(to_string(layer.activation)) + "'(z" + L + ")";
  std::string rule = w.upstream + " * " + derivative;
  if (!w.output_rule.empty()) rule = w.output_rule + (w.output_carries_derivative ? " * " + derivative : "");
  w.out << "    delta" << L << " = " << rule << " = " << w.f.block(layer.delta, w.batch, layer.out).text << "\n";
  entries(&LayerDerivation::delta);
  w.out << "    grad W" << L << " = a" << prev << " delta" << L << "^T = "
        << w.f.block(layer.grad_weights, layer.in, layer.out).text << "\n";
  entries(&LayerDerivation::grad_weights);
  w.out << "    grad b" << L << " = " << (w.batch > 1 ? "column sums of delta" : "delta") << L << " = "
        << w.f.list(layer.grad_bias.data(), layer.out).text << "\n";
  entries(&LayerDerivation::grad_bias);
}

void TraceWriting<LayerKind::dense>::text_update(const EntryWriting& w) {
  const TraceLayer& layer = w.layer;
  const std::string L = std::to_string(w.l);
  w.out << "  W" << L << " = " << w.f.block(layer.weights, layer.in, layer.out).text << "\n";
  if (w.derived) write_entries(w.out, w.derived->weights, w.f, "    ");
  w.out << "  b" << L << " = " << w.f.list(layer.bias.data(), layer.out).text << "\n";
  if (w.derived) write_entries(w.out, w.derived->bias, w.f, "    ");
}

void TraceWriting<LayerKind::dense>::markdown_forward(const EntryWriting& w) {
  const TraceLayer& layer = w.layer;
  const std::string L = std::to_string(w.l), prev = std::to_string(w.l - 1);
  auto equation = [&](const std::string& tex, const std::vector<Worked> LayerDerivation::*part) {
    w.out << "$$" << tex << "$$\n\n";
    if (w.derived) write_tex_entries(w.out, w.derived->*part, w.f);
  };
  const std::string activation(to_string(layer.activation));
  w.out << "**Layer " << L << "** (" << layer.in << " → " << layer.out << ", " << activation << ")\n\n";
  equation("z_{" + L + "} = W_{" + L + "}^T a_{" + prev + "} + b_{" + L + "} = " +
               w.f.block(layer.z, w.batch, layer.out).tex,
           &LayerDerivation::z);
  equation("a_{" + L + "} = \\operatorname{" + (activation == "leaky_relu" ? "leaky\\_relu" : activation) + "}(z_{" +
               L + "}) = " + w.f.block(layer.a, w.batch, layer.out).tex,
           &LayerDerivation::a);
}

void TraceWriting<LayerKind::dense>::markdown_backward(const EntryWriting& w) {
  const TraceLayer& layer = w.layer;
  const std::string L = std::to_string(w.l), prev = std::to_string(w.l - 1);
  auto equation = [&](const std::string& tex, const std::vector<Worked> LayerDerivation::*part) {
    w.out << "$$" << tex << "$$\n\n";
    if (w.derived) write_tex_entries(w.out, w.derived->*part, w.f);
  };
  const std::string derivative = "f_{" + L + "}'(z_{" + L + "})";
  std::string rule = w.upstream + " \\odot " + derivative;
  if (!w.output_rule.empty()) rule = w.output_rule + (w.output_carries_derivative ? " \\odot " + derivative : "");
  equation("\\delta_{" + L + "} = " + rule + " = " + w.f.block(layer.delta, w.batch, layer.out).tex,
           &LayerDerivation::delta);
  equation("\\mathrm{grad}\\,W_{" + L + "} = a_{" + prev + "}\\,\\delta_{" + L + "}^T = " +
               w.f.block(layer.grad_weights, layer.in, layer.out).tex,
           &LayerDerivation::grad_weights);
  equation("\\mathrm{grad}\\,b_{" + L + "} = " + (w.batch > 1 ? "\\sum_r \\delta_{" : "\\delta_{") + L + "} = " +
               w.f.list(layer.grad_bias.data(), layer.out).tex,
           &LayerDerivation::grad_bias);
}

void TraceWriting<LayerKind::dense>::markdown_update(const EntryWriting& w) {
  const TraceLayer& layer = w.layer;
  const std::string L = std::to_string(w.l);
  w.out << "$$W_{" << L << "} = " << w.f.block(layer.weights, layer.in, layer.out).tex << "$$\n\n";
  if (w.derived) write_tex_entries(w.out, w.derived->weights, w.f);
  w.out << "$$b_{" << L << "} = " << w.f.list(layer.bias.data(), layer.out).tex << "$$\n\n";
  if (w.derived) write_tex_entries(w.out, w.derived->bias, w.f);
}

// ---- Its working: z as the weight x activation terms plus the bias, a = f(z) with f named, delta, the
// gradients as a_prev x delta, the update as old - lr x grad ----

void TraceWriting<LayerKind::dense>::derive_forward(const StepContext& c, int l, LayerDerivation& out) {
  const TraceLayer& layer = c.layer(l);
  const NumberFormat& f = c.format;
  const std::string activation(to_string(layer.activation));
  for (int r = 0; r < c.batch; ++r) {
    for (int j = 0; j < layer.out; ++j) {
      const std::string suffix = index_suffix(c.batch, r, j);
      const std::string element = "u" + std::to_string(l) + "-" + std::to_string(j);
      const double z = layer.z[r * layer.out + j];
      const double a = layer.a[r * layer.out + j];
      std::vector<Formula> terms;
      for (int i = 0; i < layer.in; ++i)
        terms.push_back(times(f.factor(layer.weights_before[i * layer.out + j]), f.number(c.input_of(l, r, i))));
      terms.push_back(f.factor(layer.bias_before[j]));
      out.z.push_back({figure("z", "z", l, suffix), {}, {join(terms, lit(" + "))}, z, element, c.phases.forward(l)});

      Worked worked{figure("a", "a", l, suffix), function(activation, figure("z", "z", l, suffix)), {}, a, element,
                    c.phases.forward(l)};
      worked.working = activation_working(layer.activation, f, z, c.slope(l), layer.z.data() + r * layer.out,
                                          layer.out);
      out.a.push_back(std::move(worked));
    }
  }
}


// The entry below's dL/da[r][i] = sum over this layer's units k of W[i][k] delta[r][k].
Upstream TraceWriting<LayerKind::dense>::derive_upstream(const StepContext& c, int l, int r, int i) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const std::string L = std::to_string(l), row = c.batch > 1 ? "[" + std::to_string(r) + "]" : "";
  std::vector<Formula> terms;
  for (int k = 0; k < layer.out; ++k)
    terms.push_back(times(f.factor(layer.weights_before[i * layer.out + k]), f.number(layer.delta[r * layer.out + k])));
  return {lit("(") + join(terms, lit(" + ")) + lit(")"),
          lit("(sum_k W" + L + "[" + std::to_string(i) + "][k] delta" + L + row + "[k])",
              "\\Big(\\sum_k W_{" + L + "}[" + std::to_string(i) + "][k]\\,\\delta_{" + L + "}" + row + "[k]\\Big)")};
}

// delta[r][i] = dL/da[r][i] f'(z[r][i]).
void TraceWriting<LayerKind::dense>::derive_delta(const StepContext& c, int l, int r, int i, const Formula& upstream,
                                                  Worked& worked) {
  const TraceLayer& layer = c.layer(l);
  const double z = layer.z[r * layer.out + i], a = layer.a[r * layer.out + i];
  worked.symbolic += lit(" ", "\\,") + derivative_symbol(c, l, index_suffix(c.batch, r, i));
  worked.working = {times(upstream, derivative_working(layer.activation, c.format, z, a, c.slope(l)))};
}

// grad W_l[i][j] = sum over rows of a_(l-1)[i] delta_l[j] (each delta already carries the batch mean's 1/B);
// grad b_l[j] = sum over rows of delta_l[j].
void TraceWriting<LayerKind::dense>::derive_gradients(const StepContext& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const std::string L = std::to_string(l), prev = std::to_string(l - 1);
  const std::string over_rows = c.batch > 1 ? "sum_r " : "";
  const std::string row = c.batch > 1 ? "[r]" : "";
  for (int i = 0; i < layer.in; ++i) {
    for (int j = 0; j < layer.out; ++j) {
      std::vector<Formula> terms;
      for (int r = 0; r < c.batch; ++r)
        terms.push_back(times(f.factor(c.input_of(l, r, i)), f.number(layer.delta[r * layer.out + j])));
      const std::string at = "[" + std::to_string(i) + "][" + std::to_string(j) + "]";
      const Formula symbolic = lit(over_rows + "a" + prev + row + "[" + std::to_string(i) + "] delta" + L + row + "[" +
                                       std::to_string(j) + "]",
                                   (c.batch > 1 ? "\\sum_r " : "") + std::string("a_{") + prev + "}" + row + "[" +
                                       std::to_string(i) + "]\\,\\delta_{" + L + "}" + row + "[" + std::to_string(j) + "]");
      out.grad_weights.push_back({lit("grad W" + L + at, "\\mathrm{grad}\\,W_{" + L + "}" + at), symbolic,
                                  {join(terms, lit(" + "))}, layer.grad_weights[i * layer.out + j],
                                  "w" + L + "-" + std::to_string(i) + "-" + std::to_string(j), c.phases.backward(l)});
    }
  }
  for (int j = 0; j < layer.out; ++j) {
    std::vector<Formula> terms;
    for (int r = 0; r < c.batch; ++r) terms.push_back(r ? f.factor(layer.delta[r * layer.out + j]) : f.number(layer.delta[j]));
    const std::string at = "[" + std::to_string(j) + "]";
    Worked worked{lit("grad b" + L + at, "\\mathrm{grad}\\,b_{" + L + "}" + at),
                  lit(over_rows + "delta" + L + row + at, (c.batch > 1 ? "\\sum_r " : "") + std::string("\\delta_{") + L + "}" + row + at),
                  {}, layer.grad_bias[j], "u" + L + "-" + std::to_string(j), c.phases.backward(l)};
    if (c.batch > 1) worked.working = {join(terms, lit(" + "))};
    out.grad_bias.push_back(std::move(worked));
  }
}

// Its figures are the shared ones alone (it has no WorkedFigures of its own).
std::vector<const std::vector<Worked>*> TraceWriting<LayerKind::dense>::worked_parts(const LayerDerivation& d) {
  return {&d.z, &d.a, &d.delta, &d.grad_weights, &d.grad_bias, &d.weights, &d.bias};
}

// W_l[i][j] new = old - lr grad; the same for b.
void TraceWriting<LayerKind::dense>::derive_update(const StepContext& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const std::string L = std::to_string(l);
  const Formula lr = lit(format_double(c.trace.learning_rate));
  auto update = [&](double old, double grad) { return f.number(old) + lit(" - ") + times(lr, f.number(grad)); };
  for (int i = 0; i < layer.in; ++i) {
    for (int j = 0; j < layer.out; ++j) {
      const std::string at = "[" + std::to_string(i) + "][" + std::to_string(j) + "]";
      const int k = i * layer.out + j;
      out.weights.push_back({lit("W" + L + at, "W_{" + L + "}" + at), {},
                             {update(layer.weights_before[k], layer.grad_weights[k])}, layer.weights[k],
                             "w" + L + "-" + std::to_string(i) + "-" + std::to_string(j), c.phases.update()});
    }
  }
  for (int j = 0; j < layer.out; ++j) {
    const std::string at = "[" + std::to_string(j) + "]";
    out.bias.push_back({lit("b" + L + at, "b_{" + L + "}" + at), {},
                        {update(layer.bias_before[j], layer.grad_bias[j])}, layer.bias[j],
                        "u" + L + "-" + std::to_string(j), c.phases.update()});
  }
}


// ---- Its page and graph: each weight a line, width for size and colour for sign per step, with a panel and an
// edge of its own; each unit's working in its panel and its node, the last entry's with the loss ----

std::string TraceWriting<LayerKind::dense>::html_note() { return {}; }
std::string TraceWriting<LayerKind::dense>::dot_note() { return {}; }

double TraceWriting<LayerKind::dense>::largest_drawn_weight(const TraceLayer& layer) {
  double largest = 0.0;
  for (double w : layer.weights_before) largest = std::max(largest, std::abs(w));
  return largest;
}

void TraceWriting<LayerKind::dense>::svg_lines(std::ostream& out, const Trace& trace, const PageLayout& layout, int l,
                                               const std::vector<double>& largest) {
  const TraceLayer& first = trace.steps[0].layers[l - 1];
  for (int i = 0; i < first.in; ++i) {
    for (int j = 0; j < first.out; ++j) {
      std::string widths, colours;
      for (std::size_t s = 0; s < trace.steps.size(); ++s) {
        const double w = trace.steps[s].layers[l - 1].weights_before[i * first.out + j];
        const double width = 1.0 + 6.0 * std::abs(w) / (largest[s] > 0 ? largest[s] : 1.0);
        widths += (s ? " " : "") + format_fixed(width, 2);
        colours += (s ? " " : "") + std::string(w < 0 ? "#d62728" : "#1f77b4");
      }
      const std::string first_width = widths.substr(0, widths.find(' '));
      out << "<line class=\"weight\" id=\"" << weight_id(l, i, j) << "\" data-layer=\"" << l << "\" x1=\""
          << layout.x(l - 1) << "\" y1=\"" << layout.y(l - 1, i) << "\" x2=\"" << layout.x(l) << "\" y2=\""
          << layout.y(l, j) << "\" stroke=\"" << colours.substr(0, 7) << "\" stroke-width=\"" << first_width
          << "\" data-width=\"" << widths << "\" data-colour=\"" << colours << "\"><title>W" << l << "[" << i
          << "][" << j << "]</title></line>\n";
    }
  }
}

std::string TraceWriting<LayerKind::dense>::unit_title() { return "unit "; }
std::string TraceWriting<LayerKind::dense>::unit_style() { return {}; }
std::string TraceWriting<LayerKind::dense>::panel_heading() { return ", unit "; }
bool TraceWriting<LayerKind::dense>::weight_panels() { return true; }

void TraceWriting<LayerKind::dense>::dot_entry(const DotEntry& d) {
  const TraceLayer& layer = d.layer;
  const int l = d.l;
  for (int j = 0; j < layer.out; ++j) {
    std::vector<const Worked*> lines = d.lines_of(unit_id(l, j));
    if (d.loss) lines.push_back(d.loss);
    const auto [label, tooltip] = dot_label(lines, d.f, "layer " + std::to_string(l) + ", unit " + std::to_string(j) +
                                                            " (" + std::string(to_string(layer.activation)) + ")");
    d.out << "  u" << l << "_" << j << " [label=" << dot_string(label) << ", tooltip=" << dot_string(tooltip) << "];\n";
  }
  for (int i = 0; i < layer.in; ++i) {
    for (int j = 0; j < layer.out; ++j) {
      const double w = layer.weights_before[i * layer.out + j];
      const auto [label, tooltip] = dot_label(d.lines_of(weight_id(l, i, j)), d.f, "w = " + d.f.fixed(w));
      d.out << "  u" << l - 1 << "_" << i << " -> u" << l << "_" << j << " [label=" << dot_string(label)
            << ", tooltip=" << dot_string(tooltip) << ", color=\"" << (w < 0 ? "#d62728" : "#1f77b4") << "\"];\n";
    }
  }
}

}  // namespace backprop::io::trace_detail
