// The trace as plain text (the readable form `backprop trace` has always printed, with the working of each
// figure under it when expanded) and as Markdown with LaTeX math, each entry written by its kind's TraceWriting<K>
// (trace_text.hpp); the choice of format and the size limit.
#include "backprop/io/trace_render.hpp"

#include <algorithm>
#include <sstream>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/data/dataset.hpp"
#include "backprop/io/model_io.hpp"
#include "backprop/base/text.hpp"
#include "trace_derivation.hpp"
#include "trace_text.hpp"

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

void trace_detail::write_entries(std::ostream& out, const std::vector<Worked>& entries, const NumberFormat& format,
                                 const char* indent) {
  for (const Worked& worked : entries) out << indent << worked_text(worked, format) << "\n";
}

void trace_detail::write_tex_entries(std::ostream& out, const std::vector<Worked>& entries,
                                     const NumberFormat& format) {
  if (entries.empty()) return;
  for (const Worked& worked : entries) out << "- $" << worked_tex(worked, format) << "$\n";
  out << "\n";
}

namespace {

// Entry l (from 1) of a step as its kind's TraceWriting<K> writes it (trace_text.hpp).
EntryWriting entry_writing(std::ostream& out, const TraceStep& step, const StepDerivation* derived,
                           const NumberFormat& f, int l, int batch) {
  return EntryWriting{out, step.layers[l - 1], derived ? &derived->layers[l - 1] : nullptr, f, l, batch, {}, {}, false};
}

// The kinds of the network's entries, each once, in the order the network first holds them.
std::vector<LayerKind> kinds_held(const NetworkSpec& spec) {
  std::vector<LayerKind> kinds;
  for (const LayerSpec& layer : spec.layers)
    if (std::find(kinds.begin(), kinds.end(), layer.kind) == kinds.end()) kinds.push_back(layer.kind);
  return kinds;
}

// ---- An embedding entry (nn/embedding.hpp): its codes, the rows they pick, the scatter-add of its gradient ----

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
  out << "\n=== Step " << step.step << " ===\nForward pass\n";
  for (int l = 1; l <= last; ++l)
    with_layer_kind(step.layers[l - 1].kind, [&](auto k) {
      TraceWriting<decltype(k)::value>::text_forward(entry_writing(out, step, derived, f, l, batch));
    });
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
    out << "  Layer " << l << "\n";
    EntryWriting w = entry_writing(out, step, derived, f, l, batch);
    if (l < last)
      w.upstream = with_layer_kind(step.layers[l].kind,
                                   [&](auto k) { return TraceWriting<decltype(k)::value>::upstream_text(l + 1); });
    else
      w.output_rule = "(a" + std::to_string(l) + " - y)" + over_batch;
    w.output_carries_derivative = l == last && delta_carries_derivative(spec.loss);
    with_layer_kind(step.layers[l - 1].kind, [&](auto k) { TraceWriting<decltype(k)::value>::text_backward(w); });
  }

  const std::string lr = format_double(trace.learning_rate);
  out << "Update (W <- W - " << lr << " grad W, b <- b - " << lr << " grad b";
  for (const LayerKind kind : kinds_held(spec))
    out << with_layer_kind(kind, [&](auto k) { return TraceWriting<decltype(k)::value>::update_rule_text(lr); });
  out << ")\n";
  for (int l = last; l >= 1; --l)
    with_layer_kind(step.layers[l - 1].kind, [&](auto k) {
      TraceWriting<decltype(k)::value>::text_update(entry_writing(out, step, derived, f, l, batch));
    });
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

void write_markdown_step(std::ostream& out, const Trace& trace, const TraceStep& step, const StepDerivation* derived,
                         const NumberFormat& f) {
  const NetworkSpec& spec = trace.spec;
  const int batch = trace.batch;
  const int last = static_cast<int>(spec.layers.size());
  auto equation = [&](const std::string& tex) { out << "$$" << tex << "$$\n\n"; };
  out << "## Step " << step.step << "\n\n### Forward pass\n\n";
  for (int l = 1; l <= last; ++l)
    with_layer_kind(step.layers[l - 1].kind, [&](auto k) {
      TraceWriting<decltype(k)::value>::markdown_forward(entry_writing(out, step, derived, f, l, batch));
    });
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
    out << "**Layer " << l << "**\n\n";
    EntryWriting w = entry_writing(out, step, derived, f, l, batch);
    if (l < last)
      w.upstream = with_layer_kind(step.layers[l].kind,
                                   [&](auto k) { return TraceWriting<decltype(k)::value>::upstream_tex(l + 1); });
    else
      w.output_rule = "(a_{" + std::to_string(l) + "} - y)" +
                      (!trace.weights.empty() ? std::string(" \\odot w / D") : batch > 1 ? std::string("/B") : "");
    w.output_carries_derivative = l == last && delta_carries_derivative(spec.loss);
    with_layer_kind(step.layers[l - 1].kind, [&](auto k) { TraceWriting<decltype(k)::value>::markdown_backward(w); });
  }

  const std::string lr = format_double(trace.learning_rate);
  out << "### Update\n\n";
  std::string rule = "W \\leftarrow W - " + lr + "\\,\\mathrm{grad}\\,W, \\quad b \\leftarrow b - " + lr +
                     "\\,\\mathrm{grad}\\,b";
  for (const LayerKind kind : kinds_held(spec))
    rule += with_layer_kind(kind, [&](auto k) { return TraceWriting<decltype(k)::value>::update_rule_tex(lr); });
  equation(rule);
  for (int l = last; l >= 1; --l) {
    out << "**Layer " << l << "**\n\n";
    with_layer_kind(step.layers[l - 1].kind, [&](auto k) {
      TraceWriting<decltype(k)::value>::markdown_update(entry_writing(out, step, derived, f, l, batch));
    });
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
  for (const LayerKind kind : kinds_held(spec))
    out << with_layer_kind(kind, [&](auto k) { return TraceWriting<decltype(k)::value>::markdown_note(); });
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
