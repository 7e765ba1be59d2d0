// The activations and their derivatives one value at a time. The loops of kernels/cpu/elementwise.cpp and
// the fused one-row training step (nn/row_step.hpp) are both written with these, so the two compute every
// value with the same operations in the same order.
#pragma once

#include <cmath>

namespace backprop::kernels::element {

// a * b + c rounded once where the CPU has a fused multiply-add (FMA), else twice. Written out rather than
// left to the compiler's contraction of a * b + c, which depends on the code around an inlined copy: the
// one-row step and the general path compute the same sums in different surroundings and must round them
// alike (tests/test_row_step.cpp).
template <typename T>
inline __attribute__((always_inline)) T multiply_add(T a, T b, T c) {
#ifdef __FMA__
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

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
  return da * multiply_add(-a, a, T(1));
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
