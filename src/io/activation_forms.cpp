// The forms of each activation (activation_forms.hpp): what `trace --expand`, `export --format onnx` and
// `export --format c` write for it. Each agrees with the activation's formula in kernels/math.hpp: the trace's
// working is checked against the traced figures (tests/test_trace_render.cpp), the exports against
// `backprop predict` (tests/python/test_onnx_export.py, test_c_export.py).
#include "io/activation_forms.hpp"

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"

namespace backprop::io {

std::vector<OnnxActivationNode> onnx_activation_nodes(const LayerSpec& layer) {
  switch (layer.activation) {
    case Activation::identity: return {};
    case Activation::sigmoid: return {{"Sigmoid", "sigmoid", {"z"}}};
    case Activation::tanh: return {{"Tanh", "tanh", {"z"}}};
    case Activation::relu: return {{"Relu", "relu", {"z"}}};
    case Activation::leaky_relu: return {{"LeakyRelu", "leaky_relu", {"z"}, "alpha", layer.slope}};
    case Activation::softmax: return {{"Softmax", "softmax", {"z"}, "", 0.0, "axis", 1}};
    case Activation::silu: return {{"Sigmoid", "silu_sigmoid", {"z"}}, {"Mul", "silu_mul", {"z", "#0"}}};
  }
  throw_runtime_error("ONNX export: an activation without its nodes");
}

std::string c_activation_statement(const LayerSpec& layer, const std::string& target,
                                   std::string (*float_literal)(double)) {
  switch (layer.activation) {
    case Activation::identity: return target + " = z;";
    case Activation::sigmoid: return target + " = 1.0f / (1.0f + expf(-z));";
    case Activation::tanh: return target + " = tanhf(z);";
    case Activation::relu: return target + " = z > 0.0f ? z : 0.0f;";
    case Activation::leaky_relu: return target + " = z > 0.0f ? z : " + float_literal(layer.slope) + " * z;";
    case Activation::softmax: return target + " = z; /* softmax over the row below */";
    case Activation::silu: return target + " = z * (1.0f / (1.0f + expf(-z)));";
  }
  throw_runtime_error("C export: an activation without its statement");
}

namespace trace_detail {

std::vector<Formula> activation_working(Activation f, const NumberFormat& format, double z, double slope,
                                        const double* row_z, int cols) {
  switch (f) {
    case Activation::identity: return {format.number(z)};
    case Activation::sigmoid:
      return {function("sigmoid", format.number(z)),
              lit("1 / (1 + exp(-", "\\frac{1}{1 + e^{-") + format.factor(z) + lit("))", "}}")};
    case Activation::tanh: return {function("tanh", format.number(z))};
    case Activation::relu: return {function("max", lit("0, ") + format.number(z))};
    case Activation::leaky_relu: return {z > 0 ? format.number(z) : times(lit(format_double(slope)), format.number(z))};
    case Activation::softmax: {
      Formula sum;
      for (int k = 0; k < cols; ++k) sum += (k ? lit(" + ") : Formula{}) + function("exp", format.number(row_z[k]));
      return {function("exp", format.number(z)) + lit(" / (") + sum + lit(")")};
    }
    case Activation::silu:
      return {times(format.number(z), function("sigmoid", format.number(z))),
              format.number(z) + lit(" / (1 + exp(-", " / (1 + e^{-") + format.factor(z) + lit("))", "})")};
  }
  throw_runtime_error("trace: an activation without its working");
}

Formula derivative_working(Activation f, const NumberFormat& format, double z, double a, double slope) {
  switch (f) {
    case Activation::identity: return lit("1");
    case Activation::sigmoid: return times(format.number(a), lit("1 - ") + format.number(a));
    case Activation::tanh: return lit("(1 - ") + format.factor(a) + lit("^2)", "^{2})");
    case Activation::relu: return lit(z > 0 ? "1" : "0");
    case Activation::leaky_relu: return lit(z > 0 ? "1" : format_double(slope));
    case Activation::softmax: break;  // a softmax layer is the output: its Jacobian is worked with the loss
    case Activation::silu: {
      // s (1 + z (1 - s)), s = sigmoid(z)
      const Formula s = function("sigmoid", format.number(z));
      return times(s, lit("1 + ") + times(format.factor(z), lit("1 - ") + s));
    }
  }
  throw_runtime_error("trace: f'(z) of " + std::string(to_string(f)) + " is not worked on its own");
}

}  // namespace trace_detail
}  // namespace backprop::io
