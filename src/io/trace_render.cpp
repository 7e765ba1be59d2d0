// The trace as plain text (the readable form `backprop trace` has always printed, with the working of each
// figure under it when expanded) and as Markdown with LaTeX math; the choice of format and the size limit.
#include "backprop/io/trace_render.hpp"

#include <sstream>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/data/dataset.hpp"
#include "backprop/io/model_io.hpp"
#include "backprop/base/text.hpp"
#include "trace_derivation.hpp"

namespace backprop::io {

using namespace trace_detail;

TraceFormat parse_trace_format(std::string_view name) {
  if (name == "text") return TraceFormat::text;
  if (name == "markdown") return TraceFormat::markdown;
  if (name == "html") return TraceFormat::html;
  if (name == "dot") return TraceFormat::dot;
  throw OptionError("format", "expected text, markdown, html or dot, got '" + std::string(name) + "'");
}

void check_expandable(const Trace& trace) {
  int widest = trace.spec.input;
  for (const LayerSpec& layer : trace.spec.layers) widest = std::max(widest, layer.units);
  if (widest > kExpandMaxUnits || trace.batch > kExpandMaxRows)
    throw_bad_input("the network (" + architecture(trace.spec) + ", a batch of " + std::to_string(trace.batch) +
                    " row(s)) is too large to write out with its working: at most " +
                    std::to_string(kExpandMaxUnits) + " units in a layer and " + std::to_string(kExpandMaxRows) +
                    " rows; the plain trace or --json (every figure at full precision) have no limit");
}

namespace {

void write_entries(std::ostream& out, const std::vector<Worked>& entries, const NumberFormat& format,
                   const char* indent) {
  for (const Worked& worked : entries) out << indent << worked_text(worked, format) << "\n";
}

// What a hidden entry's dL/da comes from, as the text names it: the dense layer above's W delta, or the
// batch_norm above's dL/dx.
std::string upstream_text(const TraceLayer& next, int n) {
  switch (next.kind) {
    case LayerKind::dense: return "(W" + std::to_string(n) + " delta" + std::to_string(n) + ")";
    case LayerKind::batch_norm:
    case LayerKind::embedding: return "grad x" + std::to_string(n);
  }
  throw_runtime_error("trace: a layer kind without its text");
}

// A batch_norm entry's forward as text (nn/batch_norm.hpp's formulas): the batch's mean and variance, s, the
// normalized xhat, the output and the running statistics.
void write_text_batch_norm_forward(std::ostream& out, const TraceLayer& layer, int l, int batch,
                                   const LayerDerivation* derived, const NumberFormat& f) {
  const TraceBatchNorm& bn = layer.batch_norm;
  const std::string L = std::to_string(l), prev = std::to_string(l - 1), B = std::to_string(batch);
  auto entries = [&](const std::vector<Worked> LayerDerivation::*part) {
    if (derived) write_entries(out, derived->*part, f, "      ");
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
void write_text_batch_norm_backward(std::ostream& out, const TraceLayer& layer, int l, const std::string& upstream,
                                    int batch, const LayerDerivation* derived, const NumberFormat& f) {
  const TraceBatchNorm& bn = layer.batch_norm;
  const std::string L = std::to_string(l), B = std::to_string(batch);
  auto entries = [&](const std::vector<Worked> LayerDerivation::*part) {
    if (derived) write_entries(out, derived->*part, f, "      ");
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

// ---- An embedding entry (nn/embedding.hpp): its codes, the rows they pick, the scatter-add of its gradient ----

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

void write_text_embedding_forward(std::ostream& out, const TraceLayer& layer, int l, int batch,
                                  const LayerDerivation* derived, const NumberFormat& f) {
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

void write_text_embedding_backward(std::ostream& out, const TraceLayer& layer, int l, const std::string& upstream,
                                   int batch, const LayerDerivation* derived, const NumberFormat& f) {
  const TraceEmbedding& e = layer.embedding;
  const std::string L = std::to_string(l);
  const std::vector<int> codes = embedding_codes_in_batch(e);
  auto entries = [&](const std::vector<Worked> LayerDerivation::*part) {
    if (derived) write_entries(out, derived->*part, f, "      ");
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

void write_text_embedding_update(std::ostream& out, const TraceLayer& layer, int l, const LayerDerivation* derived,
                                 const NumberFormat& f) {
  const TraceEmbedding& e = layer.embedding;
  const std::vector<int> codes = embedding_codes_in_batch(e);
  out << "  W" << l << ", rows " << code_list(codes) << " = "
      << f.block(code_rows(layer.weights, codes, e.dim), static_cast<int>(codes.size()), e.dim).text
      << "  (the other " << e.categories - static_cast<int>(codes.size()) << " row(s) unchanged: gradient 0)\n";
  if (derived) write_entries(out, derived->weights, f, "    ");
}

// What a weighted loss divides by (nn/loss.hpp, PyTorch's weighted means).
const char* weight_denominator_name(LossKind loss) {
  return loss == LossKind::softmax_ce ? "the weights' sum" : "the rows";
}

// One step as text: the lines the readable trace has always printed, each followed (expanded) by the working
// of its figures.
void write_text_step(std::ostream& out, const Trace& trace, const TraceStep& step, const StepDerivation* derived,
                     const NumberFormat& f) {
  const NetworkSpec& spec = trace.spec;
  const int batch = trace.batch;
  const int last = static_cast<int>(spec.layers.size());
  auto entries = [&](int l, std::vector<Worked> LayerDerivation::*part, const char* indent) {
    if (derived) write_entries(out, derived->layers[l - 1].*part, f, indent);
  };
  out << "\n=== Step " << step.step << " ===\nForward pass\n";
  for (int l = 1; l <= last; ++l) {
    const TraceLayer& layer = step.layers[l - 1];
    const std::string L = std::to_string(l), prev = std::to_string(l - 1);
    switch (layer.kind) {
      case LayerKind::embedding:
        write_text_embedding_forward(out, layer, l, batch, derived ? &derived->layers[l - 1] : nullptr, f);
        continue;
      case LayerKind::dense: break;
      case LayerKind::batch_norm:
        write_text_batch_norm_forward(out, layer, l, batch, derived ? &derived->layers[l - 1] : nullptr, f);
        continue;
    }
    out << "  Layer " << L << " (" << layer.in << " -> " << layer.out << ", " << to_string(layer.activation) << ")\n";
    out << "    z" << L << " = W" << L << "^T a" << prev << " + b" << L << " = " << f.block(layer.z, batch, layer.out).text
        << "\n";
    entries(l, &LayerDerivation::z, "      ");
    out << "    a" << L << " = " << to_string(layer.activation) << "(z" << L << ") = " << f.block(layer.a, batch, layer.out).text
        << "\n";
    entries(l, &LayerDerivation::a, "      ");
  }
  out << "  Loss (" << to_string(spec.loss) << ") = " << f.fixed(step.loss) << "\n";
  if (derived) out << "    " << worked_text(derived->loss, f) << "\n";

  out << "Backward pass\n";
  if (!trace.weights.empty())
    out << "  (the loss is the weighted mean: row r's delta carries w[r] / D, D = "
        << f.number(trace.weight_denominator).text << ", and the gradients sum over the rows)\n";
  else if (derived && batch > 1)
    out << "  (the loss is the mean over the batch's " << batch << " rows: each row's delta carries the 1/" << batch
        << ", and the gradients sum over the rows)\n";
  const std::string over_batch = !trace.weights.empty() ? " * w / D" : batch > 1 ? " / B" : "";
  for (int l = last; l >= 1; --l) {
    const TraceLayer& layer = step.layers[l - 1];
    const std::string L = std::to_string(l), prev = std::to_string(l - 1);
    const std::string derivative = std::string(to_string(layer.activation)) + "'(z" + L + ")";
    out << "  Layer " << L << "\n";
    const std::string upstream = l < last ? upstream_text(step.layers[l], l + 1) : std::string();
    switch (layer.kind) {
      case LayerKind::embedding:
        write_text_embedding_backward(out, layer, l, upstream, batch, derived ? &derived->layers[l - 1] : nullptr, f);
        continue;
      case LayerKind::dense: break;
      case LayerKind::batch_norm:
        write_text_batch_norm_backward(out, layer, l, upstream, batch, derived ? &derived->layers[l - 1] : nullptr, f);
        continue;
    }
    std::string rule = upstream + " * " + derivative;
    if (l == last) rule = "(a" + L + " - y)" + over_batch + (delta_carries_derivative(spec.loss) ? " * " + derivative : "");
    out << "    delta" << L << " = " << rule << " = " << f.block(layer.delta, batch, layer.out).text << "\n";
    entries(l, &LayerDerivation::delta, "      ");
    out << "    grad W" << L << " = a" << prev << " delta" << L << "^T = "
        << f.block(layer.grad_weights, layer.in, layer.out).text << "\n";
    entries(l, &LayerDerivation::grad_weights, "      ");
    out << "    grad b" << L << " = " << (batch > 1 ? "column sums of delta" : "delta") << L << " = "
        << f.list(layer.grad_bias.data(), layer.out).text << "\n";
    entries(l, &LayerDerivation::grad_bias, "      ");
  }

  const std::string lr = format_double(trace.learning_rate);
  out << "Update (W <- W - " << lr << " grad W, b <- b - " << lr << " grad b"
      << (spec.has(LayerKind::batch_norm) ? ", scale <- scale - " + lr + " grad scale, shift <- shift - " + lr + " grad shift"
                                          : std::string())
      << ")\n";
  for (int l = last; l >= 1; --l) {
    const TraceLayer& layer = step.layers[l - 1];
    const std::string L = std::to_string(l);
    switch (layer.kind) {
      case LayerKind::embedding:
        write_text_embedding_update(out, layer, l, derived ? &derived->layers[l - 1] : nullptr, f);
        continue;
      case LayerKind::dense: break;
      case LayerKind::batch_norm:
        out << "  scale" << L << " = " << f.list(layer.weights.data(), layer.out).text << "\n";
        entries(l, &LayerDerivation::weights, "    ");
        out << "  shift" << L << " = " << f.list(layer.bias.data(), layer.out).text << "\n";
        entries(l, &LayerDerivation::bias, "    ");
        continue;
    }
    out << "  W" << L << " = " << f.block(layer.weights, layer.in, layer.out).text << "\n";
    entries(l, &LayerDerivation::weights, "    ");
    out << "  b" << L << " = " << f.list(layer.bias.data(), layer.out).text << "\n";
    entries(l, &LayerDerivation::bias, "    ");
  }
}

std::string render_text(const Trace& trace, const std::vector<StepDerivation>* derived, const NumberFormat& f,
                        const std::string& source, const std::vector<double>& raw_input, const std::string& scaling) {
  std::ostringstream out;
  const NetworkSpec& spec = trace.spec;
  out << "backprop trace: " << source << ", network " << architecture(spec) << ", loss " << to_string(spec.loss)
      << ", SGD learning rate " << format_double(trace.learning_rate) << ", " << trace.steps.size()
      << " step(s), batch of " << trace.batch << "\n";
  if (!raw_input.empty())
    out << "input  = " << f.block(raw_input, trace.batch, spec.input).text << "  (as given; x is it scaled by the "
        << "model's " << printable(scaling) << " scaling, (input - offset) / scale)\n";
  out << "x = a0 = " << f.block(trace.input, trace.batch, spec.input).text << "\n";
  out << "y      = " << f.block(trace.target, trace.batch, spec.output()).text << "\n";
  if (!trace.weights.empty())
    out << "w      = " << f.list(trace.weights.data(), trace.batch).text << "  (the rows' weights: the loss is sum_r w[r] "
        << "L[r] / D, D = " << f.number(trace.weight_denominator).text << ", " << weight_denominator_name(spec.loss)
        << ")\n";
  for (std::size_t s = 0; s < trace.steps.size(); ++s)
    write_text_step(out, trace, trace.steps[s], derived ? &(*derived)[s] : nullptr, f);
  return out.str();
}

// ---- Markdown: headings, the matrix form of each line as a display equation, the working as a list ----

void write_tex_entries(std::ostream& out, const std::vector<Worked>& entries, const NumberFormat& format) {
  if (entries.empty()) return;
  for (const Worked& worked : entries) out << "- $" << worked_tex(worked, format) << "$\n";
  out << "\n";
}

std::string tex_loss_rule(LossKind loss, int batch, bool weighted) {
  const std::string mean = weighted ? "\\frac{1}{D}\\sum_{r} w_r" : batch > 1 ? "\\frac{1}{B}\\sum_{r}" : "";
  switch (loss) {
    case LossKind::mse:
      return (weighted ? "\\frac{1}{2B}\\sum_{r} w_r" : batch > 1 ? "\\frac{1}{2B}\\sum_{r}" : "\\frac{1}{2}") +
             std::string("\\sum_j (a_j - y_j)^2");
    case LossKind::bce: return "-" + mean + "\\sum_j \\big[y_j \\ln a_j + (1 - y_j) \\ln(1 - a_j)\\big]";
    case LossKind::softmax_ce: return "-" + mean + "\\sum_j y_j \\ln p_j";
  }
  throw_runtime_error("trace: a loss without its rule");
}

std::string upstream_tex(const TraceLayer& next, int n) {
  const std::string N = std::to_string(n);
  switch (next.kind) {
    case LayerKind::dense: return "(W_{" + N + "}\\,\\delta_{" + N + "})";
    case LayerKind::batch_norm:
    case LayerKind::embedding: return "\\mathrm{grad}\\,x_{" + N + "}";
  }
  throw_runtime_error("trace: a layer kind without its LaTeX");
}

// A batch_norm entry's forward and backward in Markdown, as the text writes them.
void write_markdown_batch_norm_forward(std::ostream& out, const TraceLayer& layer, int l, int batch,
                                       const LayerDerivation* derived, const NumberFormat& f) {
  const TraceBatchNorm& bn = layer.batch_norm;
  const std::string L = std::to_string(l), prev = std::to_string(l - 1), B = std::to_string(batch);
  auto equation = [&](const std::string& tex, const std::vector<Worked> LayerDerivation::*part) {
    out << "$$" << tex << "$$\n\n";
    if (derived) write_tex_entries(out, derived->*part, f);
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

void write_markdown_batch_norm_backward(std::ostream& out, const TraceLayer& layer, int l, const std::string& upstream,
                                        int batch, const LayerDerivation* derived, const NumberFormat& f) {
  const TraceBatchNorm& bn = layer.batch_norm;
  const std::string L = std::to_string(l), B = std::to_string(batch);
  auto equation = [&](const std::string& tex, const std::vector<Worked> LayerDerivation::*part) {
    out << "$$" << tex << "$$\n\n";
    if (derived) write_tex_entries(out, derived->*part, f);
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

// An embedding entry in Markdown, as the text writes it.
void write_markdown_embedding_forward(std::ostream& out, const TraceLayer& layer, int l, int batch,
                                      const LayerDerivation* derived, const NumberFormat& f) {
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

void write_markdown_embedding_backward(std::ostream& out, const TraceLayer& layer, int l, const std::string& upstream,
                                       int batch, const LayerDerivation* derived, const NumberFormat& f) {
  const TraceEmbedding& e = layer.embedding;
  const std::string L = std::to_string(l);
  const std::vector<int> codes = embedding_codes_in_batch(e);
  auto equation = [&](const std::string& tex, const std::vector<Worked> LayerDerivation::*part) {
    out << "$$" << tex << "$$\n\n";
    if (derived) write_tex_entries(out, derived->*part, f);
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

void write_markdown_embedding_update(std::ostream& out, const TraceLayer& layer, int l, const LayerDerivation* derived,
                                     const NumberFormat& f) {
  const TraceEmbedding& e = layer.embedding;
  const std::vector<int> codes = embedding_codes_in_batch(e);
  out << "$$W_{" << l << "}[" << code_list(codes, "; ") << "] = "
      << f.block(code_rows(layer.weights, codes, e.dim), static_cast<int>(codes.size()), e.dim).tex << "$$\n\n"
      << "The other " << e.categories - static_cast<int>(codes.size()) << " row(s) of $W_{" << l
      << "}$ are unchanged (gradient 0).\n\n";
  if (derived) write_tex_entries(out, derived->weights, f);
}

void write_markdown_step(std::ostream& out, const Trace& trace, const TraceStep& step, const StepDerivation* derived,
                         const NumberFormat& f) {
  const NetworkSpec& spec = trace.spec;
  const int batch = trace.batch;
  const int last = static_cast<int>(spec.layers.size());
  auto entries = [&](int l, std::vector<Worked> LayerDerivation::*part) {
    if (derived) write_tex_entries(out, derived->layers[l - 1].*part, f);
  };
  auto equation = [&](const std::string& tex) { out << "$$" << tex << "$$\n\n"; };
  out << "## Step " << step.step << "\n\n### Forward pass\n\n";
  for (int l = 1; l <= last; ++l) {
    const TraceLayer& layer = step.layers[l - 1];
    const std::string L = std::to_string(l), prev = std::to_string(l - 1);
    switch (layer.kind) {
      case LayerKind::embedding:
        write_markdown_embedding_forward(out, layer, l, batch, derived ? &derived->layers[l - 1] : nullptr, f);
        continue;
      case LayerKind::dense: break;
      case LayerKind::batch_norm:
        write_markdown_batch_norm_forward(out, layer, l, batch, derived ? &derived->layers[l - 1] : nullptr, f);
        continue;
    }
    const std::string activation(to_string(layer.activation));
    out << "**Layer " << L << "** (" << layer.in << " → " << layer.out << ", " << activation << ")\n\n";
    equation("z_{" + L + "} = W_{" + L + "}^T a_{" + prev + "} + b_{" + L + "} = " + f.block(layer.z, batch, layer.out).tex);
    entries(l, &LayerDerivation::z);
    equation("a_{" + L + "} = \\operatorname{" + (activation == "leaky_relu" ? "leaky\\_relu" : activation) + "}(z_{" +
             L + "}) = " + f.block(layer.a, batch, layer.out).tex);
    entries(l, &LayerDerivation::a);
  }
  out << "### Loss (" << to_string(spec.loss) << ")\n\n";
  equation("L = " + tex_loss_rule(spec.loss, batch, !trace.weights.empty()) + " = " + f.fixed(step.loss));
  if (derived) equation(worked_tex(derived->loss, f));

  out << "### Backward pass\n\n";
  if (!trace.weights.empty())
    out << "The loss is the weighted mean over the batch's rows: row $r$'s $\\delta$ carries $w_r / D$ with $w = "
        << f.list(trace.weights.data(), trace.batch).tex << "$ and $D = " << f.number(trace.weight_denominator).tex
        << "$ (" << weight_denominator_name(spec.loss) << "), and the gradients sum over the rows.\n\n";
  else if (batch > 1)
    out << "The loss is the mean over the batch's " << batch << " rows: each row's $\\delta$ carries the $1/" << batch
        << "$, and the gradients sum over the rows.\n\n";
  for (int l = last; l >= 1; --l) {
    const TraceLayer& layer = step.layers[l - 1];
    const std::string L = std::to_string(l), prev = std::to_string(l - 1), next = std::to_string(l + 1);
    out << "**Layer " << L << "**\n\n";
    const std::string upstream = l < last ? upstream_tex(step.layers[l], l + 1) : std::string();
    switch (layer.kind) {
      case LayerKind::embedding:
        write_markdown_embedding_backward(out, layer, l, upstream, batch, derived ? &derived->layers[l - 1] : nullptr,
                                          f);
        continue;
      case LayerKind::dense: break;
      case LayerKind::batch_norm:
        write_markdown_batch_norm_backward(out, layer, l, upstream, batch, derived ? &derived->layers[l - 1] : nullptr,
                                           f);
        continue;
    }
    const std::string derivative = "f_{" + L + "}'(z_{" + L + "})";
    std::string rule = upstream + " \\odot " + derivative;
    if (l == last)
      rule = "(a_{" + L + "} - y)" +
             (!trace.weights.empty() ? std::string(" \\odot w / D") : batch > 1 ? std::string("/B") : "") +
             (delta_carries_derivative(spec.loss) ? " \\odot " + derivative : "");
    equation("\\delta_{" + L + "} = " + rule + " = " + f.block(layer.delta, batch, layer.out).tex);
    entries(l, &LayerDerivation::delta);
    equation("\\mathrm{grad}\\,W_{" + L + "} = a_{" + prev + "}\\,\\delta_{" + L + "}^T = " +
             f.block(layer.grad_weights, layer.in, layer.out).tex);
    entries(l, &LayerDerivation::grad_weights);
    equation("\\mathrm{grad}\\,b_{" + L + "} = " + (batch > 1 ? "\\sum_r \\delta_{" : "\\delta_{") + L + "} = " +
             f.list(layer.grad_bias.data(), layer.out).tex);
    entries(l, &LayerDerivation::grad_bias);
  }

  const std::string lr = format_double(trace.learning_rate);
  out << "### Update\n\n";
  equation("W \\leftarrow W - " + lr + "\\,\\mathrm{grad}\\,W, \\quad b \\leftarrow b - " + lr + "\\,\\mathrm{grad}\\,b" +
           (spec.has(LayerKind::batch_norm) ? ", \\quad \\mathrm{scale} \\leftarrow \\mathrm{scale} - " + lr +
                                                  "\\,\\mathrm{grad}\\,\\mathrm{scale}, \\quad \\mathrm{shift} \\leftarrow "
                                                  "\\mathrm{shift} - " + lr + "\\,\\mathrm{grad}\\,\\mathrm{shift}"
                                            : std::string()));
  for (int l = last; l >= 1; --l) {
    const TraceLayer& layer = step.layers[l - 1];
    const std::string L = std::to_string(l);
    out << "**Layer " << L << "**\n\n";
    switch (layer.kind) {
      case LayerKind::embedding:
        write_markdown_embedding_update(out, layer, l, derived ? &derived->layers[l - 1] : nullptr, f);
        continue;
      case LayerKind::dense: break;
      case LayerKind::batch_norm:
        equation("\\mathrm{scale}_{" + L + "} = " + f.list(layer.weights.data(), layer.out).tex);
        entries(l, &LayerDerivation::weights);
        equation("\\mathrm{shift}_{" + L + "} = " + f.list(layer.bias.data(), layer.out).tex);
        entries(l, &LayerDerivation::bias);
        continue;
    }
    equation("W_{" + L + "} = " + f.block(layer.weights, layer.in, layer.out).tex);
    entries(l, &LayerDerivation::weights);
    equation("b_{" + L + "} = " + f.list(layer.bias.data(), layer.out).tex);
    entries(l, &LayerDerivation::bias);
  }
}

std::string render_markdown(const Trace& trace, const std::vector<StepDerivation>* derived, const NumberFormat& f,
                            const std::string& source, const std::vector<double>& raw_input,
                            const std::string& scaling) {
  std::ostringstream out;
  const NetworkSpec& spec = trace.spec;
  out << "# Backprop trace of " << source << "\n\n"
      << "Network " << architecture(spec) << ", loss " << to_string(spec.loss) << ", plain SGD with learning rate "
      << format_double(trace.learning_rate) << ", " << trace.steps.size() << " step(s) on a batch of " << trace.batch
      << " row(s). Weights are IN x OUT, so a layer computes $z = W^T a + b$. Every figure is computed in double "
         "precision and printed to "
      << f.digits() << " decimals; redone by hand from the printed figures, a last digit may differ by one.\n\n";
  if (spec.has(LayerKind::embedding))
    out << "An embedding entry reads one position of its input as a code $c$, a whole number, and puts row $c$ of "
           "its table $W$ (one row per category) in that position's place; its $\\delta$ is $\\partial L / \\partial a$, "
           "and the gradient of row $c$ adds $\\delta$'s values there over the rows of the batch with code $c$.\n\n";
  if (spec.has(LayerKind::batch_norm))
    out << "A batch_norm entry normalizes each feature of its input $x$ (the entry before it) with the batch's mean "
           "$\\mu$ and biased variance $\\sigma^2$, $\\hat{x} = (x - \\mu) s$ with $s = 1 / \\sqrt{\\sigma^2 + "
           "\\epsilon}$, and outputs $\\mathrm{scale} \\odot \\hat{x} + \\mathrm{shift}$; its $\\delta$ is "
           "$\\partial L / \\partial a$ and $\\mathrm{grad}\\,x$ is $\\partial L / \\partial x$, through the mean "
           "and variance too.\n\n";
  if (!raw_input.empty())
    out << "The input as given, $" << f.block(raw_input, trace.batch, spec.input).tex << "$, is scaled by the model's "
        << printable(scaling) << " scaling, $x = (\\text{input} - \\text{offset}) / \\text{scale}$:\n\n";
  out << "$$x = a_{0} = " << f.block(trace.input, trace.batch, spec.input).tex << ", \\quad y = "
      << f.block(trace.target, trace.batch, spec.output()).tex << "$$\n\n";
  for (std::size_t s = 0; s < trace.steps.size(); ++s)
    write_markdown_step(out, trace, trace.steps[s], derived ? &(*derived)[s] : nullptr, f);
  return out.str();
}

// The same as Markdown text: HTML's special characters as entities (a name cannot open a tag) and
// the characters that start Markdown's emphasis, code, links or math escaped with a backslash.
std::string markdown_text(std::string_view text) {
  std::string out;
  for (const char c : printable(text)) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (std::string_view("\\`*_[]$").find(c) != std::string_view::npos) (out += '\\') += c;
    else out += c;
  }
  return out;
}

}  // namespace

std::string render_trace(const Trace& trace, TraceFormat format, const TraceRenderOptions& options) {
  if (options.digits < 0 || options.digits > 17) throw OptionError("digits", "expected a number of decimals from 0 to 17");
  const bool expand = options.expand || format == TraceFormat::html || format == TraceFormat::dot;
  if (expand) check_expandable(trace);
  const NumberFormat numbers(options.digits);
  const std::vector<StepDerivation> derived = expand ? derive(trace, numbers) : std::vector<StepDerivation>{};
  const std::vector<StepDerivation>* working = expand ? &derived : nullptr;
  switch (format) {
    case TraceFormat::text:
      return render_text(trace, working, numbers, printable(options.source), options.raw_input, options.scaling);
    case TraceFormat::markdown: return render_markdown(trace, working, numbers, markdown_text(options.source), options.raw_input,
                                                   options.scaling);
    case TraceFormat::html: return render_html(trace, derived, numbers, printable(options.source));
    case TraceFormat::dot: return render_dot(trace, derived, numbers, printable(options.source));
  }
  throw_runtime_error("trace: no such format");
}

std::vector<double> traced_input(const ModelFile& model, const std::vector<double>& given) {
  const auto width = static_cast<std::size_t>(model.network.input);
  if (given.empty() || given.size() % width != 0)  // trace() says what it expects
    return given;
  if (model.byte_inputs) {
    std::vector<float> values(given.size());
    for (std::size_t i = 0; i < given.size(); ++i)
      values[i] = static_cast<float>(given[i]);
    check_byte_inputs(values, width, "input");
  }
  return scale_rows(model.scaling, given);
}

TraceRenderOptions trace_render_options(const ModelFile& model, const std::vector<double>& given, int digits,
                                        bool expand, const std::string& source) {
  TraceRenderOptions options{.digits = digits, .expand = expand, .source = source};
  if (!model.scaling.empty()) {
    options.raw_input = given;
    options.scaling = std::string(to_string(model.scaling.kind));
  }
  return options;
}

}  // namespace backprop::io
