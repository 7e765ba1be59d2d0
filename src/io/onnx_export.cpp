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
#include "onnx_graph.hpp"

namespace backprop::io {

namespace onnx = backprop::onnx_proto;

void detail::add_initializer(onnx::GraphProto& graph, const std::string& name, const std::vector<std::int64_t>& dims,
                     const std::vector<double>& values) {
  onnx::TensorProto& tensor = *graph.add_initializer();
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto::FLOAT);
  for (std::int64_t d : dims) tensor.add_dims(d);
  auto& data = *tensor.mutable_float_data();
  data.Reserve(static_cast<int>(values.size()));
  for (double v : values) data.Add(static_cast<float>(v));
}

void detail::add_int64_initializer(onnx::GraphProto& graph, const std::string& name, const std::vector<std::int64_t>& dims,
                           const std::vector<std::int64_t>& values) {
  onnx::TensorProto& tensor = *graph.add_initializer();
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto::INT64);
  for (std::int64_t d : dims) tensor.add_dims(d);
  for (std::int64_t v : values) tensor.add_int64_data(v);
}

onnx::NodeProto& detail::add_node(onnx::GraphProto& graph, const std::string& op_type, const std::string& name,
                          const std::vector<std::string>& inputs, const std::string& output) {
  onnx::NodeProto& node = *graph.add_node();
  node.set_op_type(op_type);
  node.set_name(name);
  for (const auto& input : inputs) node.add_input(input);
  node.add_output(output);
  return node;
}

void detail::add_int_attribute(onnx::NodeProto& node, const std::string& name, std::int64_t value) {
  onnx::AttributeProto& attribute = *node.add_attribute();
  attribute.set_name(name);
  attribute.set_type(onnx::AttributeProto::INT);
  attribute.set_i(value);
}

void detail::add_float_attribute(onnx::NodeProto& node, const std::string& name, double value) {
  onnx::AttributeProto& attribute = *node.add_attribute();
  attribute.set_name(name);
  attribute.set_type(onnx::AttributeProto::FLOAT);
  attribute.set_f(static_cast<float>(value));
}

namespace {

using detail::add_initializer;
using detail::add_node;

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
      if (array.values(spec.layers[l]).size() != array.size)
        throw_bad_input("ONNX export: layers[" + std::to_string(l) + "]." + std::string(array.key) + ": expected " +
                        std::to_string(array.size) + " numbers");
  }
  if (!model.scaling.empty()) {
    const auto width = static_cast<std::size_t>(spec.input);
    if (model.scaling.offset.size() != width || model.scaling.scale.size() != width)
      throw_bad_input("ONNX export: expected a scaling of " + std::to_string(width) + " features");
  }
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
    const std::string prefix = "layer" + std::to_string(l + 1);
    current = with_layer_kind(spec.layers[l].kind, [&](auto k) {
      return detail::OnnxLayer<decltype(k)::value>::add(graph, spec, l, prefix, current);
    });
  }

  std::string bytes;
  if (!proto.SerializeToString(&bytes)) throw_runtime_error("ONNX export: protobuf could not serialize the model");
  return bytes;
}

void export_onnx(const std::filesystem::path& path, const ModelFile& model) {
  write_file_atomically(path, onnx_model_bytes(model));
}

}  // namespace backprop::io
