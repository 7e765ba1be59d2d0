// Private to src/io/: what the C export (c_export.cpp) writes each layer kind's part with, and CLayer<K>, each
// kind's C form, declared here for every kind of kinds.hpp's list (BACKPROP_LAYER_KINDS) and defined in the kind's
// own file (src/io/embedding_c.cpp for embedding), which c_source reaches through with_layer_kind
// (base/layer_kind_parts.hpp): a kind without it is a link error.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "backprop/base/layer_kind_parts.hpp"
#include "backprop/io/c_export.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop::io::detail {

// A float literal that reads back as the same float32 (to_chars' shortest form, with an 'f' suffix).
std::string float_literal(double value);
// A double literal that reads back as the same double.
std::string double_literal(double value);

// A list of numbers for an array initializer, 8 a line; `first_break`: the first line starts on a line of its
// own (a one-dimensional array) or right after the brace (a row of a matrix).
template <typename Format>
std::string number_rows(std::size_t count, Format format, bool first_break = true) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i)
    out += (i == 0 ? (first_break ? "\n    " : "") : (i % 8 ? ", " : ",\n   ")) + format(i);
  return out;
}

struct CShape {
  int inputs = 0, outputs = 0, classes = 0, widest = 1, scratch = 1;
  bool one_sigmoid_class = false;  // one sigmoid output of a classifier: outputs 1 - p, p
};

// A model as the C export writes it, where a kind rewrites it first (CLayer<K>::rewritten).
struct CModel {
  ModelFile model;
  CExportOptions options;
};

// A kind's rewriting of the whole model before any entry is written (rewritten: the model and options to export
// instead, or none; c_source asks each kind of the list in turn, and again for what one gives), then entry l of
// the model in C: its parameters' check (Error(bad_input) "C export: layers[l]: expected ..."), its name
// in the comments, its static arrays and its code in NAME_predict, which reads `in` and writes `out` (C
// expressions; `quantized`: the int8 input's scratch).
template <LayerKind K>
struct CLayer;
#define BACKPROP_C_LAYER(kind, model_format_version)                                                          \
  template <>                                                                                                 \
  struct CLayer<LayerKind::kind> {                                                                            \
    static std::optional<CModel> rewritten(const ModelFile& model, const CExportOptions& options);           \
    static void check(const NetworkSpec& spec, std::size_t l);                                               \
    static std::string name(const LayerSpec& layer);                                                         \
    static std::string arrays(const ModelFile& model, std::size_t l, const CExportOptions& options);         \
    static std::string code(const ModelFile& model, std::size_t l, const CShape& shape,                      \
                            const CExportOptions& options, const std::string& in, const std::string& out,    \
                            const std::string& quantized);                                                    \
  };
BACKPROP_LAYER_KINDS(BACKPROP_C_LAYER)
#undef BACKPROP_C_LAYER

}  // namespace backprop::io::detail
