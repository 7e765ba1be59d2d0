// A batch_norm's formulas (nn/batch_norm.hpp has the derivation), written once for the CPU (nn/batch_norm.cpp)
// and both device backends (kernels/cuda/batch_norm_kernels.hpp), as math.hpp's are for every kind.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/math.hpp"

namespace backprop::math {

// Batch normalization over `cols` adjacent features (columns) of a (rows, stride) row-major batch, whose pointers
// here point at the first of them in row 0 (x + j). Each column is summed over the rows in double, row by row in
// order, so the CPU (nn/batch_norm.cpp: blocks of 64 columns, each row's block contiguous), the emulated device and
// the CUDA kernels (a thread per column, cols = 1) give the same statistics for the same values. The pieces below are also what a batch computed in shares (SyncBatchNorm
// under mpirun: nn/network.hpp's BatchSync) sums across the shares between the steps.

// sum[c] = the sum over the rows of x; squares[c] = the sum of (x - mean[c])^2.
template <typename T>
BACKPROP_HD void batch_norm_column_sums(double* sum, const T* x, int rows, int stride, int cols) {
  for (int c = 0; c < cols; ++c) sum[c] = 0;
  for (int r = 0; r < rows; ++r) {
    const T* row = x + static_cast<std::size_t>(r) * stride;
    for (int c = 0; c < cols; ++c) sum[c] += static_cast<double>(row[c]);
  }
}
template <typename T>
BACKPROP_HD void batch_norm_column_squares(double* squares, const double* mean, const T* x, int rows, int stride,
                                           int cols) {
  for (int c = 0; c < cols; ++c) squares[c] = 0;
  for (int r = 0; r < rows; ++r) {
    const T* row = x + static_cast<std::size_t>(r) * stride;
    for (int c = 0; c < cols; ++c) {
      const double d = static_cast<double>(row[c]) - mean[c];
      squares[c] += d * d;
    }
  }
}

// From the batch's mean and biased variance over `count` rows (every share's): inv_std = 1 / sqrt(var + eps),
// kept for the backward pass; the running statistics moved by momentum, the variance's as the unbiased one
// (count / (count - 1)); xhat = (x - mean) inv_std and y = scale xhat + shift for these rows.
template <typename T>
BACKPROP_HD void batch_norm_normalize_columns(T* y, T* xhat, T* inv_std, T* running_mean, T* running_var, const T* x,
                                              const T* scale, const T* shift, int rows, int stride, int cols,
                                              const double* mean, const double* variance, double count,
                                              double momentum, double eps) {
  for (int c = 0; c < cols; ++c) {
    inv_std[c] = static_cast<T>(1.0 / std::sqrt(variance[c] + eps));
    running_mean[c] = static_cast<T>((1.0 - momentum) * running_mean[c] + momentum * mean[c]);
    const double unbiased = variance[c] * count / (count - 1.0);
    running_var[c] = static_cast<T>((1.0 - momentum) * running_var[c] + momentum * unbiased);
  }
  for (int r = 0; r < rows; ++r) {
    const std::size_t o = static_cast<std::size_t>(r) * stride;
    for (int c = 0; c < cols; ++c) {
      xhat[o + c] = static_cast<T>((static_cast<double>(x[o + c]) - mean[c]) * inv_std[c]);
      y[o + c] = scale[c] * xhat[o + c] + shift[c];
    }
  }
}

// Training over one whole batch, cols <= Columns: the mean and biased variance of x, then the above. rows >= 2.
template <int Columns, typename T>
BACKPROP_HD void batch_norm_training_columns(T* y, T* xhat, T* inv_std, T* running_mean, T* running_var, const T* x,
                                             const T* scale, const T* shift, int rows, int stride, int cols,
                                             double momentum, double eps) {
  double mean[Columns], variance[Columns];
  const double count = static_cast<double>(rows);
  batch_norm_column_sums(mean, x, rows, stride, cols);
  for (int c = 0; c < cols; ++c) mean[c] /= count;
  batch_norm_column_squares(variance, mean, x, rows, stride, cols);
  for (int c = 0; c < cols; ++c) variance[c] /= count;
  batch_norm_normalize_columns(y, xhat, inv_std, running_mean, running_var, x, scale, shift, rows, stride, cols, mean,
                               variance, count, momentum, eps);
}

// Evaluation: y = scale (x - running_mean) / sqrt(running_var + eps) + shift, the reciprocal root in double.
template <typename T>
BACKPROP_HD T batch_norm_inverse_std(T running_var, double eps) {
  return static_cast<T>(1.0 / std::sqrt(static_cast<double>(running_var) + eps));
}
template <typename T>
BACKPROP_HD T batch_norm_evaluation(T x, T scale, T shift, T running_mean, T inv_std) {
  return scale * ((x - running_mean) * inv_std) + shift;
}

// The backward pass from dy = dL/dy: the sums over the rows of dy and of dy xhat (the shift's and the scale's
// gradients), then dL/dx = scale inv_std / count (count dy - sum dy - xhat sum dy xhat) for these rows, with
// the sums and count of the whole batch.
template <typename T>
BACKPROP_HD void batch_norm_gradient_sums(double* sum_dy, double* sum_dy_xhat, const T* dy, const T* xhat, int rows,
                                          int stride, int cols) {
  for (int c = 0; c < cols; ++c) sum_dy[c] = sum_dy_xhat[c] = 0;
  for (int r = 0; r < rows; ++r) {
    const std::size_t o = static_cast<std::size_t>(r) * stride;
    for (int c = 0; c < cols; ++c) {
      sum_dy[c] += static_cast<double>(dy[o + c]);
      sum_dy_xhat[c] += static_cast<double>(dy[o + c]) * static_cast<double>(xhat[o + c]);
    }
  }
}
template <typename T>
BACKPROP_HD void batch_norm_input_gradient_columns(T* grad_input, const T* dy, const T* xhat, const T* inv_std,
                                                   const T* scale, int rows, int stride, int cols, double count,
                                                   const double* sum_dy, const double* sum_dy_xhat) {
  for (int r = 0; r < rows; ++r) {
    const std::size_t o = static_cast<std::size_t>(r) * stride;
    for (int c = 0; c < cols; ++c) {
      const double factor = static_cast<double>(scale[c]) * static_cast<double>(inv_std[c]) / count;
      grad_input[o + c] = static_cast<T>(factor * (count * static_cast<double>(dy[o + c]) - sum_dy[c] -
                                                   static_cast<double>(xhat[o + c]) * sum_dy_xhat[c]));
    }
  }
}

// Over one whole batch, cols <= Columns: grad_shift = sum dy, grad_scale = sum dy xhat (OVERWRITTEN), and dL/dx
// unless grad_input is null. Returns whether every one of those gradients is finite.
template <int Columns, typename T>
BACKPROP_HD bool batch_norm_backward_columns(T* grad_scale, T* grad_shift, T* grad_input, const T* dy, const T* xhat,
                                             const T* inv_std, const T* scale, int rows, int stride, int cols) {
  double sum_dy[Columns], sum_dy_xhat[Columns];
  batch_norm_gradient_sums(sum_dy, sum_dy_xhat, dy, xhat, rows, stride, cols);
  bool finite = true;
  for (int c = 0; c < cols; ++c) {
    grad_shift[c] = static_cast<T>(sum_dy[c]);
    grad_scale[c] = static_cast<T>(sum_dy_xhat[c]);
    finite &= std::isfinite(grad_shift[c]) && std::isfinite(grad_scale[c]);
  }
  if (grad_input != nullptr)
    batch_norm_input_gradient_columns(grad_input, dy, xhat, inv_std, scale, rows, stride, cols,
                                      static_cast<double>(rows), sum_dy, sum_dy_xhat);
  return finite;
}

}  // namespace backprop::math
