// ONNX export: the model as an ONNX graph of opset 11 (the graph is described in
// include/backprop/io/onnx_export.hpp). The message classes are generated at build time by protoc from
// the onnx.proto that Debian's libonnx-dev ships, renamed to package backprop.onnx_proto and compiled for
// protobuf's lite runtime (CMakeLists.txt), so the library needs libprotobuf-lite and not libonnx, and
// its symbols cannot clash with a libonnx linked into the same program.
#include "backprop/io/onnx_export.hpp"

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"
#include "backprop/io/write_file.hpp"
#include "io/activation_forms.hpp"
#include "backprop_onnx.pb.h"

namespace backprop::io {
namespace {

namespace onnx = backprop::onnx_proto;

// A float32 initializer of the given shape; values are doubles that hold floats (io::ModelFile's convention).
void add_initializer(onnx::GraphProto& graph, const std::string& name, const std::vector<std::int64_t>& dims,
                     const std::vector<double>& values) {
  onnx::TensorProto& tensor = *graph.add_initializer();
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto::FLOAT);
  for (std::int64_t d : dims) tensor.add_dims(d);
  auto& data = *tensor.mutable_float_data();
  data.Reserve(static_cast<int>(values.size()));
  for (double v : values) data.Add(static_cast<float>(v));
}

// An int64 initializer (indices); no dims: a scalar.
void add_int64_initializer(onnx::GraphProto& graph, const std::string& name, const std::vector<std::int64_t>& dims,
                           const std::vector<std::int64_t>& values) {
  onnx::TensorProto& tensor = *graph.add_initializer();
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto::INT64);
  for (std::int64_t d : dims) tensor.add_dims(d);
  for (std::int64_t v : values) tensor.add_int64_data(v);
}

onnx::NodeProto& add_node(onnx::GraphProto& graph, const std::string& op_type, const std::string& name,
                          const std::vector<std::string>& inputs, const std::string& output) {
  onnx::NodeProto& node = *graph.add_node();
  node.set_op_type(op_type);
  node.set_name(name);
  for (const auto& input : inputs) node.add_input(input);
  node.add_output(output);
  return node;
}

void add_int_attribute(onnx::NodeProto& node, const std::string& name, std::int64_t value) {
  onnx::AttributeProto& attribute = *node.add_attribute();
  attribute.set_name(name);
  attribute.set_type(onnx::AttributeProto::INT);
  attribute.set_i(value);
}

void add_float_attribute(onnx::NodeProto& node, const std::string& name, double value) {
  onnx::AttributeProto& attribute = *node.add_attribute();
  attribute.set_name(name);
  attribute.set_type(onnx::AttributeProto::FLOAT);
  attribute.set_f(static_cast<float>(value));
}

// A float32 tensor [batch, width] with a symbolic first dimension.
void set_batch_tensor(onnx::ValueInfoProto& value, const std::string& name, int width) {
  value.set_name(name);
  onnx::TypeProto::Tensor& tensor = *value.mutable_type()->mutable_tensor_type();
  tensor.set_elem_type(onnx::TensorProto::FLOAT);
  tensor.mutable_shape()->add_dim()->set_dim_param("batch");
  tensor.mutable_shape()->add_dim()->set_dim_value(width);
}

void add_metadata(onnx::ModelProto& proto, const std::string& key, const std::vector<std::string>& names) {
  if (names.empty()) return;
  onnx::StringStringEntryProto& entry = *proto.add_metadata_props();
  entry.set_key(key);
  entry.set_value(nlohmann::json(names).dump());
}

// The row-major [in, out] weights of a layer (io::ModelFile's layout) as row-major [out, in]: the layout of
// Gemm's B with transB = 1, which is what the common exporters write (PyTorch's Linear) and what OpenCV's
// dnn needs (docs/onnx.md).
std::vector<double> transposed(const std::vector<double>& weights, std::size_t in, std::size_t out) {
  std::vector<double> result(weights.size());
  for (std::size_t i = 0; i < in; ++i)
    for (std::size_t o = 0; o < out; ++o) result[o * in + i] = weights[i * out + o];
  return result;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) text += (i ? ", " : "") + names[i];
  return text;
}

// Throws Error(bad_input) when a parameter or the scaling does not fit the network.
void check_shapes(const ModelFile& model) {
  const NetworkSpec& spec = model.network;
  if (spec.input < 1 || spec.layers.empty()) throw_bad_input("ONNX export: the model has no layers");
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    for (const LayerArray& array : spec.arrays(l))
      if ((spec.layers[l].*array.member).size() != array.size)
        throw_bad_input("ONNX export: layers[" + std::to_string(l) + "]." + std::string(array.key) + ": expected " +
                        std::to_string(array.size) + " numbers");
  }
  if (!model.scaling.empty()) {
    const auto width = static_cast<std::size_t>(spec.input);
    if (model.scaling.offset.size() != width || model.scaling.scale.size() != width)
      throw_bad_input("ONNX export: expected a scaling of " + std::to_string(width) + " features");
  }
}

// A batch_norm in evaluation (its running statistics): BatchNormalization over the features (axis 1 of (N, C)).
// Never the last entry (nn/spec.hpp), so its output is an inner tensor.
std::string add_batch_norm(onnx::GraphProto& graph, const LayerSpec& layer, const std::string& prefix,
                           const std::string& current) {
  std::vector<std::string> inputs{current};
  for (const LayerArray& array : layer_arrays(layer, layer.units)) {
    const std::string name = prefix + "_" + std::string(array.key);
    add_initializer(graph, name, {layer.units}, layer.*array.member);
    inputs.push_back(name);
  }
  onnx::NodeProto& node = add_node(graph, "BatchNormalization", prefix + "_batch_norm", inputs, prefix + "_a");
  add_float_attribute(node, "epsilon", layer.eps);
  add_float_attribute(node, "momentum", 1.0 - layer.momentum);  // ONNX's: the running statistic's own weight
  return prefix + "_a";
}

// An embedding (nn/embedding.hpp): its code column (Gather of a scalar index on axis 1: (B)) cast to int64 picks
// rows of its weights (Gather on axis 0: (B, D)), which Concat puts between the columns before and after it (each
// a Gather of their indices on axis 1). Never the last entry, so its output is an inner tensor. A code outside
// [0, N) is an error of the runtime's Gather, as it is the network's.
std::string add_embedding(onnx::GraphProto& graph, const LayerSpec& layer, int in, const std::string& prefix,
                          const std::string& current) {
  const int dim = layer.units - in + 1;
  add_initializer(graph, prefix + "_weights", {layer.categories, dim}, layer.weights);
  add_int64_initializer(graph, prefix + "_column", {}, {layer.column});
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
  columns("before", 0, layer.column);
  parts.push_back(prefix + "_vectors");
  columns("after", layer.column + 1, in);
  onnx::NodeProto& concat = add_node(graph, "Concat", prefix + "_concat", parts, prefix + "_a");
  add_int_attribute(concat, "axis", 1);
  return prefix + "_a";
}

}  // namespace

bool onnx_export_available() { return true; }

std::string onnx_model_bytes(const ModelFile& model) {
  check_exportable(model, "ONNX");
  check_shapes(model);
  const NetworkSpec& spec = model.network;

  onnx::ModelProto proto;
  proto.set_ir_version(kOnnxIrVersion);
  proto.set_producer_name("backprop");
  proto.set_producer_version(BACKPROP_VERSION);
  onnx::OperatorSetIdProto& opset = *proto.add_opset_import();
  opset.set_domain("");  // the default domain, ai.onnx
  opset.set_version(kOnnxOpset);

  std::string architecture = std::to_string(spec.input);
  for (const auto& layer : spec.layers) architecture.append("-").append(std::to_string(layer.units));
  std::string doc = "backprop model " + architecture + ", loss " + std::string(to_string(spec.loss));
  if (!model.classes.empty()) doc += "; classes: " + joined(model.classes);
  if (!model.targets.empty()) doc += "; targets: " + joined(model.targets);
  // The graph takes floats: a model trained on uint8 data read each byte as value / 255, so must its caller.
  if (model.byte_inputs) doc += "; trained on uint8 data read as value / 255: give each byte as value / 255";
  proto.set_doc_string(doc);
  add_metadata(proto, "classes", model.classes);
  add_metadata(proto, "targets", model.targets);
  add_metadata(proto, "features", model.features);

  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name("backprop_" + architecture);
  set_batch_tensor(*graph.add_input(), "input", spec.input);
  set_batch_tensor(*graph.add_output(), "output", spec.output());

  // Every node writes a fresh tensor; the last one writes "output".
  std::string current = "input";

  if (!model.scaling.empty()) {
    // Cast here as Dataset::gather_rows computes in double: the result differs by float rounding only.
    add_initializer(graph, "scaling_offset", {spec.input}, model.scaling.offset);
    add_initializer(graph, "scaling_scale", {spec.input}, model.scaling.scale);
    add_node(graph, "Sub", "scaling_sub", {current, "scaling_offset"}, "centred");
    add_node(graph, "Div", "scaling_div", {"centred", "scaling_scale"}, "scaled");
    current = "scaled";
  }

  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    const LayerSpec& layer = spec.layers[l];
    const std::string prefix = "layer" + std::to_string(l + 1);
    switch (layer.kind) {
      case LayerKind::batch_norm: current = add_batch_norm(graph, layer, prefix, current); continue;
      case LayerKind::embedding: current = add_embedding(graph, layer, spec.layer_input(l), prefix, current); continue;
      case LayerKind::dense: break;
    }
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
    current = z;
    if (!has_activation) continue;

    const std::string a = last ? "output" : prefix + "_a";
    std::vector<std::string> written;  // the tensor each of the activation's nodes writes
    for (const OnnxActivationNode& node : activation) {
      std::vector<std::string> inputs;
      for (const std::string& input : node.inputs)
        inputs.push_back(input == "z" ? current : written.at(std::stoul(input.substr(1))));
      written.push_back(written.size() + 1 == activation.size() ? a : prefix + "_" + node.name);
      onnx::NodeProto& added = add_node(graph, node.op_type, prefix + "_" + node.name, inputs, written.back());
      if (!node.float_attribute.empty()) add_float_attribute(added, node.float_attribute, node.float_value);
      if (!node.int_attribute.empty()) add_int_attribute(added, node.int_attribute, node.int_value);
    }
    current = a;
  }

  std::string bytes;
  if (!proto.SerializeToString(&bytes)) throw_runtime_error("ONNX export: protobuf could not serialize the model");
  return bytes;
}

void export_onnx(const std::filesystem::path& path, const ModelFile& model) {
  write_file_atomically(path, onnx_model_bytes(model));
}

}  // namespace backprop::io
