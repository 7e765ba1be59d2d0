// An embedding entry in the C export (io/c_layer.hpp): its table as a static array, and in NAME_predict a
// checked lookup of its code.
#include <optional>
#include <string>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/nn/embedding.hpp"
#include "io/c_layer.hpp"

namespace backprop::io::detail {

// Written as it is.
std::optional<CModel> CLayer<LayerKind::embedding>::rewritten(const ModelFile&, const CExportOptions&) {
  return std::nullopt;
}

void CLayer<LayerKind::embedding>::check(const NetworkSpec& spec, std::size_t l) {
  const auto in = static_cast<std::size_t>(spec.layer_input(l));
  const auto out = static_cast<std::size_t>(spec.layers[l].units);
  const auto rows = static_cast<std::size_t>(spec.layers[l].embedding.categories), dim = out - in + 1;
  if (spec.layers[l].weights.size() != rows * dim)
    throw_bad_input("C export: layers[" + std::to_string(l) + "]: expected " + std::to_string(rows) + " x " +
                    std::to_string(dim) + " embedding weights");
}

std::string CLayer<LayerKind::embedding>::name(const LayerSpec&) { return "embedding"; }

// Layer k's table e<k> (N, D): row c replaces a code c.
std::string CLayer<LayerKind::embedding>::arrays(const ModelFile& model, std::size_t l,
                                                 const CExportOptions& options) {
  const LayerSpec& layer = model.network.layers[l];
  const auto rows = static_cast<std::size_t>(layer.embedding.categories);
  const auto dim = static_cast<std::size_t>(layer.units - model.network.layer_input(l) + 1);
  const std::string k = std::to_string(l + 1);
  std::string text = "\n/* Layer " + k + ": embedding of input " + std::to_string(layer.embedding.column) + ", " +
                     std::to_string(rows) + " categories x " + std::to_string(dim) + " values: row c of e" + k +
                     " replaces a code c. */\n";
  text += "static const float " + options.name + "_e" + k + "[" + std::to_string(rows) + "][" + std::to_string(dim) +
          "] = {";
  for (std::size_t c = 0; c < rows; ++c)
    text += std::string(c ? "," : "") + "\n  {" +
            number_rows(dim, [&](std::size_t d) { return float_literal(layer.weights[c * dim + d]); }, false) + "}";
  return text + "};\n";
}

// Its code read from `in` and checked as the library checks it (a whole number in [0, N), compared in float)
// before it indexes the table; a bad code returns the network input's column + 1 with NaN outputs, so that no
// table is read out of bounds and no stale output looks valid.
std::string CLayer<LayerKind::embedding>::code(const ModelFile& model, std::size_t l, const CShape& shape,
                                               const CExportOptions& options, const std::string& in,
                                               const std::string& out, const std::string&) {
  const LayerSpec& layer = model.network.layers[l];
  const int ins = model.network.layer_input(l), dim = layer.units - ins + 1, column = layer.embedding.column;
  const std::string k = std::to_string(l + 1), n = options.name, K = std::to_string(column), D = std::to_string(dim);
  const int feature = embedding_code_columns(model.network)[l];
  std::string text = "\n  /* Layer " + k + ": embedding of input " + K + ": the code c there picks row c of " + n + "_e" +
                     k + ", whose " + D + " value(s) take its place */\n";
  text += "  {\n    const float c = " + in + "[" + K + "];\n";
  text += "    if (!(c >= 0.0f && c < " + float_literal(layer.embedding.categories) + " && floorf(c) == c)) {\n";
  text += "      for (o = 0; o < " + std::to_string(shape.outputs) + "; ++o) outputs[o] = NAN;\n";
  text += "      return " + std::to_string(feature + 1) + ";  /* features[" + std::to_string(feature) +
          "] is not a code of " + std::to_string(layer.embedding.categories) + " categories */\n    }\n";
  if (column > 0) text += "    for (i = 0; i < " + K + "; ++i) " + out + "[i] = " + in + "[i];\n";
  text += "    for (i = 0; i < " + D + "; ++i) " + out + "[" + K + " + i] = " + n + "_e" + k + "[(int)c][i];\n";
  if (column + 1 < ins)
    text += "    for (i = " + std::to_string(column + 1) + "; i < " + std::to_string(ins) + "; ++i) " + out + "[i + " +
            std::to_string(dim - 1) + "] = " + in + "[i];\n";
  return text + "  }\n";
}

}  // namespace backprop::io::detail
