// Activations over a (rows x cols) matrix: forward and derivative side by side, each the kernels' loop over
// its formula in src/kernels/math.hpp (identity, sigmoid, tanh, relu = leaky_relu with slope 0, leaky_relu,
// and softmax row by row), where each formula and its derivative are stated.
#include <algorithm>
#include <cstddef>

#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/dense.hpp"

namespace backprop {

template <typename T>
void activation_forward(T* a, const T* z, Activation activation, T slope, int rows, int cols) {
  const std::size_t n = static_cast<std::size_t>(rows) * cols;
  switch (activation) {
    case Activation::identity: std::copy(z, z + n, a); break;
    case Activation::sigmoid: kernels::sigmoid_forward(a, z, n); break;
    case Activation::tanh: kernels::tanh_forward(a, z, n); break;
    case Activation::relu: kernels::leaky_relu_forward(a, z, n, T(0)); break;
    case Activation::leaky_relu: kernels::leaky_relu_forward(a, z, n, slope); break;
    case Activation::softmax: kernels::softmax_forward(a, z, rows, cols); break;
  }
}

template <typename T>
void activation_backward(T* dz, const T* z, const T* a, const T* da, Activation activation, T slope, int rows,
                         int cols) {
  const std::size_t n = static_cast<std::size_t>(rows) * cols;
  switch (activation) {
    case Activation::identity:
      if (dz != da) std::copy(da, da + n, dz);
      break;
    case Activation::sigmoid: kernels::sigmoid_backward(dz, da, a, n); break;
    case Activation::tanh: kernels::tanh_backward(dz, da, a, n); break;
    case Activation::relu: kernels::leaky_relu_backward(dz, da, z, n, T(0)); break;
    case Activation::leaky_relu: kernels::leaky_relu_backward(dz, da, z, n, slope); break;
    case Activation::softmax: kernels::softmax_backward(dz, da, a, rows, cols); break;
  }
}

template void activation_forward<float>(float*, const float*, Activation, float, int, int);
template void activation_forward<double>(double*, const double*, Activation, double, int, int);
template void activation_backward<float>(float*, const float*, const float*, const float*, Activation, float, int,
                                         int);
template void activation_backward<double>(double*, const double*, const double*, const double*, Activation, double,
                                          int, int);

}  // namespace backprop
