// The activations and their derivatives one value at a time. The loops of kernels/cpu/elementwise.cpp and
// the fused one-row training step (nn/row_step.hpp) are both written with these, so the two compute every
// value with the same operations in the same order.
#pragma once

#include <cmath>

namespace backprop::kernels::element {

// sigma(z) = 1 / (1 + e^-z). For very negative z, e^-z overflows to infinity and 1 / infinity is exactly 0,
// so the plain formula has no NaN and needs no branch (which keeps a loop of it vectorisable).
template <typename T>
inline T sigmoid(T z) {
  return T(1) / (T(1) + std::exp(-z));
}

// dL/dz = dL/da * sigma'(z), sigma'(z) = a (1 - a)
template <typename T>
inline T sigmoid_backward(T da, T a) {
  return da * a * (T(1) - a);
}

template <typename T>
inline T tanh(T z) {
  return std::tanh(z);
}

// tanh'(z) = 1 - a^2
template <typename T>
inline T tanh_backward(T da, T a) {
  return da * (T(1) - a * a);
}

// slope 0: relu.
template <typename T>
inline T leaky_relu(T z, T slope) {
  return z > T(0) ? z : slope * z;
}

// f'(z) = 1 for z > 0, slope otherwise (the derivative at 0 is taken as the slope, as PyTorch does).
template <typename T>
inline T leaky_relu_backward(T da, T z, T slope) {
  return z > T(0) ? da : slope * da;
}

}  // namespace backprop::kernels::element
