// The embedding's part of the readable trace (TraceWriting<K>, trace_text.hpp; nn/embedding.hpp): its codes and
// the rows they pick forward, the scatter-add of its gradient backward, the rows of the batch's codes updated.
#include "backprop/base/text.hpp"
#include "trace_text.hpp"

namespace backprop::io::trace_detail {

namespace {

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
  auto entries = [&](const std::vector<Worked> LayerDerivation::*part) {
    if (w.derived) write_entries(w.out, w.derived->*part, w.f, "      ");
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
  entries(&LayerDerivation::grad_input);
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
  auto equation = [&](const std::string& tex, const std::vector<Worked> LayerDerivation::*part) {
    w.out << "$$" << tex << "$$\n\n";
    if (w.derived) write_tex_entries(w.out, w.derived->*part, w.f);
  };
  equation("\\delta_{" + L + "} = " + upstream + " = " + f.block(layer.delta, batch, layer.out).tex,
           &LayerDerivation::delta);
  out << "The gradient of row $c$ of $W_{" << L << "}$ is the sum of $\\delta_{" << L << "}[r][" << value_positions(e)
      << "]$ over the rows $r$ with $c_{" << L << "}[r] = c$; the rows of codes not in the batch have gradient 0.\n\n";
  equation("\\mathrm{grad}\\,W_{" + L + "}[" + code_list(codes, "; ") + "] = " +
               f.block(code_rows(layer.grad_weights, codes, e.dim), static_cast<int>(codes.size()), e.dim).tex,
           &LayerDerivation::grad_weights);
  if (e.grad_input.empty()) return;
  equation("\\mathrm{grad}\\,x_{" + L + "} = " + f.block(e.grad_input, batch, layer.in).tex, &LayerDerivation::grad_input);
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

}  // namespace backprop::io::trace_detail
