// A batch_norm entry in the C export (io/c_layer.hpp): none of its own. Evaluation's batch_norm is an affine map,
// which c_source folds into the dense layer after it (fold_batch_norms, nn/batch_norm.hpp) before any entry is
// written, so these are never called.
#include <stdexcept>
#include <string>

#include "io/c_layer.hpp"

namespace backprop::io::detail {
namespace {

[[noreturn]] void folded_away() {
  throw std::logic_error("C export: a batch_norm reached the C form (c_source folds each into the layer after it)");
}

}  // namespace

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
