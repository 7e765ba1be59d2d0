#include "backprop/train/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "backprop/train/trainer.hpp"

namespace backprop {
namespace {

// Calls visit(layer, values, count) with the inputs of every layer over every row of data: the scaled features
// for the first layer, the activations a of the layer before for the others.
void visit_layer_inputs(const Network<float>& network, const Dataset& data, const Scaling& scaling,
                        const std::function<void(std::size_t, const float*, std::size_t)>& visit) {
  constexpr std::size_t kRows = 1024;
  std::vector<std::size_t> indices(kRows);
  std::vector<float> rows(kRows * static_cast<std::size_t>(data.features));
  for (std::size_t first = 0; first < data.rows; first += kRows) {
    const std::size_t count = std::min(kRows, data.rows - first);
    std::iota(indices.begin(), indices.begin() + static_cast<std::ptrdiff_t>(count), first);
    data.gather_rows(rows.data(), indices.data(), count, scaling);
    visit(0, rows.data(), count * static_cast<std::size_t>(data.features));
  }
  forward_batches(network, data, scaling, static_cast<int>(kRows),
                  [&](std::size_t, std::size_t count, const Workspace<float>& workspace) {
                    for (std::size_t l = 0; l + 1 < network.layer_count(); ++l)
                      visit(l + 1, workspace.a(l), count * static_cast<std::size_t>(network.spec().layers[l].units));
                  });
}

}  // namespace

std::vector<double> layer_input_ranges(const Network<float>& network, const Dataset& data, const Scaling& scaling,
                                       double fraction) {
  const std::size_t layers = network.layer_count();
  std::vector<double> largest(layers, 0.0);
  visit_layer_inputs(network, data, scaling, [&](std::size_t l, const float* values, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) largest[l] = std::max(largest[l], static_cast<double>(std::abs(values[i])));
  });
  if (fraction >= 1.0) return largest;
  // A histogram of |value| over [0, largest] per layer; the range is the upper edge of the bin in which the
  // count of values at or below it reaches `fraction` of all.
  constexpr std::size_t kBins = 4096;
  std::vector<std::vector<std::size_t>> histograms(layers, std::vector<std::size_t>(kBins, 0));
  visit_layer_inputs(network, data, scaling, [&](std::size_t l, const float* values, std::size_t count) {
    if (largest[l] == 0.0) return;
    const double per_bin = kBins / largest[l];
    for (std::size_t i = 0; i < count; ++i)
      ++histograms[l][std::min(kBins - 1, static_cast<std::size_t>(std::abs(values[i]) * per_bin))];
  });
  std::vector<double> ranges(layers, 0.0);
  for (std::size_t l = 0; l < layers; ++l) {
    const std::size_t total = std::accumulate(histograms[l].begin(), histograms[l].end(), std::size_t{0});
    std::size_t seen = 0, bin = 0;
    while (bin < kBins && static_cast<double>(seen + histograms[l][bin]) < fraction * static_cast<double>(total))
      seen += histograms[l][bin++];
    ranges[l] = largest[l] * static_cast<double>(std::min(bin + 1, kBins)) / kBins;
  }
  return ranges;
}

}  // namespace backprop
