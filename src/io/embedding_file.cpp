// An embedding entry of a network file's "layers" (nn/embedding.hpp): read and written (io/network_json.hpp).
#include <algorithm>
#include <climits>

#include "backprop/nn/spec.hpp"
#include "network_json.hpp"

namespace backprop::io::detail {

using Json = nlohmann::json;

// {"type": "embedding", "input": K, "categories": N, "dim": D} (and, in a model, its weights (N, D)): it puts D
// values in place of input position K, so its units are IN - 1 + D.
LayerSpec LayerFileForm<LayerKind::embedding>::read(const Reader& reader, const Json& layer, const std::string& path,
                                                    int in) {
  reader.only_keys(layer, path, {"type", "input", "categories", "dim", "weights"});
  LayerSpec layer_spec;
  layer_spec.kind = LayerKind::embedding;
  layer_spec.activation = Activation::identity;
  for (const char* key : {"input", "categories", "dim"})
    if (!layer.contains(key)) reader.fail(path + "." + key, "missing");
  layer_spec.embedding.column = reader.size(layer["input"], path + ".input", 0);
  layer_spec.embedding.categories = reader.size(layer["categories"], path + ".categories", 1);
  const int dim = reader.size(layer["dim"], path + ".dim", 1);
  layer_spec.units = static_cast<int>(std::min<long long>(in - 1LL + dim, INT_MAX));
  if (layer.contains("weights"))
    layer_spec.weights =
        reader.matrix(layer["weights"], path + ".weights", static_cast<std::size_t>(layer_spec.embedding.categories),
                      static_cast<std::size_t>(dim));
  return layer_spec;
}

Json LayerFileForm<LayerKind::embedding>::write(const NetworkSpec& spec, std::size_t l) {
  const LayerSpec& layer = spec.layers[l];
  const int dim = layer.units - spec.layer_input(l) + 1;
  Json j = {{"type", std::string(to_string(layer.kind))},
            {"input", layer.embedding.column},
            {"categories", layer.embedding.categories},
            {"dim", dim}};
  if (!layer.weights.empty()) j["weights"] = matrix_json(layer.weights, static_cast<std::size_t>(dim));
  return j;
}

}  // namespace backprop::io::detail
