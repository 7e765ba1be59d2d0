// A dense entry in the C export (io/c_layer.hpp): its weights, bias and, for int8, scales as static arrays,
// and its loop in NAME_predict.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "backprop/base/error.hpp"
#include "io/activation_forms.hpp"
#include "io/c_layer.hpp"

namespace backprop::io::detail {
namespace {

// The largest |w| of each output unit over its inputs, so that w / scale lies in [-127, 127].
std::vector<double> unit_scales(const LayerSpec& layer, std::size_t in) {
  const auto out = static_cast<std::size_t>(layer.units);
  std::vector<double> scales(out, 0.0);
  for (std::size_t i = 0; i < in; ++i)
    for (std::size_t o = 0; o < out; ++o) scales[o] = std::max(scales[o], std::abs(layer.weights[i * out + o]));
  for (double& scale : scales) scale = scale > 0 ? scale / 127.0 : 1.0;
  return scales;
}

}  // namespace

// Written as it is.
std::optional<CModel> CLayer<LayerKind::dense>::rewritten(const ModelFile&, const CExportOptions&) {
  return std::nullopt;
}

void CLayer<LayerKind::dense>::check(const NetworkSpec& spec, std::size_t l) {
  const auto in = static_cast<std::size_t>(spec.layer_input(l));
  const auto out = static_cast<std::size_t>(spec.layers[l].units);
  if (spec.layers[l].weights.size() != in * out || spec.layers[l].bias.size() != out)
    throw_bad_input("C export: layers[" + std::to_string(l) + "]: expected " + std::to_string(in) + " x " +
                    std::to_string(out) + " weights and " + std::to_string(out) + " biases");
}

std::string CLayer<LayerKind::dense>::name(const LayerSpec& layer) { return std::string(to_string(layer.activation)); }

// The static arrays of layer k (from 1): the weights, bias, and for int8 the scales. Float weights are the
// model's IN x OUT, as the tutorial writes W: the loop adds x[i] times row i to every unit at once, a loop
// without a chain from one step to the next, which the compiler vectorizes (a dot product per unit in float
// is one chain of dependent additions, which the compiler cannot vectorize without reordering the sum). int8 weights are OUT x IN, one row
// per unit with its scale: an int32 dot product has no such chain.
std::string CLayer<LayerKind::dense>::arrays(const ModelFile& model, std::size_t l, const CExportOptions& options) {
  const LayerSpec& layer = model.network.layers[l];
  const auto in = static_cast<std::size_t>(model.network.layer_input(l));
  const auto out = static_cast<std::size_t>(layer.units);
  const std::string k = std::to_string(l + 1), n = options.name;
  const std::string dims = "[" + std::to_string(out) + "][" + std::to_string(in) + "]";
  std::string text = "\n/* Layer " + k + ": " + std::to_string(in) + " -> " + std::to_string(out) + ", " +
                     name(layer) + ". w" + k + (options.int8 ? "[o][i]" : "[i][o]") +
                     " weighs input i into unit o. */\n";
  if (!options.int8) {
    text += "static const float " + n + "_w" + k + "[" + std::to_string(in) + "][" + std::to_string(out) + "] = {";
    for (std::size_t i = 0; i < in; ++i)
      text += std::string(i ? "," : "") + "\n  {" +
              number_rows(out, [&](std::size_t o) { return float_literal(layer.weights[i * out + o]); }, false) + "}";
    text += "};\n";
  } else {
    const std::vector<double> scales = unit_scales(layer, in);
    const double range = options.input_ranges[l] > 0 ? options.input_ranges[l] : 1.0;
    text += "static const int8_t " + n + "_w" + k + dims + " = {";
    for (std::size_t o = 0; o < out; ++o)
      text += std::string(o ? "," : "") + "\n  {" + number_rows(in, [&](std::size_t i) {
                return std::to_string(static_cast<int>(std::lround(layer.weights[i * out + o] / scales[o])));
              }, false) + "}";
    text += "};\n";
    text += "/* The input's quantization: q = round(x * " + n + "_q" + k + "), 127 / the largest |x| on the "
            "calibration rows (" + double_literal(range) + ", the 99.99th percentile of |x|). */\n";
    text += "static const float " + n + "_q" + k + " = " + float_literal(127.0 / range) + ";\n";
    text += "/* z[o] = b[o] + " + n + "_s" + k + "[o] * sum_i w[o][i] q[i]: the input's scale times unit o's. */\n";
    text += "static const float " + n + "_s" + k + "[" + std::to_string(out) + "] = {" +
            number_rows(out, [&](std::size_t o) { return float_literal(range / 127.0 * scales[o]); }) + "};\n";
  }
  text += "static const float " + n + "_b" + k + "[" + std::to_string(out) + "] = {" +
          number_rows(out, [&](std::size_t o) { return float_literal(layer.bias[o]); }) + "};\n";
  return text;
}

std::string CLayer<LayerKind::dense>::code(const ModelFile& model, std::size_t l, const CShape&,
                                           const CExportOptions& options, const std::string& in,
                                           const std::string& out, const std::string& quantized) {
  const LayerSpec& layer = model.network.layers[l];
  const std::string k = std::to_string(l + 1), n = options.name;
  const std::string ins = std::to_string(model.network.layer_input(l)), outs = std::to_string(layer.units);
  std::string text = "\n  /* Layer " + k + ": " + ins + " -> " + outs + ", " + name(layer) + " */\n";
  if (options.int8) {
    text += "  for (i = 0; i < " + ins + "; ++i) {\n    float v = " + in + "[i] * " + n + "_q" + k + ";\n";
    text += "    v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);\n";
    text += "    " + quantized + "[i] = (int8_t)(v < 0.0f ? v - 0.5f : v + 0.5f);\n  }\n";
  }
  if (options.int8) {
    text += "  for (o = 0; o < " + outs + "; ++o) {\n";
    text += "    int32_t sum = 0;\n    float z;\n";
    text += "    for (i = 0; i < " + ins + "; ++i) sum += (int32_t)" + n + "_w" + k + "[o][i] * " + quantized + "[i];\n";
    text += "    z = " + n + "_b" + k + "[o] + " + n + "_s" + k + "[o] * (float)sum;\n";
  } else {
    text += "  /* z = b + the sum over inputs i of x[i] times row i of w */\n";
    text += "  for (o = 0; o < " + outs + "; ++o) " + out + "[o] = " + n + "_b" + k + "[o];\n";
    text += "  for (i = 0; i < " + ins + "; ++i) {\n    const float x = " + in + "[i];\n";
    text += "    for (o = 0; o < " + outs + "; ++o) " + out + "[o] += " + n + "_w" + k + "[i][o] * x;\n  }\n";
    text += "  for (o = 0; o < " + outs + "; ++o) {\n    const float z = " + out + "[o];\n";
  }
  text += "    " + c_activation_statement(layer, out + "[o]", float_literal) + "\n  }\n";
  if (layer.activation == Activation::softmax) {
    text += "  {  /* softmax: e^(z - max) / sum, the row's largest z subtracted first so that no e^z overflows */\n";
    text += "    float max = " + out + "[0], sum = 0.0f;\n";
    text += "    for (o = 1; o < " + outs + "; ++o) if (" + out + "[o] > max) max = " + out + "[o];\n";
    text += "    for (o = 0; o < " + outs + "; ++o) { " + out + "[o] = expf(" + out + "[o] - max); sum += " + out + "[o]; }\n";
    text += "    for (o = 0; o < " + outs + "; ++o) " + out + "[o] /= sum;\n  }\n";
  }
  return text;
}

}  // namespace backprop::io::detail
