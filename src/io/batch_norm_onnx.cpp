// A batch_norm entry's ONNX nodes (io/onnx_graph.hpp).
#include <string>
#include <vector>

#include "onnx_graph.hpp"

namespace backprop::io::detail {

// In evaluation (its running statistics): BatchNormalization over the features (axis 1 of (N, C)). Never the last
// entry (nn/spec.hpp), so its output is an inner tensor.
std::string OnnxLayer<LayerKind::batch_norm>::add(onnx::GraphProto& graph, const NetworkSpec& spec, std::size_t l,
                                                  const std::string& prefix, const std::string& current) {
  const LayerSpec& layer = spec.layers[l];
  std::vector<std::string> inputs{current};
  for (const LayerArray& array : layer_arrays(layer, layer.units)) {
    const std::string name = prefix + "_" + std::string(array.key);
    add_initializer(graph, name, {layer.units}, array.values(layer));
    inputs.push_back(name);
  }
  onnx::NodeProto& node = add_node(graph, "BatchNormalization", prefix + "_batch_norm", inputs, prefix + "_a");
  add_float_attribute(node, "epsilon", layer.batch_norm.eps);
  add_float_attribute(node, "momentum", 1.0 - layer.batch_norm.momentum);  // ONNX's: the running statistic's own weight
  return prefix + "_a";
}

}  // namespace backprop::io::detail
