// Activations over a (rows x cols) matrix: forward and derivative side by side, each the kernels' loop over
// its formula in src/kernels/math.hpp (each element-wise activation, and softmax row by row), where each
// formula and its derivative are stated.
#include <cstddef>

#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/dense.hpp"

namespace backprop {

template <typename T>
void activation_forward(T* a, const T* z, Activation activation, T slope, int rows, int cols) {
  if (activation == Activation::softmax) return kernels::softmax_forward(a, z, rows, cols);
  kernels::activation_forward(a, z, static_cast<std::size_t>(rows) * cols, activation, slope);
}

template <typename T>
void activation_backward(T* dz, const T* z, const T* a, const T* da, Activation activation, T slope, int rows,
                         int cols) {
  if (activation == Activation::softmax) return kernels::softmax_backward(dz, da, a, rows, cols);
  kernels::activation_backward(dz, da, z, a, static_cast<std::size_t>(rows) * cols, activation, slope);
}

template void activation_forward<float>(float*, const float*, Activation, float, int, int);
template void activation_forward<double>(double*, const double*, Activation, double, int, int);
template void activation_backward<float>(float*, const float*, const float*, const float*, Activation, float, int,
                                         int);
template void activation_backward<double>(double*, const double*, const double*, const double*, Activation, double,
                                          int, int);

}  // namespace backprop
