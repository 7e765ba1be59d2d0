// The one-row products of a dense layer (per-sample training, batch-1 inference), shared by dense.cpp and
// the fused one-row training step (row_step.cpp), so that both compute every value with the same code.
// Internal to src/nn.
#pragma once

#include <cstddef>

#include "kernels/math.hpp"

namespace backprop::detail {

// One row (per-sample training, batch-1 inference): the products written out, since for small layers a
// call into the BLAS costs more than the arithmetic. Same formulas, each sum taken in input order.
template <typename T>
inline __attribute__((always_inline)) void dense_forward_row_body(T* __restrict z, const T* __restrict input,
                                                                  const T* __restrict weights,
                                                                  const T* __restrict bias, int in, int out) {
  for (int o = 0; o < out; ++o) z[o] = bias[o];
  for (int i = 0; i < in; ++i) {
    const T x = input[i];
    const T* w = weights + static_cast<std::size_t>(i) * out;
    for (int o = 0; o < out; ++o) z[o] = math::multiply_add(x, w[o], z[o]);
  }
}

template <typename T>
inline __attribute__((always_inline)) void dense_backward_row_body(
    T* __restrict grad_weights, T* __restrict grad_bias, T* __restrict grad_input, const T* __restrict input,
    const T* __restrict dz, const T* __restrict weights, int in, int out) {
  for (int i = 0; i < in; ++i) {
    const T x = input[i];
    T* g = grad_weights + static_cast<std::size_t>(i) * out;
    for (int o = 0; o < out; ++o) g[o] = x * dz[o];
  }
  for (int o = 0; o < out; ++o) grad_bias[o] = dz[o];
  if (grad_input != nullptr) {
    for (int i = 0; i < in; ++i) {
      const T* w = weights + static_cast<std::size_t>(i) * out;
      T sum = 0;
      for (int o = 0; o < out; ++o) sum = math::multiply_add(dz[o], w[o], sum);
      grad_input[i] = sum;
    }
  }
}

// z (OUT) = input (IN) . weights (IN, OUT) + bias (OUT), each sum from the bias in input order. A layer under
// 8 units wide (the seed network's 2, 3 and 1) takes the loops with its width a constant, one copy per
// width: the row's sums stay in registers and the loops unroll, where vector code for 1 to 7 lanes is all
// set-up and remainder (docs/performance.md, "Measurements behind the code"). Each value is the same sum in
// the same order whatever the copy.
template <typename T>
inline __attribute__((always_inline)) void dense_forward_row(T* z, const T* input, const T* weights, const T* bias,
                                                             int in, int out) {
  switch (out) {
    case 1: return dense_forward_row_body(z, input, weights, bias, in, 1);
    case 2: return dense_forward_row_body(z, input, weights, bias, in, 2);
    case 3: return dense_forward_row_body(z, input, weights, bias, in, 3);
    case 4: return dense_forward_row_body(z, input, weights, bias, in, 4);
    case 5: return dense_forward_row_body(z, input, weights, bias, in, 5);
    case 6: return dense_forward_row_body(z, input, weights, bias, in, 6);
    case 7: return dense_forward_row_body(z, input, weights, bias, in, 7);
    default: return dense_forward_row_body(z, input, weights, bias, in, out);
  }
}

// grad_weights (IN, OUT) = input^T dz, grad_bias = dz, grad_input (IN) = W dz (skipped when null); the
// same copies by width.
template <typename T>
inline __attribute__((always_inline)) void dense_backward_row(T* grad_weights, T* grad_bias, T* grad_input,
                                                              const T* input, const T* dz, const T* weights, int in,
                                                              int out) {
  switch (out) {
    case 1: return dense_backward_row_body(grad_weights, grad_bias, grad_input, input, dz, weights, in, 1);
    case 2: return dense_backward_row_body(grad_weights, grad_bias, grad_input, input, dz, weights, in, 2);
    case 3: return dense_backward_row_body(grad_weights, grad_bias, grad_input, input, dz, weights, in, 3);
    case 4: return dense_backward_row_body(grad_weights, grad_bias, grad_input, input, dz, weights, in, 4);
    case 5: return dense_backward_row_body(grad_weights, grad_bias, grad_input, input, dz, weights, in, 5);
    case 6: return dense_backward_row_body(grad_weights, grad_bias, grad_input, input, dz, weights, in, 6);
    case 7: return dense_backward_row_body(grad_weights, grad_bias, grad_input, input, dz, weights, in, 7);
    default: return dense_backward_row_body(grad_weights, grad_bias, grad_input, input, dz, weights, in, out);
  }
}

// The same two, out of line and compiled for each CPU level (base/clones.hpp; defined in dense.cpp):
// the row path of dense.cpp, and the one-row step's layers of 8 units or more. The inline copies above stay
// for the narrow layers, where a call would cost more than the sums; every copy gives the same bits.
template <typename T>
void dense_forward_row_cloned(T* z, const T* input, const T* weights, const T* bias, int in, int out);
template <typename T>
void dense_backward_row_cloned(T* grad_weights, T* grad_bias, T* grad_input, const T* input, const T* dz,
                               const T* weights, int in, int out);

}  // namespace backprop::detail
