// A batch_norm entry in the C export (io/c_layer.hpp). Evaluation's batch_norm is an affine map, which its
// `rewritten` folds into the dense layer after it (fold_batch_norms, nn/batch_norm.hpp) before any entry is
// written, so its entry's parts are never called.
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "backprop/nn/batch_norm.hpp"
#include "io/c_layer.hpp"

namespace backprop::io::detail {
namespace {

[[noreturn]] void folded_away() {
  throw std::logic_error("C export: a batch_norm reached the C form (its rewritten folds each into the layer after it)");
}

}  // namespace

// Every batch_norm folded into the dense layer after it; an int8 layer reads the range of what the batch_norm
// before it read.
std::optional<CModel> CLayer<LayerKind::batch_norm>::rewritten(const ModelFile& model,
                                                              const CExportOptions& options) {
  if (!model.network.has(LayerKind::batch_norm)) return std::nullopt;
  CModel folded{model, options};
  std::vector<std::size_t> from;
  folded.model.network = fold_batch_norms(model.network, &from);
  if (options.input_ranges.size() == model.network.layers.size()) {
    folded.options.input_ranges.clear();
    for (const std::size_t l : from) folded.options.input_ranges.push_back(options.input_ranges[l]);
  }
  return folded;
}

void CLayer<LayerKind::batch_norm>::check(const NetworkSpec&, std::size_t) { folded_away(); }
std::string CLayer<LayerKind::batch_norm>::name(const LayerSpec&) { folded_away(); }
std::string CLayer<LayerKind::batch_norm>::arrays(const ModelFile&, std::size_t, const CExportOptions&) {
  folded_away();
}
std::string CLayer<LayerKind::batch_norm>::code(const ModelFile&, std::size_t, const CShape&, const CExportOptions&,
                                                const std::string&, const std::string&, const std::string&) {
  folded_away();
}

}  // namespace backprop::io::detail
