// The ranges an int8 export quantizes with (io/c_export.hpp, --quantize int8 --calibration DATA).
#pragma once

#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/nn/network.hpp"

namespace backprop {

// For each layer, the range of |value| of its input over every row of data that holds `fraction` of the values
// (1: the largest): the scaled features for the first layer, the activations of the layer before for the others
// (as inference computes them: no dropout). The default leaves the rarest 0.01% outside (clamped by an int8
// export): on Fashion-MNIST with standardized pixels the largest |input| is 185 where 99.99% lie below 13.6,
// and calibrating on the largest cost 2.9 points of test accuracy against 0.0 for the 99.99th percentile
// (docs/c-export.md).
std::vector<double> layer_input_ranges(const Network<float>& network, const Dataset& data, const Scaling& scaling,
                                       double fraction = 0.9999);

}  // namespace backprop
