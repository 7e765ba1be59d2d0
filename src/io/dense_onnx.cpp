// A dense entry's ONNX nodes (io/onnx_graph.hpp): Gemm, then its activation's nodes (io/activation_forms.hpp).
#include <string>
#include <vector>

#include "io/activation_forms.hpp"
#include "onnx_graph.hpp"

namespace backprop::io::detail {
namespace {

// The row-major [in, out] weights of a layer (io::ModelFile's layout) as row-major [out, in]: the layout of
// Gemm's B with transB = 1, which is what the common exporters write (PyTorch's Linear) and what OpenCV's
// dnn needs (docs/onnx.md).
std::vector<double> transposed(const std::vector<double>& weights, std::size_t in, std::size_t out) {
  std::vector<double> result(weights.size());
  for (std::size_t i = 0; i < in; ++i)
    for (std::size_t o = 0; o < out; ++o) result[o * in + i] = weights[i * out + o];
  return result;
}

}  // namespace

std::string OnnxLayer<LayerKind::dense>::add(onnx::GraphProto& graph, const NetworkSpec& spec, std::size_t l,
                                             const std::string& prefix, const std::string& current) {
  const LayerSpec& layer = spec.layers[l];
  const bool last = l + 1 == spec.layers.size();
  const std::vector<OnnxActivationNode> activation = onnx_activation_nodes(layer);
  const bool has_activation = !activation.empty();
  const auto in = static_cast<std::size_t>(spec.layer_input(l));
  const auto out = static_cast<std::size_t>(layer.units);
  add_initializer(graph, prefix + "_weights", {layer.units, spec.layer_input(l)}, transposed(layer.weights, in, out));
  add_initializer(graph, prefix + "_bias", {layer.units}, layer.bias);  // (OUT)
  const std::string z = last && !has_activation ? "output" : prefix + "_z";
  onnx::NodeProto& gemm = add_node(graph, "Gemm", prefix + "_gemm", {current, prefix + "_weights", prefix + "_bias"}, z);
  // Both written, though transA = 0 is the default: OpenCV's dnn (4.6) reads a Gemm without transB as if
  // transB were 1 (measured: wrong outputs, no error), so the attribute must be there.
  add_int_attribute(gemm, "transA", 0);
  add_int_attribute(gemm, "transB", 1);
  if (!has_activation) return z;

  const std::string a = last ? "output" : prefix + "_a";
  std::vector<std::string> written;  // the tensor each of the activation's nodes writes
  for (const OnnxActivationNode& node : activation) {
    std::vector<std::string> inputs;
    for (const std::string& input : node.inputs)
      inputs.push_back(input == "z" ? z : written.at(std::stoul(input.substr(1))));
    written.push_back(written.size() + 1 == activation.size() ? a : prefix + "_" + node.name);
    onnx::NodeProto& added = add_node(graph, node.op_type, prefix + "_" + node.name, inputs, written.back());
    if (!node.float_attribute.empty()) add_float_attribute(added, node.float_attribute, node.float_value);
    if (!node.int_attribute.empty()) add_int_attribute(added, node.int_attribute, node.int_value);
  }
  return a;
}

}  // namespace backprop::io::detail
