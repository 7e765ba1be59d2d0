// An embedding's launches on a device (LayerKernels<embedding>, kernels/device.hpp), called by its device part
// (src/device/embedding_device.cpp) and implemented by each backend in this kind's own files (the emulator's in
// embedding_emulated.cpp, CUDA's in embedding.cu), with what they do per value written once below for both.
#pragma once

#include <cstddef>
#include <cstdint>

#include "device_math.hpp"
#include "kernels/embedding_math.hpp"
#include "kernels/device.hpp"

namespace backprop::kernels {

template <>
struct LayerKernels<LayerKind::embedding> : LayerKernelsBase {
  // An embedding (nn/embedding.hpp) of column `column` of x (rows x in): y (rows x (in - 1 + dim)) with the dim
  // values of its code's row of table (categories x dim) in the code's place (device_math::embedding_output: a
  // code that is not one gives NaN, never a read outside the table).
  virtual void forward(float* y, const float* x, const float* table, int rows, int in, int column, int dim,
                       int categories) = 0;
  // Backward from dy (rows x (in - 1 + dim)): grad_table (categories x dim, OVERWRITTEN) with each row's dy at the
  // code's place added into its code's row, rows in order (the CPU's bits: no atomics); grad_input (rows x in) =
  // dy passed through with 0 at the code, unless it is null.
  virtual void backward(float* grad_table, float* grad_input, const float* x, const float* dy, int rows, int in,
                        int column, int dim, int categories) = 0;
};

namespace device_math {

// Value j of an output row from its input row xr: the inputs before the code, the code's row of the table
// (categories x dim), the inputs after it. A code that is not one (math::embedding_row; the host checks the
// data before a gather) gives NaN, never a read outside the table.
BACKPROP_HD float embedding_output(const float* xr, const float* table, int column, int dim, int categories, int j) {
  if (j < column) return xr[j];
  if (j >= column + dim) return xr[j - dim + 1];
  const std::int64_t code = math::embedding_row(xr[column], categories);
  return code < 0 ? quiet_nan() : table[code * dim + (j - column)];
}

// dL/dx[i] of an input row from dL/dy's row dyr: passed through, 0 at the code (an index).
BACKPROP_HD float embedding_input_gradient(const float* dyr, int column, int dim, int i) {
  return i == column ? 0.0f : dyr[i < column ? i : i + dim - 1];
}

// Column d of the table's gradient (categories x dim), OVERWRITTEN: each row's dL/dy at the code's place added
// into its code's row, the rows in order, in float, as nn/embedding.cpp adds them (the same bits); a row whose
// code is not one adds nothing.
BACKPROP_HD void embedding_gradient_column(float* grad_table, const float* x, const float* dy, int rows, int in,
                                           int column, int dim, int categories, int d) {
  const int out = in - 1 + dim;
  for (int c = 0; c < categories; ++c) grad_table[static_cast<std::size_t>(c) * dim + d] = 0.0f;
  for (int r = 0; r < rows; ++r) {
    const std::int64_t code = math::embedding_row(x[static_cast<std::size_t>(r) * in + column], categories);
    if (code >= 0) grad_table[code * dim + d] += dy[static_cast<std::size_t>(r) * out + column + d];
  }
}

}  // namespace device_math
}  // namespace backprop::kernels
