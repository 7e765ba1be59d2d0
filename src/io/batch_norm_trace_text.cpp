// The batch_norm's part of the readable trace (TraceWriting<K>, trace_text.hpp; nn/batch_norm.hpp's formulas):
// the batch's mean and variance, s, the normalized xhat, the output and the running statistics forward; dL/dy, the
// gradients of scale and shift and dL/dx backward; scale and shift updated.
#include <memory>
#include <vector>

#include "backprop/base/text.hpp"
#include "trace_text.hpp"

namespace backprop::io::trace_detail {

// A batch_norm's own figures with their working (trace_derivation.hpp): per feature its mean, variance, s and
// running statistics, per value its xhat and, unless it is the first entry, dL/dx.
template <>
struct WorkedFigures<LayerKind::batch_norm> {
  std::vector<Worked> mean, variance, inv_std, xhat, running_mean, running_var, grad_input;
};
using WorkedBatchNorm = WorkedFigures<LayerKind::batch_norm>;

namespace {

// A per-feature figure's name, "mean2[1]"; the element and phase it belongs to.
Worked feature_figure(const std::string& symbol, const std::string& tex, int l, int j, Formula symbolic,
                      Formula working, double value, int phase) {
  const std::string at = "[" + std::to_string(j) + "]";
  return {lit(symbol + std::to_string(l) + at, tex + "_{" + std::to_string(l) + "}" + at), std::move(symbolic),
          {std::move(working)}, value, "u" + std::to_string(l) + "-" + std::to_string(j), phase};
}

}  // namespace

// The entry below's dL/da is this one's dL/dx.
std::string TraceWriting<LayerKind::batch_norm>::upstream_text(int n) { return "grad x" + std::to_string(n); }
std::string TraceWriting<LayerKind::batch_norm>::upstream_tex(int n) {
  return "\\mathrm{grad}\\,x_{" + std::to_string(n) + "}";
}

std::string TraceWriting<LayerKind::batch_norm>::update_rule_text(const std::string& lr) {
  return ", scale <- scale - " + lr + " grad scale, shift <- shift - " + lr + " grad shift";
}
std::string TraceWriting<LayerKind::batch_norm>::update_rule_tex(const std::string& lr) {
  return ", \\quad \\mathrm{scale} \\leftarrow \\mathrm{scale} - " + lr +
         "\\,\\mathrm{grad}\\,\\mathrm{scale}, \\quad \\mathrm{shift} \\leftarrow \\mathrm{shift} - " + lr +
         "\\,\\mathrm{grad}\\,\\mathrm{shift}";
}

std::string TraceWriting<LayerKind::batch_norm>::markdown_note() {
  return "A batch_norm entry normalizes each feature of its input $x$ (the entry before it) with the batch's mean "
         "$\\mu$ and biased variance $\\sigma^2$, $\\hat{x} = (x - \\mu) s$ with $s = 1 / \\sqrt{\\sigma^2 + "
         "\\epsilon}$, and outputs $\\mathrm{scale} \\odot \\hat{x} + \\mathrm{shift}$; its $\\delta$ is "
         "$\\partial L / \\partial a$ and $\\mathrm{grad}\\,x$ is $\\partial L / \\partial x$, through the mean "
         "and variance too.\n\n";
}

// A batch_norm entry's forward as text (nn/batch_norm.hpp's formulas): the batch's mean and variance, s, the
// normalized xhat, the output and the running statistics.
void TraceWriting<LayerKind::batch_norm>::text_forward(const EntryWriting& w) {
  const auto& [out, layer, derived, f, l, batch, upstream, output_rule, output_carries_derivative] = w;
  const TraceBatchNorm& bn = layer.batch_norm;
  const std::string L = std::to_string(l), prev = std::to_string(l - 1), B = std::to_string(batch);
  auto entries = [&](auto part) {
    if (w.derived) write_entries(w.out, worked_part(*w.derived, part), w.f, "      ");
  };
  out << "  Layer " << L << " (batch_norm of a" << prev << ", " << layer.out << " features, eps "
      << format_double(bn.eps) << ", momentum " << format_double(bn.momentum) << ")\n";
  out << "    mean" << L << " = (sum_r a" << prev << "[r]) / " << B << " = " << f.list(bn.mean.data(), layer.out).text
      << "\n";
  entries(&WorkedBatchNorm::mean);
  out << "    var" << L << " = (sum_r (a" << prev << "[r] - mean" << L << ")^2) / " << B << " = "
      << f.list(bn.variance.data(), layer.out).text << "\n";
  entries(&WorkedBatchNorm::variance);
  out << "    s" << L << " = 1 / sqrt(var" << L << " + eps) = " << f.list(bn.inv_std.data(), layer.out).text << "\n";
  entries(&WorkedBatchNorm::inv_std);
  out << "    xhat" << L << " = (a" << prev << " - mean" << L << ") s" << L << " = "
      << f.block(bn.xhat, batch, layer.out).text << "\n";
  entries(&WorkedBatchNorm::xhat);
  out << "    a" << L << " = scale" << L << " xhat" << L << " + shift" << L << " = " << f.block(layer.a, batch, layer.out).text
      << "\n";
  entries(&LayerDerivation::a);
  const std::string momentum = exact_decimal(bn.momentum), keep = "(1 - " + momentum + ")";
  out << "    running_mean" << L << " = " << keep << " running_mean" << L << " + " << momentum << " mean" << L << " = "
      << f.list(bn.running_mean.data(), layer.out).text << "\n";
  entries(&WorkedBatchNorm::running_mean);
  out << "    running_var" << L << " = " << keep << " running_var" << L << " + " << momentum << " var" << L << " (" << B
      << " / " << batch - 1 << ") = " << f.list(bn.running_var.data(), layer.out).text << "\n";
  entries(&WorkedBatchNorm::running_var);
}

// Its backward: delta = dL/dy (no activation), the gradients of scale and shift, and dL/dx for the entry below.
void TraceWriting<LayerKind::batch_norm>::text_backward(const EntryWriting& w) {
  const auto& [out, layer, derived, f, l, batch, upstream, output_rule, output_carries_derivative] = w;
  const TraceBatchNorm& bn = layer.batch_norm;
  const std::string L = std::to_string(l), B = std::to_string(batch);
  auto entries = [&](auto part) {
    if (w.derived) write_entries(w.out, worked_part(*w.derived, part), w.f, "      ");
  };
  out << "    delta" << L << " = " << upstream << " = " << f.block(layer.delta, batch, layer.out).text << "\n";
  entries(&LayerDerivation::delta);
  out << "    grad scale" << L << " = column sums of delta" << L << " * xhat" << L << " = "
      << f.list(layer.grad_weights.data(), layer.out).text << "\n";
  entries(&LayerDerivation::grad_weights);
  out << "    grad shift" << L << " = column sums of delta" << L << " = " << f.list(layer.grad_bias.data(), layer.out).text
      << "\n";
  entries(&LayerDerivation::grad_bias);
  if (bn.grad_input.empty()) return;
  out << "    grad x" << L << " = scale" << L << " s" << L << " / " << B << " (" << B << " delta" << L << " - grad shift" << L
      << " - xhat" << L << " grad scale" << L << ") = " << f.block(bn.grad_input, batch, layer.out).text << "\n";
  entries(&WorkedBatchNorm::grad_input);
}

void TraceWriting<LayerKind::batch_norm>::text_update(const EntryWriting& w) {
  const TraceLayer& layer = w.layer;
  const std::string L = std::to_string(w.l);
  w.out << "  scale" << L << " = " << w.f.list(layer.weights.data(), layer.out).text << "\n";
  if (w.derived) write_entries(w.out, w.derived->weights, w.f, "    ");
  w.out << "  shift" << L << " = " << w.f.list(layer.bias.data(), layer.out).text << "\n";
  if (w.derived) write_entries(w.out, w.derived->bias, w.f, "    ");
}

// A batch_norm entry's forward and backward in Markdown, as the text writes them.
void TraceWriting<LayerKind::batch_norm>::markdown_forward(const EntryWriting& w) {
  const auto& [out, layer, derived, f, l, batch, upstream, output_rule, output_carries_derivative] = w;
  const TraceBatchNorm& bn = layer.batch_norm;
  const std::string L = std::to_string(l), prev = std::to_string(l - 1), B = std::to_string(batch);
  auto equation = [&](const std::string& tex, auto part) {
    w.out << "$$" << tex << "$$\n\n";
    if (w.derived) write_tex_entries(w.out, worked_part(*w.derived, part), w.f);
  };
  out << "**Layer " << L << "** (batch_norm of $a_{" << prev << "}$, " << layer.out << " features, $\\epsilon = "
      << exact_decimal(bn.eps) << "$, momentum " << format_double(bn.momentum) << ")\n\n";
  equation("\\mu_{" + L + "} = \\frac{1}{" + B + "}\\sum_r a_{" + prev + "}[r] = " + f.list(bn.mean.data(), layer.out).tex,
           &WorkedBatchNorm::mean);
  equation("\\sigma^2_{" + L + "} = \\frac{1}{" + B + "}\\sum_r (a_{" + prev + "}[r] - \\mu_{" + L + "})^{2} = " +
               f.list(bn.variance.data(), layer.out).tex,
           &WorkedBatchNorm::variance);
  equation("s_{" + L + "} = 1 / \\sqrt{\\sigma^2_{" + L + "} + \\epsilon} = " + f.list(bn.inv_std.data(), layer.out).tex,
           &WorkedBatchNorm::inv_std);
  equation("\\hat{x}_{" + L + "} = (a_{" + prev + "} - \\mu_{" + L + "}) \\odot s_{" + L + "} = " +
               f.block(bn.xhat, batch, layer.out).tex,
           &WorkedBatchNorm::xhat);
  equation("a_{" + L + "} = \\mathrm{scale}_{" + L + "} \\odot \\hat{x}_{" + L + "} + \\mathrm{shift}_{" + L + "} = " +
               f.block(layer.a, batch, layer.out).tex,
           &LayerDerivation::a);
  const std::string momentum = exact_decimal(bn.momentum), keep = "(1 - " + momentum + ")";
  equation("\\mathrm{running\\_mean}_{" + L + "} = " + keep + "\\,\\mathrm{running\\_mean}_{" + L + "} + " + momentum +
               "\\,\\mu_{" + L + "} = " + f.list(bn.running_mean.data(), layer.out).tex,
           &WorkedBatchNorm::running_mean);
  equation("\\mathrm{running\\_var}_{" + L + "} = " + keep + "\\,\\mathrm{running\\_var}_{" + L + "} + " + momentum +
               "\\,\\sigma^2_{" + L + "}\\,\\tfrac{" + B + "}{" + std::to_string(batch - 1) + "} = " +
               f.list(bn.running_var.data(), layer.out).tex,
           &WorkedBatchNorm::running_var);
}

void TraceWriting<LayerKind::batch_norm>::markdown_backward(const EntryWriting& w) {
  const auto& [out, layer, derived, f, l, batch, upstream, output_rule, output_carries_derivative] = w;
  const TraceBatchNorm& bn = layer.batch_norm;
  const std::string L = std::to_string(l), B = std::to_string(batch);
  auto equation = [&](const std::string& tex, auto part) {
    w.out << "$$" << tex << "$$\n\n";
    if (w.derived) write_tex_entries(w.out, worked_part(*w.derived, part), w.f);
  };
  equation("\\delta_{" + L + "} = " + upstream + " = " + f.block(layer.delta, batch, layer.out).tex, &LayerDerivation::delta);
  equation("\\mathrm{grad}\\,\\mathrm{scale}_{" + L + "} = \\sum_r \\delta_{" + L + "} \\odot \\hat{x}_{" + L + "} = " +
               f.list(layer.grad_weights.data(), layer.out).tex,
           &LayerDerivation::grad_weights);
  equation("\\mathrm{grad}\\,\\mathrm{shift}_{" + L + "} = \\sum_r \\delta_{" + L + "} = " +
               f.list(layer.grad_bias.data(), layer.out).tex,
           &LayerDerivation::grad_bias);
  if (bn.grad_input.empty()) return;
  equation("\\mathrm{grad}\\,x_{" + L + "} = \\frac{\\mathrm{scale}_{" + L + "} \\odot s_{" + L + "}}{" + B + "} \\odot \\big(" +
               B + "\\,\\delta_{" + L + "} - \\mathrm{grad}\\,\\mathrm{shift}_{" + L + "} - \\hat{x}_{" + L +
               "} \\odot \\mathrm{grad}\\,\\mathrm{scale}_{" + L + "}\\big) = " + f.block(bn.grad_input, batch, layer.out).tex,
           &WorkedBatchNorm::grad_input);
}

void TraceWriting<LayerKind::batch_norm>::markdown_update(const EntryWriting& w) {
  const TraceLayer& layer = w.layer;
  const std::string L = std::to_string(w.l);
  w.out << "$$\\mathrm{scale}_{" << L << "} = " << w.f.list(layer.weights.data(), layer.out).tex << "$$\n\n";
  if (w.derived) write_tex_entries(w.out, w.derived->weights, w.f);
  w.out << "$$\\mathrm{shift}_{" << L << "} = " << w.f.list(layer.bias.data(), layer.out).tex << "$$\n\n";
  if (w.derived) write_tex_entries(w.out, w.derived->bias, w.f);
}

// ---- Its working (x is its input a_(l-1), F its width, B the rows) ----

// mean[j] = (sum_r x[r][j]) / B, var[j] = (sum_r (x[r][j] - mean[j])^2) / B, s[j] = 1 / sqrt(var[j] + eps),
// xhat[r][j] = (x[r][j] - mean[j]) s[j], y = a[r][j] = scale[j] xhat[r][j] + shift[j]; then the running
// statistics, (1 - momentum) old + momentum new, the variance's new one unbiased (times B / (B - 1)).
void TraceWriting<LayerKind::batch_norm>::derive_forward(const StepContext& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const TraceBatchNorm& bn = layer.batch_norm;
  out.batch_norm = std::make_shared<WorkedBatchNorm>();
  WorkedBatchNorm& own = *out.batch_norm;
  const int phase = c.phases.forward(l);
  const std::string L = std::to_string(l), prev = std::to_string(l - 1), B = std::to_string(c.batch);
  // (1 - momentum) as the library computes it, not a rounded decimal of it (1 - 0.3 is not the double 0.7).
  const Formula keep = lit("(1 - " + exact_decimal(bn.momentum) + ")"), momentum = lit(exact_decimal(bn.momentum));
  for (int j = 0; j < layer.out; ++j) {
    const std::string at = "[" + std::to_string(j) + "]";
    const double mean = bn.mean[j], variance = bn.variance[j], s = bn.inv_std[j];
    std::vector<Formula> sum, squares;
    for (int r = 0; r < c.batch; ++r) {
      const double x = c.input_of(l, r, j);
      sum.push_back(r ? f.factor(x) : f.number(x));
      squares.push_back(lit("(") + f.number(x) + lit(" - ") + f.factor(mean) + lit(")^2", ")^{2}"));
    }
    own.mean.push_back(feature_figure("mean", "\\mu", l, j,
                                      lit("(sum_r a" + prev + "[r]" + at + ") / " + B,
                                          "\\frac{1}{" + B + "}\\sum_r a_{" + prev + "}[r]" + at),
                                      lit("(") + join(sum, lit(" + ")) + lit(") / " + B), mean, phase));
    own.variance.push_back(feature_figure(
        "var", "\\sigma^2", l, j,
        lit("(sum_r (a" + prev + "[r]" + at + " - mean" + L + at + ")^2) / " + B,
            "\\frac{1}{" + B + "}\\sum_r (a_{" + prev + "}[r]" + at + " - \\mu_{" + L + "}" + at + ")^{2}"),
        lit("(") + join(squares, lit(" + ")) + lit(") / " + B), variance, phase));
    own.inv_std.push_back(feature_figure(
        "s", "s", l, j, lit("1 / sqrt(var" + L + at + " + eps)", "1 / \\sqrt{\\sigma^2_{" + L + "}" + at + " + \\epsilon}"),
        lit("1 / sqrt(", "1 / \\sqrt{") + f.number(variance) + lit(" + " + exact_decimal(bn.eps) + ")", " + " + exact_decimal(bn.eps) + "}"),
        s, phase));
  }
  for (int r = 0; r < c.batch; ++r) {
    for (int j = 0; j < layer.out; ++j) {
      const std::string suffix = index_suffix(c.batch, r, j), at = "[" + std::to_string(j) + "]";
      const std::string element = "u" + L + "-" + std::to_string(j);
      const double xhat = bn.xhat[r * layer.out + j];
      own.xhat.push_back({figure("xhat", "\\hat{x}", l, suffix),
                          lit("(a" + prev + suffix + " - mean" + L + at + ") s" + L + at,
                              "(a_{" + prev + "}" + suffix + " - \\mu_{" + L + "}" + at + ")\\,s_{" + L + "}" + at),
                          {times(lit("(") + f.number(c.input_of(l, r, j)) + lit(" - ") + f.factor(bn.mean[j]) + lit(")"),
                                 f.number(bn.inv_std[j]))},
                          xhat, element, phase});
      out.a.push_back({figure("a", "a", l, suffix),
                       lit("scale" + L + at + " xhat" + L + suffix + " + shift" + L + at,
                           "\\mathrm{scale}_{" + L + "}" + at + "\\,\\hat{x}_{" + L + "}" + suffix + " + \\mathrm{shift}_{" + L + "}" + at),
                       {times(f.factor(layer.weights_before[j]), f.number(xhat)) + lit(" + ") + f.factor(layer.bias_before[j])},
                       layer.a[r * layer.out + j], element, phase});
    }
  }
  const Formula unbiased = lit("(" + B + " / " + std::to_string(c.batch - 1) + ")",
                               "\\,\\tfrac{" + B + "}{" + std::to_string(c.batch - 1) + "}");
  for (int j = 0; j < layer.out; ++j) {
    const std::string at = "[" + std::to_string(j) + "]";
    own.running_mean.push_back(feature_figure(
        "running_mean", "\\mathrm{running\\_mean}", l, j,
        keep + lit(" running_mean" + L + at + " + ", "\\,\\mathrm{running\\_mean}_{" + L + "}" + at + " + ") + momentum +
            lit(" mean" + L + at, "\\,\\mu_{" + L + "}" + at),
        times(keep, f.number(bn.running_mean_before[j])) + lit(" + ") + times(momentum, f.number(bn.mean[j])),
        bn.running_mean[j], phase));
    own.running_var.push_back(feature_figure(
        "running_var", "\\mathrm{running\\_var}", l, j,
        keep + lit(" running_var" + L + at + " + ", "\\,\\mathrm{running\\_var}_{" + L + "}" + at + " + ") + momentum +
            lit(" var" + L + at + " ", "\\,\\sigma^2_{" + L + "}" + at) + unbiased,
        times(keep, f.number(bn.running_var_before[j])) + lit(" + ") + times(momentum, f.number(bn.variance[j])) + unbiased,
        bn.running_var[j], phase));
  }
}

// grad scale[j] = sum_r delta[r][j] xhat[r][j], grad shift[j] = sum_r delta[r][j] (delta = dL/dy), and, unless
// the entry is the first, grad x[r][j] = scale[j] s[j] / B (B delta[r][j] - grad shift[j] - xhat[r][j] grad scale[j]).
void TraceWriting<LayerKind::batch_norm>::derive_gradients(const StepContext& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const TraceBatchNorm& bn = layer.batch_norm;
  WorkedBatchNorm& own = *out.batch_norm;
  const int phase = c.phases.backward(l);
  const std::string L = std::to_string(l), B = std::to_string(c.batch);
  for (int j = 0; j < layer.out; ++j) {
    const std::string at = "[" + std::to_string(j) + "]";
    std::vector<Formula> products, sum;
    for (int r = 0; r < c.batch; ++r) {
      const double delta = layer.delta[r * layer.out + j];
      products.push_back(times(f.factor(delta), f.number(bn.xhat[r * layer.out + j])));
      sum.push_back(r ? f.factor(delta) : f.number(delta));
    }
    out.grad_weights.push_back(feature_figure(
        "grad scale", "\\mathrm{grad}\\,\\mathrm{scale}", l, j,
        lit("sum_r delta" + L + "[r]" + at + " xhat" + L + "[r]" + at,
            "\\sum_r \\delta_{" + L + "}[r]" + at + "\\,\\hat{x}_{" + L + "}[r]" + at),
        join(products, lit(" + ")), layer.grad_weights[j], phase));
    out.grad_bias.push_back(feature_figure("grad shift", "\\mathrm{grad}\\,\\mathrm{shift}", l, j,
                                           lit("sum_r delta" + L + "[r]" + at, "\\sum_r \\delta_{" + L + "}[r]" + at),
                                           join(sum, lit(" + ")), layer.grad_bias[j], phase));
  }
  if (bn.grad_input.empty()) return;
  for (int r = 0; r < c.batch; ++r) {
    for (int j = 0; j < layer.out; ++j) {
      const std::string suffix = index_suffix(c.batch, r, j), at = "[" + std::to_string(j) + "]";
      const int i = r * layer.out + j;
      const Formula paths = lit("(" + B) + lit("(", "\\,(") + f.number(layer.delta[i]) + lit(") - ") +
                            f.factor(layer.grad_bias[j]) + lit(" - ") +
                            times(f.factor(bn.xhat[i]), f.number(layer.grad_weights[j])) + lit(")");
      own.grad_input.push_back(
          {figure("grad x", "\\mathrm{grad}\\,x", l, suffix),
           lit("scale" + L + at + " s" + L + at + " / " + B + " (" + B + " delta" + L + suffix + " - grad shift" + L + at +
                   " - xhat" + L + suffix + " grad scale" + L + at + ")",
               "\\frac{\\mathrm{scale}_{" + L + "}" + at + "\\,s_{" + L + "}" + at + "}{" + B + "}\\big(" + B +
                   "\\,\\delta_{" + L + "}" + suffix + " - \\mathrm{grad}\\,\\mathrm{shift}_{" + L + "}" + at +
                   " - \\hat{x}_{" + L + "}" + suffix + "\\,\\mathrm{grad}\\,\\mathrm{scale}_{" + L + "}" + at +
                   "\\big)"),
           {times(f.factor(layer.weights_before[j]), f.number(bn.inv_std[j])) + lit(" / " + B + " ", " / " + B + "\\,") + paths},
           bn.grad_input[i], "u" + L + "-" + std::to_string(j), phase});
    }
  }
}

// Its figures forward (its own around its output a), backward (its dL/dx after its gradients) and updated.
std::vector<const std::vector<Worked>*> TraceWriting<LayerKind::batch_norm>::worked_parts(const LayerDerivation& d) {
  const WorkedBatchNorm& own = *d.batch_norm;
  return {&d.z, &own.mean, &own.variance, &own.inv_std, &own.xhat, &d.a, &own.running_mean,
          &own.running_var, &d.delta, &d.grad_weights, &d.grad_bias, &own.grad_input, &d.weights, &d.bias};
}

// scale[j] new = old - lr grad scale[j]; the same for shift (plain SGD, as every parameter).
void TraceWriting<LayerKind::batch_norm>::derive_update(const StepContext& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const Formula lr = lit(format_double(c.trace.learning_rate));
  auto update = [&](double old, double grad) { return f.number(old) + lit(" - ") + times(lr, f.number(grad)); };
  for (int j = 0; j < layer.out; ++j) {
    out.weights.push_back(feature_figure("scale", "\\mathrm{scale}", l, j, {},
                                         update(layer.weights_before[j], layer.grad_weights[j]), layer.weights[j],
                                         c.phases.update()));
    out.bias.push_back(feature_figure("shift", "\\mathrm{shift}", l, j, {}, update(layer.bias_before[j], layer.grad_bias[j]),
                                      layer.bias[j], c.phases.update()));
  }
}


// The entry below's dL/da[r][i] is this entry's dL/dx.
Upstream TraceWriting<LayerKind::batch_norm>::derive_upstream(const StepContext& c, int l, int r, int i) {
  const TraceLayer& layer = c.layer(l);
  return {c.format.factor(layer.batch_norm.grad_input[r * layer.out + i]),
          figure("grad x", "\\mathrm{grad}\\,x", l, index_suffix(c.batch, r, i))};
}

// delta = dL/dy: no activation.
void TraceWriting<LayerKind::batch_norm>::derive_delta(const StepContext&, int, int, int, const Formula& upstream,
                                                       Worked& worked) {
  worked.working = {upstream};
}


// ---- Its page and graph: each feature a unit (pale purple) with a dashed line from the one it normalizes, its
// working in the feature's panel and node ----

std::string TraceWriting<LayerKind::batch_norm>::html_note() {
  return "<p>A batch_norm entry (dashed) normalizes each feature with the batch's mean and variance, "
         "xhat = (x - mean) s with s = 1 / sqrt(var + eps), and outputs scale xhat + shift; click one of its "
         "features for the working.</p>\n";
}

std::string TraceWriting<LayerKind::batch_norm>::dot_note() {
  return "; each batch_norm feature's mean, var, s, xhat, a, running statistics, delta, grads and updated scale "
         "and shift";
}

double TraceWriting<LayerKind::batch_norm>::largest_drawn_weight(const TraceLayer&) { return 0.0; }

// Each feature from the one it normalizes: no weight to draw.
void TraceWriting<LayerKind::batch_norm>::svg_lines(std::ostream& out, const Trace& trace, const PageLayout& layout,
                                                    int l, const std::vector<double>&) {
  for (int j = 0; j < trace.steps[0].layers[l - 1].out; ++j)
    out << "<line class=\"norm\" x1=\"" << layout.x(l - 1) << "\" y1=\"" << layout.y(l - 1, j) << "\" x2=\""
        << layout.x(l) << "\" y2=\"" << layout.y(l, j) << "\" stroke=\"#9467bd\" stroke-width=\"2\" "
        << "stroke-dasharray=\"6 4\"><title>batch_norm of feature " << j << "</title></line>\n";
}

std::string TraceWriting<LayerKind::batch_norm>::unit_title() { return "batch_norm "; }
std::string TraceWriting<LayerKind::batch_norm>::unit_style() { return " style=\"fill: #d9c8ec; stroke: #5b3a86\""; }
std::string TraceWriting<LayerKind::batch_norm>::panel_heading() { return " (batch_norm), feature "; }
bool TraceWriting<LayerKind::batch_norm>::weight_panels() { return false; }

void TraceWriting<LayerKind::batch_norm>::dot_entry(const DotEntry& d) {
  const int l = d.l;
  for (int j = 0; j < d.layer.out; ++j) {
    const auto [label, tooltip] = dot_label(d.lines_of(unit_id(l, j)), d.f,
                                            "layer " + std::to_string(l) + ", batch_norm of feature " + std::to_string(j));
    d.out << "  u" << l << "_" << j << " [label=" << dot_string(label) << ", tooltip=" << dot_string(tooltip)
          << ", fillcolor=\"#ede7f6\"];\n";
    d.out << "  u" << l - 1 << "_" << j << " -> u" << l << "_" << j
          << " [label=\"normalize\", style=dashed, color=\"#9467bd\"];\n";
  }
}

}  // namespace backprop::io::trace_detail
