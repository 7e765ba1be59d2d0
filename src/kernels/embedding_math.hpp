// An embedding's formula (nn/embedding.hpp), written once for the CPU (nn/embedding.cpp), the device's check of
// the codes (device/device_network.cpp) and both device backends (kernels/cuda/embedding_kernels.hpp).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/math.hpp"

namespace backprop::math {

// The row of an embedding's table (nn/embedding.hpp) that the code v picks: v when it is a whole number in
// [0, categories), compared in T as the network reads it, else -1, which every caller refuses before it indexes
// the table (the CPU throws, a device writes NaN).
template <typename T>
BACKPROP_HD std::int64_t embedding_row(T v, int categories) {
  return v >= T(0) && v < static_cast<T>(categories) && std::floor(v) == v ? static_cast<std::int64_t>(v) : -1;
}

}  // namespace backprop::math
