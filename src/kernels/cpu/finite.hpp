// The finiteness test of the CPU loops, written once. A float or double is NaN or infinite exactly when its
// exponent bits are all ones: with the sign bit cleared, its bits compare >= those of infinity. The largest
// such value over an array is an integer max, which the compiler vectorises (unlike a floating-point sum,
// whose order it must keep), and which a loop that writes the values can keep on the side at no cost
// (Optimizer::step, the one-row step's update).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace backprop::kernels {

template <typename T>
using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;

// The bits of |v|.
template <typename T>
inline Bits<T> magnitude_bits(T v) {
  return std::bit_cast<Bits<T>>(v) & (~Bits<T>(0) >> 1);
}

// A largest magnitude_bits below this: every value was finite.
template <typename T>
inline constexpr Bits<T> kInfinityBits = std::bit_cast<Bits<T>>(std::numeric_limits<T>::infinity());

// The largest magnitude_bits over values[0..n), and over a block of rows x columns with row stride `stride`
// (kernels/cpu/elementwise.cpp, compiled for each CPU level).
template <typename T>
Bits<T> largest_magnitude(const T* values, std::size_t n);
template <typename T>
Bits<T> largest_magnitude(const T* values, int rows, int columns, int stride);

}  // namespace backprop::kernels
