// A batch_norm entry of a network file's "layers" (nn/batch_norm.hpp): read and written (io/network_json.hpp).
#include "backprop/nn/spec.hpp"
#include "network_json.hpp"

namespace backprop::io::detail {

using Json = nlohmann::json;

// {"type": "batch_norm"} with optional "momentum" and "eps" (and, in a model, its four arrays): it keeps the width
// of what it normalizes, so "units" may be left out.
LayerSpec LayerFileForm<LayerKind::batch_norm>::read(const Reader& reader, const Json& layer, const std::string& path,
                                                     int in) {
  reader.only_keys(layer, path, {"type", "units", "momentum", "eps", "scale", "shift", "running_mean", "running_var"});
  LayerSpec layer_spec;
  layer_spec.kind = LayerKind::batch_norm;
  layer_spec.activation = Activation::identity;
  layer_spec.units = in;
  if (layer.contains("units")) layer_spec.units = reader.size(layer["units"], path + ".units", 1);
  if (layer.contains("momentum")) layer_spec.batch_norm.momentum = reader.number(layer["momentum"], path + ".momentum");
  if (layer.contains("eps")) layer_spec.batch_norm.eps = reader.number(layer["eps"], path + ".eps");
  const auto out = static_cast<std::size_t>(layer_spec.units);
  for (const LayerArray& array : layer_arrays(layer_spec, in))
    if (const std::string key(array.key); layer.contains(key))
      array.values(layer_spec) = reader.vector(layer[key], path + "." + key, out);
  return layer_spec;
}

Json LayerFileForm<LayerKind::batch_norm>::write(const NetworkSpec& spec, std::size_t l) {
  const LayerSpec& layer = spec.layers[l];
  Json j = {{"type", std::string(to_string(layer.kind))}, {"units", layer.units}};
  if (layer.batch_norm.momentum != LayerSpec{}.batch_norm.momentum) j["momentum"] = layer.batch_norm.momentum;
  if (layer.batch_norm.eps != LayerSpec{}.batch_norm.eps) j["eps"] = layer.batch_norm.eps;
  for (const LayerArray& array : layer_arrays(layer, layer.units))
    if (!array.values(layer).empty()) j[std::string(array.key)] = array.values(layer);
  return j;
}

}  // namespace backprop::io::detail
