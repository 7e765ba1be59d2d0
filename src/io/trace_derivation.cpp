// The working of every figure of a trace, in the tutorial's order and notation: each z as its weight x
// activation terms plus the bias, a = f(z) with f named, the loss with its terms, each delta from the loss's
// own formula or from the layer above, each weight gradient as a_prev x delta, each update as
// old - lr x grad. The figures themselves come from the trace (double precision); the working only shows
// them, at the printed precision, so that a learner can redo each line by hand.
#include "trace_derivation.hpp"

#include <string>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "io/activation_forms.hpp"

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
std::string NumberFormat::fixed(double v) const { return format_fixed(v, digits_); }

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

std::string index_suffix(int batch, int row, int unit) {
  return (batch > 1 ? "[" + std::to_string(row) + "]" : std::string()) + "[" + std::to_string(unit) + "]";
}

Formula times(const Formula& left, const Formula& right) {
  return left + lit("(", "\\,(") + right + lit(")");
}

namespace {

Formula join(const std::vector<Formula>& terms, const Formula& separator) {
  Formula out;
  for (std::size_t i = 0; i < terms.size(); ++i) out += (i ? separator : Formula{}) + terms[i];
  return out;
}

std::string tex_operator(const std::string& name) {
  std::string escaped;
  for (char c : name) escaped += c == '_' ? std::string("\\_") : std::string(1, c);
  return "\\operatorname{" + escaped + "}";
}

}  // namespace

Formula function(const std::string& name, const Formula& argument) {
  return lit(name + "(", tex_operator(name) + "(") + argument + lit(")");
}

namespace {


// A figure's name: z3[0] / z_{3}[0]; symbol is the text name, tex_symbol its LaTeX.
Formula figure(const std::string& symbol, const std::string& tex_symbol, int layer, const std::string& suffix) {
  const std::string l = std::to_string(layer);
  return lit(symbol + l + suffix, tex_symbol + "_{" + l + "}" + suffix);
}

Formula delta_name(int layer, const std::string& suffix) { return figure("delta", "\\delta", layer, suffix); }

// Everything derive() needs about one step, in one place.
struct Context {
  const Trace& trace;
  const TraceStep& step;
  const NumberFormat& format;
  Phases phases;
  int batch;

  const TraceLayer& layer(int l) const { return step.layers[l - 1]; }
  // a_(l-1)[row][i]: the input for the first layer.
  double input_of(int l, int row, int i) const {
    const int in = layer(l).in;
    return l == 1 ? trace.input[row * in + i] : layer(l - 1).a[row * in + i];
  }
  double slope(int l) const { return trace.spec.layers[l - 1].slope; }
};

Formula derivative_symbol(const Context& c, int l, const std::string& suffix) {
  const std::string name(to_string(c.layer(l).activation));
  return lit(name + "'(", tex_operator(name) + "'(") + figure("z", "z", l, suffix) + lit(")");
}

void derive_forward(const Context& c, int l, LayerDerivation& out) {
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

Worked derive_loss(const Context& c) {
  const NumberFormat& f = c.format;
  const TraceLayer& output = c.step.layers.back();
  const LossKind loss = c.trace.spec.loss;
  std::vector<Formula> terms;
  for (std::size_t k = 0; k < output.a.size(); ++k) {
    Formula term = loss_term(loss, f, output.a[k], c.trace.target[k]);
    if (!term.empty()) terms.push_back(std::move(term));
  }
  if (terms.empty()) terms.push_back(lit("0"));
  Formula working;
  switch (loss) {
    case LossKind::mse:
      working = lit("(") + join(terms, lit(" + ")) + lit(") / " + std::to_string(2 * c.batch));
      break;
    case LossKind::bce:
    case LossKind::softmax_ce:
      working = lit("-(") + join(terms, lit(" + ")) + lit(")");
      if (c.batch > 1) working += lit(" / " + std::to_string(c.batch));
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
// for a softmax output.
void derive_output_delta(const Context& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const LossKind loss = c.trace.spec.loss;
  const Formula over_batch = c.batch > 1 ? lit(" / " + std::to_string(c.batch)) : Formula{};
  for (int r = 0; r < c.batch; ++r) {
    const double* a = layer.a.data() + r * layer.out;
    const double* y = c.trace.target.data() + r * layer.out;
    double target_sum = 0;
    for (int k = 0; k < layer.out; ++k) target_sum += y[k];
    auto error = [&](int k) { return lit("(") + f.number(a[k]) + lit(" - ") + f.factor(y[k]) + lit(")"); };
    for (int j = 0; j < layer.out; ++j) {
      const std::string suffix = index_suffix(c.batch, r, j);
      const Formula a_minus_y = lit("(") + figure("a", "a", l, suffix) + lit(" - y" + suffix) + lit(")");
      Worked worked{delta_name(l, suffix), a_minus_y + over_batch, {}, layer.delta[r * layer.out + j],
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
        worked.symbolic = figure("a", "a", l, suffix) + lit("((a - y)" + suffix + " - sum_k a_k (a - y)_k)") + over_batch;
        worked.working = {times(f.number(a[j]), error(j) + lit(" - (") + join(weighted, lit(" + ")) + lit(")")) + over_batch};
      } else {
        worked.symbolic = (c.batch > 1 ? lit("(") + a_minus_y + over_batch + lit(")") : a_minus_y) + lit(" ") +
                          derivative_symbol(c, l, suffix);
        const Formula scaled = c.batch > 1 ? lit("(") + error(j) + over_batch + lit(")") : error(j);
        worked.working = {times(scaled, derivative_working(layer.activation, f, layer.z[r * layer.out + j], a[j],
                                                               c.slope(l)))};
      }
      out.delta.push_back(std::move(worked));
    }
  }
}

// A hidden layer's delta: (sum over the next layer's units k of W_(l+1)[i][k] delta_(l+1)[k]) f'(z_l[i]).
void derive_hidden_delta(const Context& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const TraceLayer& next = c.layer(l + 1);
  const std::string nl = std::to_string(l + 1);
  for (int r = 0; r < c.batch; ++r) {
    for (int i = 0; i < layer.out; ++i) {
      const std::string suffix = index_suffix(c.batch, r, i);
      std::vector<Formula> terms;
      for (int k = 0; k < next.out; ++k)
        terms.push_back(times(f.factor(next.weights_before[i * next.out + k]), f.number(next.delta[r * next.out + k])));
      const Formula symbolic = lit("(sum_k W" + nl + "[" + std::to_string(i) + "][k] delta" + nl +
                                       (c.batch > 1 ? "[" + std::to_string(r) + "]" : "") + "[k]) ",
                                   "\\Big(\\sum_k W_{" + nl + "}[" + std::to_string(i) + "][k]\\,\\delta_{" + nl +
                                       "}" + (c.batch > 1 ? "[" + std::to_string(r) + "]" : "") + "[k]\\Big)\\,") +
                               derivative_symbol(c, l, suffix);
      const double z = layer.z[r * layer.out + i], a = layer.a[r * layer.out + i];
      const Formula derivative = derivative_working(layer.activation, f, z, a, c.slope(l));
      out.delta.push_back({delta_name(l, suffix), symbolic, {times(lit("(") + join(terms, lit(" + ")) + lit(")"), derivative)},
                           layer.delta[r * layer.out + i], "u" + std::to_string(l) + "-" + std::to_string(i),
                           c.phases.backward(l)});
    }
  }
}

// grad W_l[i][j] = sum over rows of a_(l-1)[i] delta_l[j] (each delta already carries the batch mean's 1/B);
// grad b_l[j] = sum over rows of delta_l[j].
void derive_gradients(const Context& c, int l, LayerDerivation& out) {
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

// W_l[i][j] new = old - lr grad; the same for b.
void derive_update(const Context& c, int l, LayerDerivation& out) {
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

}  // namespace

std::vector<StepDerivation> derive(const Trace& trace, const NumberFormat& format) {
  std::vector<StepDerivation> steps;
  const int last = static_cast<int>(trace.spec.layers.size());
  for (const TraceStep& step : trace.steps) {
    const Context c{trace, step, format, Phases{last}, trace.batch};
    StepDerivation derived;
    derived.layers.resize(last);
    for (int l = 1; l <= last; ++l) derive_forward(c, l, derived.layers[l - 1]);
    derived.loss = derive_loss(c);
    derive_output_delta(c, last, derived.layers[last - 1]);
    for (int l = last - 1; l >= 1; --l) derive_hidden_delta(c, l, derived.layers[l - 1]);
    for (int l = 1; l <= last; ++l) {
      derive_gradients(c, l, derived.layers[l - 1]);
      derive_update(c, l, derived.layers[l - 1]);
    }
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
