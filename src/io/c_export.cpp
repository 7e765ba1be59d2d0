// C export (include/backprop/io/c_export.hpp): the model's forward pass written as plain C99.
#include "backprop/io/c_export.hpp"

#include "backprop/nn/batch_norm.hpp"
#include "backprop/nn/embedding.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "backprop/base/error.hpp"
#include "io/activation_forms.hpp"
#include "io/binary.hpp"
#include "backprop/base/text.hpp"
#include "backprop/base/read_file.hpp"
#include "backprop/io/write_file.hpp"

namespace backprop::io {
namespace {

// C99 and C++ keywords: a prefix that is one would still make valid names (NAME_predict), but a reader
// would stumble, and `int` or `class` as a model name says a mistake.
constexpr std::array<std::string_view, 47> kKeywords = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
    "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed",
    "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while",
    "bool", "class", "delete", "new", "namespace", "private", "public", "template", "this", "throw", "try",
    "using", "virtual"};

// A float literal that reads back as the same float32 (to_chars' shortest form, with an 'f' suffix).
std::string float_literal(double value) {
  std::string text = format_float(static_cast<float>(value));
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text + "f";
}

std::string double_literal(double value) {
  std::string text = format_double(value);
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

// A C string literal: printable ASCII kept, quotes and backslashes escaped, every other byte in octal (so
// a UTF-8 name survives as its bytes, and no byte can end the comment or the literal early).
std::string string_literal(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f && c != '?') {  // '?': no trigraphs in C99
      out += static_cast<char>(c);
    } else {
      char octal[5];
      std::snprintf(octal, sizeof octal, "\\%03o", c);
      out += octal;
    }
  }
  return out + "\"";
}

// Text for a comment: bytes that could end it or break a line become '?'.
std::string comment_text(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  for (std::size_t at; (at = out.find("*/")) != std::string::npos;) out[at] = '?';
  return out;
}

std::string names_array(const std::string& declaration, const std::vector<std::string>& names) {
  std::string out = declaration + " = {";
  for (std::size_t i = 0; i < names.size(); ++i) out += (i % 8 ? ", " : "\n    ") + string_literal(names[i]);
  return out + "};\n";
}

// The feature, class and target names the file carries: the model's, or 0, 1, ... as predict names them.
std::vector<std::string> names_or_numbers(const std::vector<std::string>& names, int count) {
  if (static_cast<int>(names.size()) == count) return names;
  std::vector<std::string> numbers;
  for (int i = 0; i < count; ++i) numbers.push_back(std::to_string(i));
  return numbers;
}

struct Shape {
  int inputs = 0, outputs = 0, classes = 0, widest = 1, scratch = 1;
  bool one_sigmoid_class = false;  // one sigmoid output of a classifier: outputs 1 - p, p
};

Shape shape_of(const ModelFile& model, TaskKind task, const CExportOptions& options) {
  const NetworkSpec& spec = model.network;
  Shape shape;
  shape.inputs = spec.input;
  const int last_units = spec.output();
  const bool classification = task == TaskKind::classification;
  shape.one_sigmoid_class = classification && last_units == 1;
  shape.outputs = shape.one_sigmoid_class ? 2 : last_units;
  shape.classes = classification ? shape.outputs : 0;
  // Two buffers of the widest hidden layer (or the scaled input) in turn; int8 adds the quantized input.
  if (!model.scaling.empty()) shape.widest = std::max(shape.widest, spec.input);
  for (std::size_t l = 0; l + 1 < spec.layers.size(); ++l) shape.widest = std::max(shape.widest, spec.layers[l].units);
  shape.scratch = 2 * shape.widest;
  if (options.int8) shape.scratch += (std::max(shape.widest, spec.input) + 3) / 4;
  return shape;
}

void check_model(const ModelFile& model, const CExportOptions& options) {
  check_c_name(options.name);
  const NetworkSpec& spec = model.network;
  if (spec.input < 1 || spec.layers.empty()) throw_bad_input("C export: the model has no layers");
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    const auto in = static_cast<std::size_t>(spec.layer_input(l));
    const auto out = static_cast<std::size_t>(spec.layers[l].units);
    if (spec.layers[l].kind == LayerKind::embedding) {
      const auto rows = static_cast<std::size_t>(spec.layers[l].categories), dim = out - in + 1;
      if (spec.layers[l].weights.size() != rows * dim)
        throw_bad_input("C export: layers[" + std::to_string(l) + "]: expected " + std::to_string(rows) + " x " +
                        std::to_string(dim) + " embedding weights");
      continue;
    }
    if (spec.layers[l].weights.size() != in * out || spec.layers[l].bias.size() != out)
      throw_bad_input("C export: layers[" + std::to_string(l) + "]: expected " + std::to_string(in) + " x " +
                      std::to_string(out) + " weights and " + std::to_string(out) + " biases");
  }
  if (!model.scaling.empty() && (model.scaling.offset.size() != static_cast<std::size_t>(spec.input) ||
                                 model.scaling.scale.size() != static_cast<std::size_t>(spec.input)))
    throw_bad_input("C export: expected a scaling of " + std::to_string(spec.input) + " features");
  if (options.int8 && options.input_ranges.size() != spec.layers.size())
    throw_bad_input("C export: int8 needs the calibrated range of every layer's input");
}

std::string activation_name(const LayerSpec& layer) {
  return layer.kind == LayerKind::embedding ? std::string("embedding") : std::string(to_string(layer.activation));
}

// The comment block at the top of both files.
std::string comment_block(const ModelFile& model, const Shape& shape, const CExportOptions& options,
                          std::uint64_t source_checksum) {
  const NetworkSpec& spec = model.network;
  char checksum[32];
  std::snprintf(checksum, sizeof checksum, "%016llx", static_cast<unsigned long long>(source_checksum));
  std::string layers = std::to_string(spec.input);
  for (const auto& layer : spec.layers) layers += " -> " + std::to_string(layer.units) + " " + activation_name(layer);
  std::string text = "/* " + options.name + ": a backprop model as C99 (backprop export --format c" +
                     (options.int8 ? " --quantize int8" : "") + ").\n";
  text += " * From " + comment_text(options.source) + " (FNV-1a 64 of its bytes: " + checksum + ").\n";
  text += " * Network: " + layers + "; loss " + std::string(to_string(spec.loss)) + ".\n";
  text += " * Input: " + std::to_string(shape.inputs) + " raw features, as `backprop predict` reads them (uint8\n"
          " * images as value/255)" + (model.scaling.empty() ? std::string(".")
          : "; scaled inside as the model was trained: x' = (x - offset) / scale (" +
            std::string(to_string(model.scaling.kind)) + ").") + "\n";
  text += " * Output: " + std::to_string(shape.outputs) +
          (shape.classes ? std::string(" class probabilities, as `backprop predict` prints them") +
                               (shape.one_sigmoid_class ? " (1 - p, p of the one sigmoid output)" : "")
                         : std::string(" values, as `backprop predict` prints them")) + ".\n";
  if (options.int8)
    text += " * Numbers (int8): each layer's weights as int8 with one scale per output unit (symmetric: the\n"
            " * largest |w| of the unit is 127); the layer's input quantized to int8 with one scale per layer\n"
            " * (symmetric: the 99.99th percentile of |input| on the calibration rows is 127, values beyond it\n"
            " * clamped); products summed in int32; bias, scales and activations in float.\n";
  else
    text += " * Numbers: float32, as backprop computes them (the sums may round differently).\n";
  return text + " */\n";
}

std::string header_text(const ModelFile& model, const Shape& shape, const CExportOptions& options,
                        std::uint64_t checksum) {
  const std::string& n = options.name;
  std::string guard = n + "_H";
  for (char& c : guard) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string text = comment_block(model, shape, options, checksum);
  text += "#ifndef " + guard + "\n#define " + guard + "\n\n";
  text += "#define " + n + "_INPUTS " + std::to_string(shape.inputs) + "\n";
  text += "#define " + n + "_OUTPUTS " + std::to_string(shape.outputs) + "\n";
  text += "#define " + n + "_SCRATCH " + std::to_string(shape.scratch) + "  /* floats */\n";
  if (shape.classes) text += "#define " + n + "_CLASSES " + std::to_string(shape.classes) + "\n";
  text += "\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  text += "/* The feature names, in the order of `features`. */\n";
  text += "extern const char *const " + n + "_features[" + n + "_INPUTS];\n";
  if (shape.classes)
    text += "/* The class of each output (the predicted class is the largest). */\n"
            "extern const char *const " + n + "_classes[" + n + "_CLASSES];\n";
  else
    text += "/* The name of each output. */\nextern const char *const " + n + "_targets[" + n + "_OUTPUTS];\n";
  text += "\n/* outputs[" + n + "_OUTPUTS] from features[" + n + "_INPUTS]; scratch: " + n +
          "_SCRATCH floats of the caller's.\n * Returns 0" +
          (model.network.has(LayerKind::embedding)
               ? ", or k + 1 where features[k] is a category's code that is not a whole number in\n * [0, its "
                 "categories): then every output is NaN and no table is read"
               : std::string(" (a model with an embedding entry returns k + 1 for a bad code at features[k])")) +
          ". */\n";
  text += "int " + n + "_predict(const float *features, float *outputs, float *scratch);\n";
  text += "\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n";
  return text;
}

// One row of numbers for an array initializer, 8 a line.
// A list of numbers for an array initializer, 8 a line; `first_break`: the first line starts on a line of its
// own (a one-dimensional array) or right after the brace (a row of a matrix).
template <typename Format>
std::string number_rows(std::size_t count, Format format, bool first_break = true) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i)
    out += (i == 0 ? (first_break ? "\n    " : "") : (i % 8 ? ", " : ",\n   ")) + format(i);
  return out;
}

// The largest |w| of each output unit over its inputs, so that w / scale lies in [-127, 127].
std::vector<double> unit_scales(const LayerSpec& layer, std::size_t in) {
  const auto out = static_cast<std::size_t>(layer.units);
  std::vector<double> scales(out, 0.0);
  for (std::size_t i = 0; i < in; ++i)
    for (std::size_t o = 0; o < out; ++o) scales[o] = std::max(scales[o], std::abs(layer.weights[i * out + o]));
  for (double& scale : scales) scale = scale > 0 ? scale / 127.0 : 1.0;
  return scales;
}

// The static arrays of layer k (from 1): the weights, bias, and for int8 the scales. Float weights are the
// model's IN x OUT, as the tutorial writes W: the loop adds x[i] times row i to every unit at once, a loop
// without a chain from one step to the next, which the compiler vectorizes (a dot product per unit in float
// is one chain of dependent additions, which the compiler cannot vectorize without reordering the sum). int8 weights are OUT x IN, one row
// per unit with its scale: an int32 dot product has no such chain.
std::string layer_arrays(const ModelFile& model, std::size_t l, const CExportOptions& options) {
  const LayerSpec& layer = model.network.layers[l];
  if (layer.kind == LayerKind::embedding) {
    const auto rows = static_cast<std::size_t>(layer.categories);
    const auto dim = static_cast<std::size_t>(layer.units - model.network.layer_input(l) + 1);
    const std::string k = std::to_string(l + 1);
    std::string text = "\n/* Layer " + k + ": embedding of input " + std::to_string(layer.column) + ", " +
                       std::to_string(rows) + " categories x " + std::to_string(dim) + " values: row c of e" + k +
                       " replaces a code c. */\n";
    text += "static const float " + options.name + "_e" + k + "[" + std::to_string(rows) + "][" + std::to_string(dim) +
            "] = {";
    for (std::size_t c = 0; c < rows; ++c)
      text += std::string(c ? "," : "") + "\n  {" +
              number_rows(dim, [&](std::size_t d) { return float_literal(layer.weights[c * dim + d]); }, false) + "}";
    return text + "};\n";
  }
  const auto in = static_cast<std::size_t>(model.network.layer_input(l));
  const auto out = static_cast<std::size_t>(layer.units);
  const std::string k = std::to_string(l + 1), n = options.name;
  const std::string dims = "[" + std::to_string(out) + "][" + std::to_string(in) + "]";
  std::string text = "\n/* Layer " + k + ": " + std::to_string(in) + " -> " + std::to_string(out) + ", " +
                     activation_name(layer) + ". w" + k + (options.int8 ? "[o][i]" : "[i][o]") +
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

// An embedding entry in NAME_predict: its code read from `in` and checked as the library checks it (a whole
// number in [0, N), compared in float) before it indexes the table; a bad code returns the network input's
// column + 1 with NaN outputs, so that no table is read out of bounds and no stale output looks valid.
std::string embedding_lookup(const ModelFile& model, std::size_t l, const Shape& shape, const CExportOptions& options,
                             const std::string& in, const std::string& out) {
  const LayerSpec& layer = model.network.layers[l];
  const int ins = model.network.layer_input(l), dim = layer.units - ins + 1, column = layer.column;
  const std::string k = std::to_string(l + 1), n = options.name, K = std::to_string(column), D = std::to_string(dim);
  const int feature = embedding_code_columns(model.network)[l];
  std::string text = "\n  /* Layer " + k + ": embedding of input " + K + ": the code c there picks row c of " + n + "_e" +
                     k + ", whose " + D + " value(s) take its place */\n";
  text += "  {\n    const float c = " + in + "[" + K + "];\n";
  text += "    if (!(c >= 0.0f && c < " + float_literal(layer.categories) + " && floorf(c) == c)) {\n";
  text += "      for (o = 0; o < " + std::to_string(shape.outputs) + "; ++o) outputs[o] = NAN;\n";
  text += "      return " + std::to_string(feature + 1) + ";  /* features[" + std::to_string(feature) +
          "] is not a code of " + std::to_string(layer.categories) + " categories */\n    }\n";
  if (column > 0) text += "    for (i = 0; i < " + K + "; ++i) " + out + "[i] = " + in + "[i];\n";
  text += "    for (i = 0; i < " + D + "; ++i) " + out + "[" + K + " + i] = " + n + "_e" + k + "[(int)c][i];\n";
  if (column + 1 < ins)
    text += "    for (i = " + std::to_string(column + 1) + "; i < " + std::to_string(ins) + "; ++i) " + out + "[i + " +
            std::to_string(dim - 1) + "] = " + in + "[i];\n";
  return text + "  }\n";
}

// Layer l's loop in NAME_predict, reading `in` and writing `out` (C expressions).
std::string layer_loop(const ModelFile& model, std::size_t l, const CExportOptions& options, const std::string& in,
                       const std::string& out, const std::string& quantized) {
  const LayerSpec& layer = model.network.layers[l];
  const std::string k = std::to_string(l + 1), n = options.name;
  const std::string ins = std::to_string(model.network.layer_input(l)), outs = std::to_string(layer.units);
  std::string text = "\n  /* Layer " + k + ": " + ins + " -> " + outs + ", " + activation_name(layer) + " */\n";
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

std::string predict_function(const ModelFile& model, const Shape& shape, const CExportOptions& options) {
  const NetworkSpec& spec = model.network;
  const std::string n = options.name, widest = std::to_string(shape.widest);
  const std::string quantized = "((int8_t *)(void *)(scratch + " + std::to_string(2 * shape.widest) + "))";
  std::string text = "\nint " + n + "_predict(const float *features, float *outputs, float *scratch) {\n";
  text += "  int i, o;\n";
  std::string in = "features";
  int buffer = 0;  // the scratch half the next layer writes
  if (!model.scaling.empty()) {
    text += "\n  /* The features scaled as the model was trained: x' = (x - offset) / scale, in double. */\n";
    text += "  for (i = 0; i < " + std::to_string(spec.input) + "; ++i)\n    scratch[i] = (float)(((double)features[i] - " +
            n + "_offset[i]) / " + n + "_scale[i]);\n";
    in = "scratch";
    buffer = 1;
  }
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    const bool last = l + 1 == spec.layers.size();
    std::string out = buffer ? "(scratch + " + widest + ")" : "scratch";
    if (last) out = shape.one_sigmoid_class ? "(outputs + 1)" : "outputs";
    if (spec.layers[l].kind == LayerKind::embedding)
      text += embedding_lookup(model, l, shape, options, in, out);
    else
      text += layer_loop(model, l, options, in, out, quantized);
    in = out;
    buffer = 1 - buffer;
  }
  if (shape.one_sigmoid_class) text += "  outputs[0] = 1.0f - outputs[1];  /* p of the first class */\n";
  if (model.scaling.empty() && spec.layers.size() == 1 && !options.int8) text += "  (void)scratch;\n";
  return text + "  return 0;\n}\n";
}

std::string source_text(const ModelFile& model, const Shape& shape, const CExportOptions& options,
                        const std::string& header_name, std::uint64_t checksum) {
  const std::string n = options.name;
  std::string text = comment_block(model, shape, options, checksum);
  text += "#include \"" + header_name + "\"\n\n#include <math.h>\n#include <stdint.h>\n\n";
  text += names_array("const char *const " + n + "_features[" + n + "_INPUTS]",
                      names_or_numbers(model.features, shape.inputs));
  if (shape.classes)
    text += names_array("const char *const " + n + "_classes[" + n + "_CLASSES]",
                        names_or_numbers(model.classes, shape.classes));
  else
    text += names_array("const char *const " + n + "_targets[" + n + "_OUTPUTS]",
                        names_or_numbers(model.targets, shape.outputs));
  if (!model.scaling.empty()) {
    const auto features = model.scaling.offset.size();
    text += "\n/* The scaling (" + std::string(to_string(model.scaling.kind)) + "), fitted on the training rows. */\n";
    text += "static const double " + n + "_offset[" + std::to_string(features) + "] = {" +
            number_rows(features, [&](std::size_t i) { return double_literal(model.scaling.offset[i]); }) + "};\n";
    text += "static const double " + n + "_scale[" + std::to_string(features) + "] = {" +
            number_rows(features, [&](std::size_t i) { return double_literal(model.scaling.scale[i]); }) + "};\n";
  }
  for (std::size_t l = 0; l < model.network.layers.size(); ++l) text += layer_arrays(model, l, options);
  return text + predict_function(model, shape, options);
}

}  // namespace

void check_c_name(std::string_view name) {
  bool valid = !name.empty() && name.size() <= 64 &&
               (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_') &&
               std::find(kKeywords.begin(), kKeywords.end(), name) == kKeywords.end();
  for (char c : name) valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!valid)
    throw_bad_input("--name: expected a C identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters, not a "
                    "keyword), got '" + comment_text(name) + "'");
}

CSource c_source(const ModelFile& model, TaskKind task, const CExportOptions& options, const std::string& header_name,
                 std::uint64_t source_checksum) {
  check_exportable(model, "C");
  if (model.network.has(LayerKind::batch_norm)) {
    // Evaluation's batch_norms are affine maps: folded into the dense layers after them, and an int8 layer
    // reads the range of what the batch_norm before it read.
    ModelFile folded = model;
    std::vector<std::size_t> from;
    folded.network = fold_batch_norms(model.network, &from);
    CExportOptions folded_options = options;
    if (options.input_ranges.size() == model.network.layers.size()) {
      folded_options.input_ranges.clear();
      for (const std::size_t l : from) folded_options.input_ranges.push_back(options.input_ranges[l]);
    }
    return c_source(folded, task, folded_options, header_name, source_checksum);
  }
  check_model(model, options);
  const Shape shape = shape_of(model, task, options);
  return {header_text(model, shape, options, source_checksum),
          source_text(model, shape, options, header_name, source_checksum)};
}

std::filesystem::path c_source_path(const std::filesystem::path& header_path) {
  if (header_path.extension() != ".h" || header_path.stem().empty())
    throw_bad_input("--out: expected a header file name ending in .h (the .c is written beside it), got '" +
                    header_path.string() + "'");
  std::filesystem::path source_path = header_path;
  return source_path.replace_extension(".c");
}

void export_c(const std::filesystem::path& header_path, const ModelFile& model, TaskKind task,
              const CExportOptions& options) {
  const std::filesystem::path source_path = c_source_path(header_path);
  const std::uint64_t checksum = options.source.empty() ? 0 : fnv1a_64(read_file(options.source));
  const CSource files = c_source(model, task, options, header_path.filename().string(), checksum);
  write_file_atomically(header_path, files.header);
  write_file_atomically(source_path, files.source);
}

}  // namespace backprop::io
