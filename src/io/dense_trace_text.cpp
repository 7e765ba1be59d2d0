// The dense layer's part of the readable trace (TraceWriting<K>, trace_text.hpp): z = W^T a + b and a = f(z)
// forward; delta, grad W and grad b backward; W and b updated.
#include "backprop/base/text.hpp"
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

}  // namespace backprop::io::trace_detail
