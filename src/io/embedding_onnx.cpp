// An embedding entry's ONNX nodes (io/onnx_graph.hpp).
#include <string>
#include <vector>

#include "onnx_graph.hpp"

namespace backprop::io::detail {

// Its code column (Gather of a scalar index on axis 1: (B)) cast to int64 picks rows of its weights (Gather on axis
// 0: (B, D)), which Concat puts between the columns before and after it (each a Gather of their indices on axis 1).
// Never the last entry, so its output is an inner tensor. A code outside [0, N) is an error of the runtime's
// Gather, as it is the network's.
std::string OnnxLayer<LayerKind::embedding>::add(onnx::GraphProto& graph, const NetworkSpec& spec, std::size_t l,
                                                 const std::string& prefix, const std::string& current) {
  const LayerSpec& layer = spec.layers[l];
  const int in = spec.layer_input(l);
  const int dim = layer.units - in + 1;
  add_initializer(graph, prefix + "_weights", {layer.embedding.categories, dim}, layer.weights);
  add_int64_initializer(graph, prefix + "_column", {}, {layer.embedding.column});
  onnx::NodeProto& code = add_node(graph, "Gather", prefix + "_code", {current, prefix + "_column"}, prefix + "_code");
  add_int_attribute(code, "axis", 1);
  onnx::NodeProto& cast = add_node(graph, "Cast", prefix + "_cast", {prefix + "_code"}, prefix + "_index");
  add_int_attribute(cast, "to", onnx::TensorProto::INT64);
  onnx::NodeProto& rows =
      add_node(graph, "Gather", prefix + "_lookup", {prefix + "_weights", prefix + "_index"}, prefix + "_vectors");
  add_int_attribute(rows, "axis", 0);
  std::vector<std::string> parts;
  const auto columns = [&](const std::string& part, int first, int end) {
    if (first == end) return;
    std::vector<std::int64_t> indices;
    for (int i = first; i < end; ++i) indices.push_back(i);
    add_int64_initializer(graph, prefix + "_" + part + "_columns", {end - first}, indices);
    onnx::NodeProto& node =
        add_node(graph, "Gather", prefix + "_" + part, {current, prefix + "_" + part + "_columns"}, prefix + "_" + part);
    add_int_attribute(node, "axis", 1);
    parts.push_back(prefix + "_" + part);
  };
  columns("before", 0, layer.embedding.column);
  parts.push_back(prefix + "_vectors");
  columns("after", layer.embedding.column + 1, in);
  onnx::NodeProto& concat = add_node(graph, "Concat", prefix + "_concat", parts, prefix + "_a");
  add_int_attribute(concat, "axis", 1);
  return prefix + "_a";
}

}  // namespace backprop::io::detail
