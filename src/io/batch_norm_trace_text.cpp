// The batch_norm's part of the readable trace (TraceWriting<K>, trace_text.hpp; nn/batch_norm.hpp's formulas):
// the batch's mean and variance, s, the normalized xhat, the output and the running statistics forward; dL/dy, the
// gradients of scale and shift and dL/dx backward; scale and shift updated.
#include "backprop/base/text.hpp"
#include "trace_text.hpp"

namespace backprop::io::trace_detail {

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
  auto entries = [&](const std::vector<Worked> LayerDerivation::*part) {
    if (w.derived) write_entries(w.out, w.derived->*part, w.f, "      ");
  };
  out << "  Layer " << L << " (batch_norm of a" << prev << ", " << layer.out << " features, eps "
      << format_double(bn.eps) << ", momentum " << format_double(bn.momentum) << ")\n";
  out << "    mean" << L << " = (sum_r a" << prev << "[r]) / " << B << " = " << f.list(bn.mean.data(), layer.out).text
      << "\n";
  entries(&LayerDerivation::mean);
  out << "    var" << L << " = (sum_r (a" << prev << "[r] - mean" << L << ")^2) / " << B << " = "
      << f.list(bn.variance.data(), layer.out).text << "\n";
  entries(&LayerDerivation::variance);
  out << "    s" << L << " = 1 / sqrt(var" << L << " + eps) = " << f.list(bn.inv_std.data(), layer.out).text << "\n";
  entries(&LayerDerivation::inv_std);
  out << "    xhat" << L << " = (a" << prev << " - mean" << L << ") s" << L << " = "
      << f.block(bn.xhat, batch, layer.out).text << "\n";
  entries(&LayerDerivation::xhat);
  out << "    a" << L << " = scale" << L << " xhat" << L << " + shift" << L << " = " << f.block(layer.a, batch, layer.out).text
      << "\n";
  entries(&LayerDerivation::a);
  const std::string momentum = exact_decimal(bn.momentum), keep = "(1 - " + momentum + ")";
  out << "    running_mean" << L << " = " << keep << " running_mean" << L << " + " << momentum << " mean" << L << " = "
      << f.list(bn.running_mean.data(), layer.out).text << "\n";
  entries(&LayerDerivation::running_mean);
  out << "    running_var" << L << " = " << keep << " running_var" << L << " + " << momentum << " var" << L << " (" << B
      << " / " << batch - 1 << ") = " << f.list(bn.running_var.data(), layer.out).text << "\n";
  entries(&LayerDerivation::running_var);
}

// Its backward: delta = dL/dy (no activation), the gradients of scale and shift, and dL/dx for the entry below.
void TraceWriting<LayerKind::batch_norm>::text_backward(const EntryWriting& w) {
  const auto& [out, layer, derived, f, l, batch, upstream, output_rule, output_carries_derivative] = w;
  const TraceBatchNorm& bn = layer.batch_norm;
  const std::string L = std::to_string(l), B = std::to_string(batch);
  auto entries = [&](const std::vector<Worked> LayerDerivation::*part) {
    if (w.derived) write_entries(w.out, w.derived->*part, w.f, "      ");
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
  entries(&LayerDerivation::grad_input);
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
  auto equation = [&](const std::string& tex, const std::vector<Worked> LayerDerivation::*part) {
    w.out << "$$" << tex << "$$\n\n";
    if (w.derived) write_tex_entries(w.out, w.derived->*part, w.f);
  };
  out << "**Layer " << L << "** (batch_norm of $a_{" << prev << "}$, " << layer.out << " features, $\\epsilon = "
      << exact_decimal(bn.eps) << "$, momentum " << format_double(bn.momentum) << ")\n\n";
  equation("\\mu_{" + L + "} = \\frac{1}{" + B + "}\\sum_r a_{" + prev + "}[r] = " + f.list(bn.mean.data(), layer.out).tex,
           &LayerDerivation::mean);
  equation("\\sigma^2_{" + L + "} = \\frac{1}{" + B + "}\\sum_r (a_{" + prev + "}[r] - \\mu_{" + L + "})^{2} = " +
               f.list(bn.variance.data(), layer.out).tex,
           &LayerDerivation::variance);
  equation("s_{" + L + "} = 1 / \\sqrt{\\sigma^2_{" + L + "} + \\epsilon} = " + f.list(bn.inv_std.data(), layer.out).tex,
           &LayerDerivation::inv_std);
  equation("\\hat{x}_{" + L + "} = (a_{" + prev + "} - \\mu_{" + L + "}) \\odot s_{" + L + "} = " +
               f.block(bn.xhat, batch, layer.out).tex,
           &LayerDerivation::xhat);
  equation("a_{" + L + "} = \\mathrm{scale}_{" + L + "} \\odot \\hat{x}_{" + L + "} + \\mathrm{shift}_{" + L + "} = " +
               f.block(layer.a, batch, layer.out).tex,
           &LayerDerivation::a);
  const std::string momentum = exact_decimal(bn.momentum), keep = "(1 - " + momentum + ")";
  equation("\\mathrm{running\\_mean}_{" + L + "} = " + keep + "\\,\\mathrm{running\\_mean}_{" + L + "} + " + momentum +
               "\\,\\mu_{" + L + "} = " + f.list(bn.running_mean.data(), layer.out).tex,
           &LayerDerivation::running_mean);
  equation("\\mathrm{running\\_var}_{" + L + "} = " + keep + "\\,\\mathrm{running\\_var}_{" + L + "} + " + momentum +
               "\\,\\sigma^2_{" + L + "}\\,\\tfrac{" + B + "}{" + std::to_string(batch - 1) + "} = " +
               f.list(bn.running_var.data(), layer.out).tex,
           &LayerDerivation::running_var);
}

void TraceWriting<LayerKind::batch_norm>::markdown_backward(const EntryWriting& w) {
  const auto& [out, layer, derived, f, l, batch, upstream, output_rule, output_carries_derivative] = w;
  const TraceBatchNorm& bn = layer.batch_norm;
  const std::string L = std::to_string(l), B = std::to_string(batch);
  auto equation = [&](const std::string& tex, const std::vector<Worked> LayerDerivation::*part) {
    w.out << "$$" << tex << "$$\n\n";
    if (w.derived) write_tex_entries(w.out, w.derived->*part, w.f);
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
           &LayerDerivation::grad_input);
}

void TraceWriting<LayerKind::batch_norm>::markdown_update(const EntryWriting& w) {
  const TraceLayer& layer = w.layer;
  const std::string L = std::to_string(w.l);
  w.out << "$$\\mathrm{scale}_{" << L << "} = " << w.f.list(layer.weights.data(), layer.out).tex << "$$\n\n";
  if (w.derived) write_tex_entries(w.out, w.derived->weights, w.f);
  w.out << "$$\\mathrm{shift}_{" << L << "} = " << w.f.list(layer.bias.data(), layer.out).tex << "$$\n\n";
  if (w.derived) write_tex_entries(w.out, w.derived->bias, w.f);
}

}  // namespace backprop::io::trace_detail
