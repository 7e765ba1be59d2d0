// The working of every figure of a trace, in the tutorial's order and notation: each z as its weight x
// activation terms plus the bias, a = f(z) with f named, the loss with its terms, each delta from the loss's
// own formula or from the layer above, each weight gradient as a_prev x delta, each update as
// old - lr x grad. The figures themselves come from the trace (double precision); the working only shows
// them, at the printed precision, so that a learner can redo each line by hand.
#include "trace_derivation.hpp"

#include <algorithm>
#include <charconv>
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

// The terms of the loss's sum, each output's (loss_term); with row weights each row's own terms in
// parentheses after its weight, as w(t + t): sum_r w_r l_r.
std::vector<Formula> loss_terms(const Context& c) {
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

Worked derive_loss(const Context& c) {
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
void derive_output_delta(const Context& c, int l, LayerDerivation& out) {
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

// A hidden entry's delta from the entry above: a dense layer above gives (sum over its units k of
// W_(l+1)[i][k] delta_(l+1)[k]), a batch_norm above its dL/dx; a dense layer's delta is that times f'(z_l[i]),
// a batch_norm's (dL/dy: it has no activation) that alone.
void derive_hidden_delta(const Context& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const TraceLayer& next = c.layer(l + 1);
  const std::string nl = std::to_string(l + 1);
  for (int r = 0; r < c.batch; ++r) {
    for (int i = 0; i < layer.out; ++i) {
      const std::string suffix = index_suffix(c.batch, r, i);
      const std::string row = c.batch > 1 ? "[" + std::to_string(r) + "]" : "";
      Formula upstream, symbolic;  // the working and the name of dL/da_l[r][i]
      switch (next.kind) {
        case LayerKind::embedding:  // an embedding above (embeddings come first): its dL/dx
          upstream = f.factor(next.embedding.grad_input[r * next.in + i]);
          symbolic = figure("grad x", "\\mathrm{grad}\\,x", l + 1, suffix);
          break;
        case LayerKind::dense: {
          std::vector<Formula> terms;
          for (int k = 0; k < next.out; ++k)
            terms.push_back(times(f.factor(next.weights_before[i * next.out + k]), f.number(next.delta[r * next.out + k])));
          upstream = lit("(") + join(terms, lit(" + ")) + lit(")");
          symbolic = lit("(sum_k W" + nl + "[" + std::to_string(i) + "][k] delta" + nl + row + "[k])",
                         "\\Big(\\sum_k W_{" + nl + "}[" + std::to_string(i) + "][k]\\,\\delta_{" + nl + "}" + row +
                             "[k]\\Big)");
          break;
        }
        case LayerKind::batch_norm:
          upstream = f.factor(next.batch_norm.grad_input[r * next.out + i]);
          symbolic = figure("grad x", "\\mathrm{grad}\\,x", l + 1, suffix);
          break;
      }
      Worked worked{delta_name(l, suffix), symbolic, {}, layer.delta[r * layer.out + i],
                    "u" + std::to_string(l) + "-" + std::to_string(i), c.phases.backward(l)};
      switch (layer.kind) {
        case LayerKind::embedding:  // dL/dy, as a batch_norm's: no activation
          worked.working = {upstream};
          break;
        case LayerKind::dense: {
          const double z = layer.z[r * layer.out + i], a = layer.a[r * layer.out + i];
          worked.symbolic += lit(" ", "\\,") + derivative_symbol(c, l, suffix);
          worked.working = {times(upstream, derivative_working(layer.activation, f, z, a, c.slope(l)))};
          break;
        }
        case LayerKind::batch_norm:
          worked.working = {upstream};
          break;
      }
      out.delta.push_back(std::move(worked));
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

// ---- A batch_norm entry (nn/batch_norm.hpp): x is its input a_(l-1), F its width, B the rows ----

// A per-feature figure's name, "mean2[1]"; the element and phase it belongs to.
Worked feature_figure(const std::string& symbol, const std::string& tex, int l, int j, Formula symbolic,
                      Formula working, double value, int phase) {
  const std::string at = "[" + std::to_string(j) + "]";
  return {lit(symbol + std::to_string(l) + at, tex + "_{" + std::to_string(l) + "}" + at), std::move(symbolic),
          {std::move(working)}, value, "u" + std::to_string(l) + "-" + std::to_string(j), phase};
}

// mean[j] = (sum_r x[r][j]) / B, var[j] = (sum_r (x[r][j] - mean[j])^2) / B, s[j] = 1 / sqrt(var[j] + eps),
// xhat[r][j] = (x[r][j] - mean[j]) s[j], y = a[r][j] = scale[j] xhat[r][j] + shift[j]; then the running
// statistics, (1 - momentum) old + momentum new, the variance's new one unbiased (times B / (B - 1)).
void derive_batch_norm_forward(const Context& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const TraceBatchNorm& bn = layer.batch_norm;
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
    out.mean.push_back(feature_figure("mean", "\\mu", l, j,
                                      lit("(sum_r a" + prev + "[r]" + at + ") / " + B,
                                          "\\frac{1}{" + B + "}\\sum_r a_{" + prev + "}[r]" + at),
                                      lit("(") + join(sum, lit(" + ")) + lit(") / " + B), mean, phase));
    out.variance.push_back(feature_figure(
        "var", "\\sigma^2", l, j,
        lit("(sum_r (a" + prev + "[r]" + at + " - mean" + L + at + ")^2) / " + B,
            "\\frac{1}{" + B + "}\\sum_r (a_{" + prev + "}[r]" + at + " - \\mu_{" + L + "}" + at + ")^{2}"),
        lit("(") + join(squares, lit(" + ")) + lit(") / " + B), variance, phase));
    out.inv_std.push_back(feature_figure(
        "s", "s", l, j, lit("1 / sqrt(var" + L + at + " + eps)", "1 / \\sqrt{\\sigma^2_{" + L + "}" + at + " + \\epsilon}"),
        lit("1 / sqrt(", "1 / \\sqrt{") + f.number(variance) + lit(" + " + exact_decimal(bn.eps) + ")", " + " + exact_decimal(bn.eps) + "}"),
        s, phase));
  }
  for (int r = 0; r < c.batch; ++r) {
    for (int j = 0; j < layer.out; ++j) {
      const std::string suffix = index_suffix(c.batch, r, j), at = "[" + std::to_string(j) + "]";
      const std::string element = "u" + L + "-" + std::to_string(j);
      const double xhat = bn.xhat[r * layer.out + j];
      out.xhat.push_back({figure("xhat", "\\hat{x}", l, suffix),
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
    out.running_mean.push_back(feature_figure(
        "running_mean", "\\mathrm{running\\_mean}", l, j,
        keep + lit(" running_mean" + L + at + " + ", "\\,\\mathrm{running\\_mean}_{" + L + "}" + at + " + ") + momentum +
            lit(" mean" + L + at, "\\,\\mu_{" + L + "}" + at),
        times(keep, f.number(bn.running_mean_before[j])) + lit(" + ") + times(momentum, f.number(bn.mean[j])),
        bn.running_mean[j], phase));
    out.running_var.push_back(feature_figure(
        "running_var", "\\mathrm{running\\_var}", l, j,
        keep + lit(" running_var" + L + at + " + ", "\\,\\mathrm{running\\_var}_{" + L + "}" + at + " + ") + momentum +
            lit(" var" + L + at + " ", "\\,\\sigma^2_{" + L + "}" + at) + unbiased,
        times(keep, f.number(bn.running_var_before[j])) + lit(" + ") + times(momentum, f.number(bn.variance[j])) + unbiased,
        bn.running_var[j], phase));
  }
}

// grad scale[j] = sum_r delta[r][j] xhat[r][j], grad shift[j] = sum_r delta[r][j] (delta = dL/dy), and, unless
// the entry is the first, grad x[r][j] = scale[j] s[j] / B (B delta[r][j] - grad shift[j] - xhat[r][j] grad scale[j]).
void derive_batch_norm_gradients(const Context& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const TraceBatchNorm& bn = layer.batch_norm;
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
      out.grad_input.push_back(
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

// scale[j] new = old - lr grad scale[j]; the same for shift (plain SGD, as every parameter).
void derive_batch_norm_update(const Context& c, int l, LayerDerivation& out) {
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


// ---- An embedding entry (nn/embedding.hpp): x is its input a_(l-1), K its column, D its values per code ----

// Where input i of an embedding goes in its output: the D values of the code at K, the others in order.
int embedding_output_of(const TraceEmbedding& e, int i) { return i <= e.column ? i : i + e.dim - 1; }

// a[r][j] = x[r][j] before the code's place, W[code r][j - K] on it, x[r][j - D + 1] after it: the row of the
// table the code picks, value by value, from the table as it stood during the step.
void derive_embedding_forward(const Context& c, int l, LayerDerivation& out) {
  const NumberFormat& f = c.format;
  const TraceLayer& layer = c.layer(l);
  const TraceEmbedding& e = layer.embedding;
  const std::string L = std::to_string(l), prev = std::to_string(l - 1);
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
void derive_embedding_gradients(const Context& c, int l, LayerDerivation& out) {
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
      out.grad_input.push_back(std::move(worked));
    }
  }
}

// W[c][d] new = old - lr grad for the codes in the batch; the other rows' gradient is 0, so they stay as they are.
void derive_embedding_update(const Context& c, int l, LayerDerivation& out) {
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

}  // namespace

std::vector<int> embedding_codes_in_batch(const TraceEmbedding& embedding) {
  std::vector<int> codes = embedding.codes;
  std::sort(codes.begin(), codes.end());
  codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
  return codes;
}

std::vector<StepDerivation> derive(const Trace& trace, const NumberFormat& format) {
  std::vector<StepDerivation> steps;
  const int last = static_cast<int>(trace.spec.layers.size());
  for (const TraceStep& step : trace.steps) {
    const Context c{trace, step, format, Phases{last}, trace.batch};
    StepDerivation derived;
    derived.layers.resize(last);
    for (int l = 1; l <= last; ++l) {
      switch (c.layer(l).kind) {
        case LayerKind::embedding: derive_embedding_forward(c, l, derived.layers[l - 1]); break;
        case LayerKind::dense: derive_forward(c, l, derived.layers[l - 1]); break;
        case LayerKind::batch_norm: derive_batch_norm_forward(c, l, derived.layers[l - 1]); break;
      }
    }
    derived.loss = derive_loss(c);
    derive_output_delta(c, last, derived.layers[last - 1]);  // the last entry is dense (validate)
    for (int l = last - 1; l >= 1; --l) derive_hidden_delta(c, l, derived.layers[l - 1]);
    for (int l = 1; l <= last; ++l) {
      switch (c.layer(l).kind) {
        case LayerKind::embedding:
          derive_embedding_gradients(c, l, derived.layers[l - 1]);
          derive_embedding_update(c, l, derived.layers[l - 1]);
          break;
        case LayerKind::dense:
          derive_gradients(c, l, derived.layers[l - 1]);
          derive_update(c, l, derived.layers[l - 1]);
          break;
        case LayerKind::batch_norm:
          derive_batch_norm_gradients(c, l, derived.layers[l - 1]);
          derive_batch_norm_update(c, l, derived.layers[l - 1]);
          break;
      }
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
