// Element-wise kernels. Plain loops the compiler vectorises over the formulas of kernels/math.hpp (which
// takes the activation derivatives from the saved output a where that is cheaper than from z: sigmoid,
// tanh).
#include <algorithm>
#include <atomic>
#include <cmath>

#include "base/clones.hpp"
#include "kernels/cpu/finite.hpp"
#include "kernels/math.hpp"
#include "backprop/kernels/kernels.hpp"

namespace backprop::kernels {

template <typename T>
void broadcast_rows(T* out, const T* bias, int rows, int cols) {
  for (int r = 0; r < rows; ++r) std::copy(bias, bias + cols, out + static_cast<std::size_t>(r) * cols);
}

template <typename T>
void column_sums_loop(T* __restrict sums, const T* __restrict in, int rows, int cols, int ld) {
  for (int c = 0; c < cols; ++c) sums[c] = in[c];
  for (int r = 1; r < rows; ++r) {
    const T* row = in + static_cast<std::size_t>(r) * ld;
    for (int c = 0; c < cols; ++c) sums[c] += row[c];
  }
}

template <typename T>
void column_sums(T* sums, const T* in, int rows, int cols, int ld) {
  clones::run<&column_sums_loop<T>>(sums, in, rows, cols, ld);
}

template <typename T>
void column_sums(T* sums, const T* in, int rows, int cols) {
  column_sums(sums, in, rows, cols, cols);
}

template <typename T>
void activation_forward_loop(T* a, const T* z, std::size_t n, Activation f, T slope) {
  math::with_activation(f, [&](auto kind) {
    for (std::size_t i = 0; i < n; ++i) a[i] = math::activate<decltype(kind)::value>(z[i], slope);
  });
}

template <typename T>
void activation_forward(T* a, const T* z, std::size_t n, Activation f, T slope) {
  clones::run<&activation_forward_loop<T>>(a, z, n, f, slope);
}

template <typename T>
void activation_backward_loop(T* dz, const T* da, const T* z, const T* a, std::size_t n, Activation f,
                              T slope) {
  math::with_activation(f, [&](auto kind) {
    for (std::size_t i = 0; i < n; ++i) dz[i] = math::derivative<decltype(kind)::value>(da[i], z[i], a[i], slope);
  });
}

template <typename T>
void activation_backward(T* dz, const T* da, const T* z, const T* a, std::size_t n, Activation f, T slope) {
  clones::run<&activation_backward_loop<T>>(dz, da, z, a, n, f, slope);
}

template <typename T>
void softmax_forward_loop(T* a, const T* z, int rows, int cols) {
  for (int r = 0; r < rows; ++r)
    math::softmax_row(a + static_cast<std::size_t>(r) * cols, z + static_cast<std::size_t>(r) * cols, cols);
}

template <typename T>
void softmax_forward(T* a, const T* z, int rows, int cols) {
  clones::run<&softmax_forward_loop<T>>(a, z, rows, cols);
}

template <typename T>
void softmax_backward_loop(T* dz, const T* da, const T* a, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    const std::size_t o = static_cast<std::size_t>(r) * cols;
    math::softmax_backward_row(dz + o, da + o, a + o, cols);
  }
}

template <typename T>
void softmax_backward(T* dz, const T* da, const T* a, int rows, int cols) {
  clones::run<&softmax_backward_loop<T>>(dz, da, a, rows, cols);
}

// The largest magnitude_bits over the array (kernels/cpu/finite.hpp).
template <typename T>
Bits<T> largest_magnitude_loop(const T* values, std::size_t n) {
  Bits<T> largest = 0;
  for (std::size_t i = 0; i < n; ++i) largest = std::max(largest, magnitude_bits(values[i]));
  return largest;
}

template <typename T>
Bits<T> largest_magnitude(const T* values, std::size_t n) {
  return clones::run<&largest_magnitude_loop<T>>(values, n);
}

template <typename T>
Bits<T> largest_magnitude(const T* values, int rows, int columns, int stride) {
  Bits<T> largest = 0;
  for (int r = 0; r < rows; ++r)
    largest = std::max(largest, largest_magnitude(values + static_cast<std::size_t>(r) * stride,
                                                  static_cast<std::size_t>(columns)));
  return largest;
}

template <typename T>
bool all_finite(const T* values, std::size_t n) {
  constexpr Bits<T> infinity = kInfinityBits<T>;
  constexpr std::size_t kGrain = 1 << 16;
  if (n <= kGrain) return largest_magnitude(values, n) < infinity;  // the seed network checks 19 values a step
  std::atomic<bool> finite{true};
  parallel_ranges(n, kGrain, [&](std::size_t first, std::size_t count) {
    if (largest_magnitude(values + first, count) >= infinity) finite.store(false, std::memory_order_relaxed);
  });
  return finite.load();
}

template <typename T>
void sgd_update_loop(T* parameters, const T* gradients, std::size_t n, T learning_rate) {
  for (std::size_t i = 0; i < n; ++i) math::sgd(parameters[i], gradients[i], learning_rate, T(0));
}

template <typename T>
void sgd_update(T* parameters, const T* gradients, std::size_t n, T learning_rate) {
  clones::run<&sgd_update_loop<T>>(parameters, gradients, n, learning_rate);
}

#define BACKPROP_INSTANTIATE(T)                                                   \
  template void broadcast_rows<T>(T*, const T*, int, int);                        \
  template void column_sums<T>(T*, const T*, int, int);                           \
  template void column_sums<T>(T*, const T*, int, int, int);                      \
  template void activation_forward<T>(T*, const T*, std::size_t, Activation, T);  \
  template void activation_backward<T>(T*, const T*, const T*, const T*, std::size_t, Activation, T);  \
  template void softmax_forward<T>(T*, const T*, int, int);                       \
  template void softmax_backward<T>(T*, const T*, const T*, int, int);            \
  template void sgd_update<T>(T*, const T*, std::size_t, T);                      \
  template bool all_finite<T>(const T*, std::size_t);                            \
  template Bits<T> largest_magnitude<T>(const T*, std::size_t);                   \
  template Bits<T> largest_magnitude<T>(const T*, int, int, int);
BACKPROP_INSTANTIATE(float)
BACKPROP_INSTANTIATE(double)
#undef BACKPROP_INSTANTIATE

}  // namespace backprop::kernels
