// Weight initializers, reproducible from the network's seed on every platform: the generator is
// std::mt19937_64's sequence (base/random.hpp; the C++ standard fixes it) and the uniform and normal draws are written
// here rather than taken from <random>'s distributions, whose output the standard leaves to each library.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backprop/base/random.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {


// Fills weights (IN * OUT values, row-major (IN, OUT)) by the initializer's rule.
void initialize_weights(std::vector<double>& weights, const InitializerSpec& initializer, Activation activation,
                        int in, int out, Random& random);

}  // namespace backprop
