// Private to src/io/: the pieces of an ONNX graph (src/io/onnx_export.cpp) that each layer kind's nodes are built
// of, and the kinds' nodes themselves: OnnxLayer<K> is defined in the kind's own file (src/io/batch_norm_onnx.cpp
// for batch_norm), which onnx_model_bytes reaches through with_layer_kind (base/layer_kind_parts.hpp). A kind
// without its file is a link error (an undefined OnnxLayer<K>::add), not a graph that leaves it out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backprop/base/layer_kind_parts.hpp"
#include "backprop/nn/spec.hpp"
#include "backprop_onnx.pb.h"

namespace backprop::io::detail {

namespace onnx = backprop::onnx_proto;

// A float32 initializer of the given shape; values are doubles that hold floats (io::ModelFile's convention).
void add_initializer(onnx::GraphProto& graph, const std::string& name, const std::vector<std::int64_t>& dims,
                     const std::vector<double>& values);
// An int64 initializer (indices); no dims: a scalar.
void add_int64_initializer(onnx::GraphProto& graph, const std::string& name, const std::vector<std::int64_t>& dims,
                           const std::vector<std::int64_t>& values);
onnx::NodeProto& add_node(onnx::GraphProto& graph, const std::string& op_type, const std::string& name,
                          const std::vector<std::string>& inputs, const std::string& output);
void add_int_attribute(onnx::NodeProto& node, const std::string& name, std::int64_t value);
void add_float_attribute(onnx::NodeProto& node, const std::string& name, double value);

// Entry l's nodes, which read the tensor `current` and write fresh tensors named from `prefix` ("layer3"), the
// last entry's last one "output"; returns the tensor its output is in. Declared for every kind of kinds.hpp's list
// (BACKPROP_LAYER_KINDS), defined in the kind's own file.
template <LayerKind K>
struct OnnxLayer;
#define BACKPROP_ONNX_LAYER(kind, model_format_version)                                                            \
  template <>                                                                                                      \
  struct OnnxLayer<LayerKind::kind> {                                                                              \
    static std::string add(onnx::GraphProto& graph, const NetworkSpec& spec, std::size_t l, const std::string& prefix, \
                           const std::string& current);                                                            \
  };
BACKPROP_LAYER_KINDS(BACKPROP_ONNX_LAYER)
#undef BACKPROP_ONNX_LAYER

}  // namespace backprop::io::detail
