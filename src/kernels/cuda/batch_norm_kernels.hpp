// A batch_norm's launches on a device (LayerKernels<batch_norm>, kernels/device.hpp), called by its device part
// (src/device/batch_norm_device.cpp) and implemented by each backend in this kind's own files: the emulator's in
// batch_norm_emulated.cpp, CUDA's in batch_norm.cu. Both run batch_norm_math.hpp's batch_norm_* over a column at a
// time (each column summed in double, row by row in order, as on the CPU), so they give the CPU's statistics.
#pragma once

#include "kernels/batch_norm_math.hpp"
#include "kernels/device.hpp"

namespace backprop::kernels {

template <>
struct LayerKernels<LayerKind::batch_norm> : LayerKernelsBase {
  // Training over a (rows x cols) batch, feature by feature: y and xhat (rows x cols) from x with the batch's
  // statistics, inv_std (cols) = 1 / sqrt(var + eps) for the backward pass, running_mean and running_var (cols)
  // moved by momentum; rows >= 2.
  virtual void training(float* y, float* xhat, float* inv_std, float* running_mean, float* running_var,
                        const float* x, const float* scale, const float* shift, int rows, int cols, double momentum,
                        double eps) = 0;
  // Evaluation: y from x with the running statistics.
  virtual void evaluation(float* y, const float* x, const float* scale, const float* shift, const float* running_mean,
                          const float* running_var, int rows, int cols, double eps) = 0;
  // Backward from dy = dL/dy (rows x cols): grad_scale and grad_shift (cols, OVERWRITTEN), and dL/dx into
  // grad_input (rows x cols) unless it is null; grad_input may not alias dy.
  virtual void backward(float* grad_scale, float* grad_shift, float* grad_input, const float* dy, const float* xhat,
                        const float* inv_std, const float* scale, int rows, int cols) = 0;
};

}  // namespace backprop::kernels
