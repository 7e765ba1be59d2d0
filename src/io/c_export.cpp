// C export (include/backprop/io/c_export.hpp): the model's forward pass written as plain C99.
#include "backprop/io/c_export.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "backprop/base/error.hpp"
#include "io/binary.hpp"
#include "io/c_layer.hpp"
#include "backprop/base/text.hpp"
#include "backprop/base/read_file.hpp"
#include "backprop/io/write_file.hpp"

namespace backprop::io {
namespace detail {

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

}  // namespace detail

namespace {

using detail::CShape;
using detail::double_literal;
using detail::float_literal;
using detail::number_rows;

// C99 and C++ keywords: a prefix that is one would still make valid names (NAME_predict), but a reader
// would stumble, and `int` or `class` as a model name says a mistake.
constexpr std::array<std::string_view, 47> kKeywords = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
    "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed",
    "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while",
    "bool", "class", "delete", "new", "namespace", "private", "public", "template", "this", "throw", "try",
    "using", "virtual"};

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


CShape shape_of(const ModelFile& model, TaskKind task, const CExportOptions& options) {
  const NetworkSpec& spec = model.network;
  CShape shape;
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
  for (std::size_t l = 0; l < spec.layers.size(); ++l)
    with_layer_kind(spec.layers[l].kind, [&](auto k) { detail::CLayer<decltype(k)::value>::check(spec, l); });
  if (!model.scaling.empty() && (model.scaling.offset.size() != static_cast<std::size_t>(spec.input) ||
                                 model.scaling.scale.size() != static_cast<std::size_t>(spec.input)))
    throw_bad_input("C export: expected a scaling of " + std::to_string(spec.input) + " features");
  if (options.int8 && options.input_ranges.size() != spec.layers.size())
    throw_bad_input("C export: int8 needs the calibrated range of every layer's input");
}

// An entry's name in the comments: a dense layer's activation, or its kind.
std::string entry_name(const LayerSpec& layer) {
  return with_layer_kind(layer.kind, [&](auto k) { return detail::CLayer<decltype(k)::value>::name(layer); });
}

// The comment block at the top of both files.
std::string comment_block(const ModelFile& model, const CShape& shape, const CExportOptions& options,
                          std::uint64_t source_checksum) {
  const NetworkSpec& spec = model.network;
  char checksum[32];
  std::snprintf(checksum, sizeof checksum, "%016llx", static_cast<unsigned long long>(source_checksum));
  std::string layers = std::to_string(spec.input);
  for (const auto& layer : spec.layers) layers += " -> " + std::to_string(layer.units) + " " + entry_name(layer);
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

std::string header_text(const ModelFile& model, const CShape& shape, const CExportOptions& options,
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






std::string predict_function(const ModelFile& model, const CShape& shape, const CExportOptions& options) {
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
    text += with_layer_kind(spec.layers[l].kind, [&](auto k) {
      return detail::CLayer<decltype(k)::value>::code(model, l, shape, options, in, out, quantized);
    });
    in = out;
    buffer = 1 - buffer;
  }
  if (shape.one_sigmoid_class) text += "  outputs[0] = 1.0f - outputs[1];  /* p of the first class */\n";
  if (model.scaling.empty() && spec.layers.size() == 1 && !options.int8) text += "  (void)scratch;\n";
  return text + "  return 0;\n}\n";
}

std::string source_text(const ModelFile& model, const CShape& shape, const CExportOptions& options,
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
  for (std::size_t l = 0; l < model.network.layers.size(); ++l)
    text += with_layer_kind(model.network.layers[l].kind, [&](auto k) {
      return detail::CLayer<decltype(k)::value>::arrays(model, l, options);
    });
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
  // A kind may rewrite the model before any entry is written (CLayer<K>::rewritten): that is exported instead.
  for (const LayerKindEntry& entry : kLayerKinds) {
    const std::optional<detail::CModel> rewritten = with_layer_kind(
        entry.kind, [&](auto k) { return detail::CLayer<decltype(k)::value>::rewritten(model, options); });
    if (rewritten) return c_source(rewritten->model, task, rewritten->options, header_name, source_checksum);
  }
  check_model(model, options);
  const CShape shape = shape_of(model, task, options);
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
