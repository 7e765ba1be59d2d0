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

using kernels::Transpose;

template <typename T>
void dense_forward(T* z, T* a, const T* input, const T* weights, const T* bias, const DenseLayer& layer, int batch) {
  kernels::broadcast_rows(z, bias, batch, layer.out);
  kernels::gemm(Transpose::no, Transpose::no, batch, layer.out, layer.in, T(1), input, layer.in, weights, layer.out,
                T(1), z, layer.out);
  activation_forward(a, z, layer.activation, static_cast<T>(layer.slope), batch, layer.out);
}

template <typename T>
void dense_backward(T* grad_weights, T* grad_bias, T* grad_input, const T* input, const T* dz, const T* weights,
                    const DenseLayer& layer, int batch) {
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
