// The dense layer: forward and backward side by side.
//
// Forward:   z = a_prev . W + b          (B, OUT) = (B, IN) . (IN, OUT) + (OUT)
//            a = f(z)
// Backward, given dz = dL/dz (B, OUT):
//            dL/dW      = a_prev^T . dz  (IN, OUT) = (IN, B) . (B, OUT)
//            dL/db      = sum over rows of dz
//            dL/da_prev = dz . W^T       (B, IN) = (B, OUT) . (OUT, IN)
// since z[r, o] = sum_i a_prev[r, i] W[i, o] + b[o] is linear in each of W, b and a_prev.
#include "backprop/nn/dense.hpp"

#include "backprop/kernels/kernels.hpp"

namespace backprop {
namespace {

using kernels::Transpose;

// One row (per-sample training, batch-1 inference): the products written out, since for small layers a
// call into the BLAS costs more than the arithmetic. Same formulas, each sum taken in input order.
template <typename T>
void dense_forward_row(T* __restrict z, const T* __restrict input, const T* __restrict weights,
                       const T* __restrict bias, int in, int out) {
  for (int o = 0; o < out; ++o) z[o] = bias[o];
  for (int i = 0; i < in; ++i) {
    const T x = input[i];
    const T* w = weights + static_cast<std::size_t>(i) * out;
    for (int o = 0; o < out; ++o) z[o] += x * w[o];
  }
}

template <typename T>
void dense_backward_row(T* __restrict grad_weights, T* __restrict grad_bias, T* __restrict grad_input,
                        const T* __restrict input, const T* __restrict dz, const T* __restrict weights, int in,
                        int out) {
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
      for (int o = 0; o < out; ++o) sum += dz[o] * w[o];
      grad_input[i] = sum;
    }
  }
}

}  // namespace

// Layers up to this many weights take the row path at batch 1; above it the BLAS's blocking pays.
constexpr long kRowPathWeights = 1L << 20;

template <typename T>
void dense_forward(T* z, T* a, const T* input, const T* weights, const T* bias, const DenseLayer& layer, int batch) {
  if (batch == 1 && static_cast<long>(layer.in) * layer.out <= kRowPathWeights) {
    dense_forward_row(z, input, weights, bias, layer.in, layer.out);
    activation_forward(a, z, layer.activation, static_cast<T>(layer.slope), batch, layer.out);
    return;
  }
  kernels::broadcast_rows(z, bias, batch, layer.out);
  kernels::gemm(Transpose::no, Transpose::no, batch, layer.out, layer.in, T(1), input, layer.in, weights, layer.out,
                T(1), z, layer.out);
  activation_forward(a, z, layer.activation, static_cast<T>(layer.slope), batch, layer.out);
}

template <typename T>
void dense_backward(T* grad_weights, T* grad_bias, T* grad_input, const T* input, const T* dz, const T* weights,
                    const DenseLayer& layer, int batch) {
  if (batch == 1 && static_cast<long>(layer.in) * layer.out <= kRowPathWeights)
    return dense_backward_row(grad_weights, grad_bias, grad_input, input, dz, weights, layer.in, layer.out);
  kernels::gemm(Transpose::yes, Transpose::no, layer.in, layer.out, batch, T(1), input, layer.in, dz, layer.out, T(0),
                grad_weights, layer.out);
  kernels::column_sums(grad_bias, dz, batch, layer.out);
  if (grad_input != nullptr) {
    kernels::gemm(Transpose::no, Transpose::yes, batch, layer.in, layer.out, T(1), dz, layer.out, weights, layer.out,
                  T(0), grad_input, layer.in);
  }
}

template void dense_forward<float>(float*, float*, const float*, const float*, const float*, const DenseLayer&, int);
template void dense_forward<double>(double*, double*, const double*, const double*, const double*, const DenseLayer&,
                                    int);
template void dense_backward<float>(float*, float*, float*, const float*, const float*, const float*,
                                    const DenseLayer&, int);
template void dense_backward<double>(double*, double*, double*, const double*, const double*, const double*,
                                     const DenseLayer&, int);

}  // namespace backprop
