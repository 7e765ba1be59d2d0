// The working of every figure of a trace, in the tutorial's order and notation: the loss with its terms and the
// output's delta from the loss's own formula here; each entry's own figures (a dense layer's z as its weight x
// activation terms plus the bias, a = f(z) with f named, its gradients as a_prev x delta, its update as
// old - lr x grad), the dL/da it passes down and its delta from it by its kind's TraceWriting<K> (trace_text.hpp),
// in the kind's own file. The figures themselves come from the trace (double precision); the working only shows
// them, at the printed precision, so that a learner can redo each line by hand.
#include "trace_derivation.hpp"

#include <charconv>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "io/activation_forms.hpp"
#include "trace_text.hpp"

namespace backprop::io::trace_detail {

Formula& Formula::operator+=(const Formula& other) {
  text += other.text;
  tex += other.tex;
  html += other.html;
  return *this;
}

Formula operator+(Formula left, const Formula& right) { return left += right; }

Formula lit(const std::string& text, const std::string& tex) { return {text, tex, html_escape(text)}; }

// The "C" locale's figures whatever locale an embedding program (Python's locale.setlocale) set.
// A zero is shown unsigned: relu(-0.03) is -0.0 in IEEE arithmetic, and "-0.0000" would read as a small negative.
std::string NumberFormat::fixed(double v) const { return format_fixed(v == 0 ? 0.0 : v, digits_); }

Formula NumberFormat::number(double v) const {
  const std::string shown = fixed(v);
  return {shown, shown, "<span class=\"n\" title=\"" + format_double(v) + "\">" + shown + "</span>"};
}

Formula NumberFormat::factor(double v) const {
  return v < 0 ? lit("(") + number(v) + lit(")") : number(v);
}

Formula NumberFormat::list(const double* v, int n) const {
  Formula out = lit("[");
  for (int i = 0; i < n; ++i) out += (i ? lit(", ") : Formula{}) + number(v[i]);
  return out + lit("]");
}

Formula NumberFormat::block(const std::vector<double>& v, int rows, int cols) const {
  if (rows == 1) return list(v.data(), cols);
  Formula out = lit("[");
  for (int r = 0; r < rows; ++r) out += (r ? lit(", ") : Formula{}) + list(v.data() + r * cols, cols);
  return out + lit("]");
}

std::string exact_decimal(double v) {
  char buffer[400];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, v, std::chars_format::fixed);
  return error == std::errc() ? std::string(buffer, end) : format_double(v);
}

std::string index_suffix(int batch, int row, int unit) {
  return (batch > 1 ? "[" + std::to_string(row) + "]" : std::string()) + "[" + std::to_string(unit) + "]";
}

Formula times(const Formula& left, const Formula& right) {
  return left + lit("(", "\\,(") + right + lit(")");
}

namespace {

std::string tex_operator(const std::string& name) {
  std::string escaped;
  for (char c : name) escaped += c == '_' ? std::string("\\_") : std::string(1, c);
  return "\\operatorname{" + escaped + "}";
}

}  // namespace

Formula function(const std::string& name, const Formula& argument) {
  return lit(name + "(", tex_operator(name) + "(") + argument + lit(")");
}


Formula join(const std::vector<Formula>& terms, const Formula& separator) {
  Formula out;
  for (std::size_t i = 0; i < terms.size(); ++i) out += (i ? separator : Formula{}) + terms[i];
  return out;
}

Formula figure(const std::string& symbol, const std::string& tex_symbol, int layer, const std::string& suffix) {
  const std::string l = std::to_string(layer);
  return lit(symbol + l + suffix, tex_symbol + "_{" + l + "}" + suffix);
}

Formula delta_name(int layer, const std::string& suffix) { return figure("delta", "\\delta", layer, suffix); }

Formula derivative_symbol(const StepContext& c, int l, const std::string& suffix) {
  const std::string name(to_string(c.layer(l).activation));
  return lit(name + "'(", tex_operator(name) + "'(") + figure("z", "z", l, suffix) + lit(")");
}

namespace {

// L = -(1/B) sum y ln a + (1 - y) ln(1 - a) (bce), -(1/B) sum y ln p (softmax_ce), (1/(2B)) sum (a - y)^2 (mse);
// terms whose target makes them vanish (y = 0 or 1) are left out, as the tutorial writes -ln(a3).
// One output's term of the loss's sum; empty where the target makes it vanish.
Formula loss_term(LossKind loss, const NumberFormat& f, double a, double y) {
  const Formula ln_a = function("ln", f.number(a));
  const Formula ln_1_a = function("ln", lit("1 - ") + f.number(a));
  switch (loss) {
    case LossKind::mse: return lit("(") + f.number(a) + lit(" - ") + f.factor(y) + lit(")^2", ")^{2}");
    case LossKind::bce:
      if (y == 1) return ln_a;
      if (y == 0) return ln_1_a;
      return f.number(y) + lit(" ") + ln_a + lit(" + (1 - ") + f.number(y) + lit(") ") + ln_1_a;
    case LossKind::softmax_ce:
      if (y == 1) return ln_a;
      if (y == 0) return {};
      return f.number(y) + lit(" ") + ln_a;
  }
  throw_runtime_error("trace: a loss without its terms");
}

// The terms of the loss's sum, each output's (loss_term); with row weights each row's own terms in
// parentheses after its weight, as w(t + t): sum_r w_r l_r.
std::vector<Formula> loss_terms(const StepContext& c) {
  const NumberFormat& f = c.format;
  const TraceLayer& output = c.step.layers.back();
  const LossKind loss = c.trace.spec.loss;
  const bool weighted = !c.trace.weights.empty();
  std::vector<Formula> terms;
  for (int r = 0; r < c.batch; ++r) {
    std::vector<Formula> row;
    for (int k = r * output.out; k < (r + 1) * output.out; ++k) {
      Formula term = loss_term(loss, f, output.a[k], c.trace.target[k]);
      if (!term.empty()) row.push_back(std::move(term));
    }
    if (!weighted) {
      for (Formula& term : row) terms.push_back(std::move(term));
    } else {
      if (row.empty()) row.push_back(lit("0"));
      terms.push_back(times(f.number(c.trace.weights[r]), join(row, lit(" + "))));
    }
  }
  if (terms.empty()) terms.push_back(lit("0"));
  return terms;
}

Worked derive_loss(const StepContext& c) {
  const NumberFormat& f = c.format;
  const LossKind loss = c.trace.spec.loss;
  const std::vector<Formula> terms = loss_terms(c);
  // The mean's denominator: the rows, or softmax_ce's weighted mean's, the weights' sum (nn/loss.hpp).
  const bool by_weights = !c.trace.weights.empty() && loss == LossKind::softmax_ce;
  Formula working;
  switch (loss) {
    case LossKind::mse:
      working = lit("(") + join(terms, lit(" + ")) + lit(") / " + std::to_string(2 * c.batch));
      break;
    case LossKind::bce:
    case LossKind::softmax_ce:
      working = lit("-(") + join(terms, lit(" + ")) + lit(")");
      if (by_weights)
        working += lit(" / ") + f.number(c.trace.weight_denominator);
      else if (c.batch > 1)
        working += lit(" / " + std::to_string(c.batch));
      break;
  }
  return {lit("L"), {}, {working}, c.step.loss, "loss", c.phases.loss()};
}

}  // namespace

bool delta_carries_derivative(LossKind loss) {
  switch (loss) {
    case LossKind::mse: return true;
    case LossKind::bce:         // with its sigmoid output
    case LossKind::softmax_ce:  // with its softmax output
      return false;
  }
  throw_runtime_error("trace: a loss without its output delta");
}

namespace {

// The output layer's delta from the loss's own formula: bce: (a - y)/B; softmax_ce: (p - y)/B (p times the
// row's target sum, which is 1 for a one-hot target); mse: (a - y)/B f'(z), through the softmax's Jacobian
// for a softmax output. With row weights, row r's 1/B is w_r / D (Trace::weight_denominator).
void derive_output_delta(const StepContext& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const LossKind loss = c.trace.spec.loss;
  const bool weighted = !c.trace.weights.empty();
  for (int r = 0; r < c.batch; ++r) {
    const std::string row = c.batch > 1 ? "[" + std::to_string(r) + "]" : "";
    const Formula over_batch =
        weighted ? lit(" * ", " \\cdot ") + f.number(c.trace.weights[r]) + lit(" / ") + f.number(c.trace.weight_denominator)
        : c.batch > 1 ? lit(" / " + std::to_string(c.batch))
                      : Formula{};
    const Formula over_symbol = weighted ? lit(" * w" + row + " / D", " \\cdot w" + row + " / D") : over_batch;
    const double* a = layer.a.data() + r * layer.out;
    const double* y = c.trace.target.data() + r * layer.out;
    double target_sum = 0;
    for (int k = 0; k < layer.out; ++k) target_sum += y[k];
    auto error = [&](int k) { return lit("(") + f.number(a[k]) + lit(" - ") + f.factor(y[k]) + lit(")"); };
    for (int j = 0; j < layer.out; ++j) {
      const std::string suffix = index_suffix(c.batch, r, j);
      const Formula a_minus_y = lit("(") + figure("a", "a", l, suffix) + lit(" - y" + suffix) + lit(")");
      Worked worked{delta_name(l, suffix), a_minus_y + over_symbol, {}, layer.delta[r * layer.out + j],
                    "u" + std::to_string(l) + "-" + std::to_string(j), c.phases.backward(l)};
      if (loss == LossKind::softmax_ce && target_sum != 1.0) {
        worked.working = {lit("(") + times(f.number(a[j]), f.number(target_sum)) + lit(" - ") + f.factor(y[j]) +
                          lit(")") + over_batch};
      } else if (!delta_carries_derivative(loss)) {
        worked.working = {error(j) + over_batch};
      } else if (layer.activation == Activation::softmax) {
        // dL/dz_j = a_j (g_j - sum_k a_k g_k) with g = (a - y)/B: the 1/B is taken out to the end.
        std::vector<Formula> weighted;
        for (int k = 0; k < layer.out; ++k) weighted.push_back(times(f.number(a[k]), f.number(a[k]) + lit(" - ") + f.factor(y[k])));
        worked.symbolic = figure("a", "a", l, suffix) + lit("((a - y)" + suffix + " - sum_k a_k (a - y)_k)") + over_symbol;
        worked.working = {times(f.number(a[j]), error(j) + lit(" - (") + join(weighted, lit(" + ")) + lit(")")) + over_batch};
      } else {
        const bool scaled_row = c.batch > 1 || weighted;
        worked.symbolic = (scaled_row ? lit("(") + a_minus_y + over_symbol + lit(")") : a_minus_y) + lit(" ") +
                          derivative_symbol(c, l, suffix);
        const Formula scaled = scaled_row ? lit("(") + error(j) + over_batch + lit(")") : error(j);
        worked.working = {times(scaled, derivative_working(layer.activation, f, layer.z[r * layer.out + j], a[j],
                                                               c.slope(l)))};
      }
      out.delta.push_back(std::move(worked));
    }
  }
}

// A hidden entry's delta: dL/da from the entry above as that entry's kind passes it down (derive_upstream), made
// this entry's delta as its own kind takes it (derive_delta: a dense layer times f'(z), a kind without an
// activation as it is).
void derive_hidden_delta(const StepContext& c, int l, LayerDerivation& out) {
  const TraceLayer& layer = c.layer(l);
  for (int r = 0; r < c.batch; ++r) {
    for (int i = 0; i < layer.out; ++i) {
      const Upstream upstream = with_layer_kind(c.layer(l + 1).kind, [&](auto k) {
        return TraceWriting<decltype(k)::value>::derive_upstream(c, l + 1, r, i);
      });
      Worked worked{delta_name(l, index_suffix(c.batch, r, i)), upstream.symbolic, {}, layer.delta[r * layer.out + i],
                    "u" + std::to_string(l) + "-" + std::to_string(i), c.phases.backward(l)};
      with_layer_kind(layer.kind, [&](auto k) {
        TraceWriting<decltype(k)::value>::derive_delta(c, l, r, i, upstream.working, worked);
      });
      out.delta.push_back(std::move(worked));
    }
  }
}

}  // namespace

std::vector<StepDerivation> derive(const Trace& trace, const NumberFormat& format) {
  std::vector<StepDerivation> steps;
  const int last = static_cast<int>(trace.spec.layers.size());
  for (const TraceStep& step : trace.steps) {
    const StepContext c{trace, step, format, Phases{last}, trace.batch};
    StepDerivation derived;
    derived.layers.resize(last);
    for (int l = 1; l <= last; ++l)
      with_layer_kind(c.layer(l).kind, [&](auto k) {
        TraceWriting<decltype(k)::value>::derive_forward(c, l, derived.layers[l - 1]);
      });
    derived.loss = derive_loss(c);
    derive_output_delta(c, last, derived.layers[last - 1]);  // the last entry is dense (validate)
    for (int l = last - 1; l >= 1; --l) derive_hidden_delta(c, l, derived.layers[l - 1]);
    for (int l = 1; l <= last; ++l)
      with_layer_kind(c.layer(l).kind, [&](auto k) {
        TraceWriting<decltype(k)::value>::derive_gradients(c, l, derived.layers[l - 1]);
        TraceWriting<decltype(k)::value>::derive_update(c, l, derived.layers[l - 1]);
      });
    steps.push_back(std::move(derived));
  }
  return steps;
}


namespace {

std::string worked_line(const Worked& worked, std::string Formula::*notation, const std::string& value) {
  std::string line = worked.name.*notation;
  if (!worked.symbolic.empty()) line += " = " + worked.symbolic.*notation;
  for (const Formula& w : worked.working) line += " = " + w.*notation;
  return line + " = " + value;
}

}  // namespace

std::string worked_text(const Worked& worked, const NumberFormat& format) {
  return worked_line(worked, &Formula::text, format.fixed(worked.value));
}

std::string worked_tex(const Worked& worked, const NumberFormat& format) {
  return worked_line(worked, &Formula::tex, format.fixed(worked.value));
}

std::string worked_html(const Worked& worked, const NumberFormat& format) {
  return worked_line(worked, &Formula::html, format.number(worked.value).html);
}

}  // namespace backprop::io::trace_detail
