#include "backprop/nn/batch_rows.hpp"

#include "backprop/base/layer_kind_parts.hpp"

namespace backprop {

std::string FewestBatchRows::expected(const std::string& where) const {
  return "expected at least " + std::to_string(rows) + " rows" + where + " for a network with " +
         layer_kind_entry(kind).name + " (" + why + ")";
}

FewestBatchRows fewest_batch_rows(const NetworkSpec& spec) {
  FewestBatchRows fewest;
  for (const LayerSpec& layer : spec.layers) {
    const BatchRows asked =
        with_layer_kind(layer.kind, [](auto k) { return LayerSettings<decltype(k)::value>::fewest_batch_rows; });
    if (asked.rows > fewest.rows) fewest = {asked.rows, layer.kind, asked.why};
  }
  return fewest;
}

}  // namespace backprop
