// A dense entry of a network file's "layers" (no "type", or "dense"): read and written (io/network_json.hpp).
#include "backprop/nn/spec.hpp"
#include "network_json.hpp"

namespace backprop::io::detail {

using Json = nlohmann::json;

LayerSpec LayerFileForm<LayerKind::dense>::read(const Reader& reader, const Json& layer, const std::string& path,
                                                int in) {
  reader.only_keys(layer, path, {"type", "units", "activation", "slope", "dropout", "initializer", "weights", "bias"});
  LayerSpec layer_spec;
  if (!layer.contains("units")) reader.fail(path + ".units", "missing");
  layer_spec.units = reader.size(layer["units"], path + ".units", 1);
  if (!layer.contains("activation")) reader.fail(path + ".activation", "missing");
  const std::string activation = reader.string(layer["activation"], path + ".activation");
  const auto parsed = parse_activation(activation);
  if (!parsed)
    reader.fail(path + ".activation", "unknown activation '" + activation + "' (expected " + activation_names() + ")");
  layer_spec.activation = *parsed;
  if (layer.contains("slope")) layer_spec.slope = reader.number(layer["slope"], path + ".slope");
  if (layer.contains("dropout")) layer_spec.dropout = reader.number(layer["dropout"], path + ".dropout");
  if (layer.contains("initializer"))
    layer_spec.initializer = reader.initializer(layer["initializer"], path + ".initializer");
  const auto out = static_cast<std::size_t>(layer_spec.units);
  if (layer.contains("weights"))
    layer_spec.weights = reader.matrix(layer["weights"], path + ".weights", static_cast<std::size_t>(in), out);
  if (layer.contains("bias")) layer_spec.bias = reader.vector(layer["bias"], path + ".bias", out);
  return layer_spec;
}

Json LayerFileForm<LayerKind::dense>::write(const NetworkSpec& spec, std::size_t l) {
  const LayerSpec& layer = spec.layers[l];
  Json j;
  j["units"] = layer.units;
  j["activation"] = std::string(to_string(layer.activation));
  if (layer.activation == Activation::leaky_relu) j["slope"] = layer.slope;
  if (layer.dropout > 0) j["dropout"] = layer.dropout;
  if (layer.initializer) j["initializer"] = initializer_json(*layer.initializer);
  if (!layer.weights.empty()) j["weights"] = matrix_json(layer.weights, static_cast<std::size_t>(layer.units));
  if (!layer.bias.empty()) j["bias"] = layer.bias;
  return j;
}

}  // namespace backprop::io::detail
