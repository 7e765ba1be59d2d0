// A batch_norm's launches on CUDA (batch_norm_kernels.hpp), part of the plugin (backend.cu). One thread per column
// (feature), each summing its rows in order in double, as the CPU does (batch_norm_math.hpp's
// batch_norm_*_columns): the same bits as the emulator and no atomics. Reads are coalesced (a warp's threads read
// adjacent columns of a row); a batch_norm's width is a hidden layer's, so these are small beside the products
// around them.
#include <memory>

#include "batch_norm_kernels.hpp"
#include "launch.cuh"

namespace backprop::kernels {
namespace {

__global__ void batch_norm_training_kernel(float* y, float* xhat, float* inv_std, float* running_mean,
                                           float* running_var, const float* x, const float* scale, const float* shift,
                                           int rows, int cols, double momentum, double eps) {
  for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += gridDim.x * blockDim.x)
    math::batch_norm_training_columns<1>(y + c, xhat + c, inv_std + c, running_mean + c, running_var + c, x + c,
                                         scale + c, shift + c, rows, cols, 1, momentum, eps);
}

__global__ void batch_norm_evaluation_kernel(float* y, const float* x, const float* scale, const float* shift,
                                             const float* running_mean, const float* running_var, int rows, int cols,
                                             double eps) {
  const std::size_t n = static_cast<std::size_t>(rows) * cols;
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t c = i % static_cast<std::size_t>(cols);
    y[i] = math::batch_norm_evaluation(x[i], scale[c], shift[c], running_mean[c],
                                       math::batch_norm_inverse_std(running_var[c], eps));
  }
}

__global__ void batch_norm_backward_kernel(float* grad_scale, float* grad_shift, float* grad_input, const float* dy,
                                           const float* xhat, const float* inv_std, const float* scale, int rows,
                                           int cols) {
  for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += gridDim.x * blockDim.x)
    math::batch_norm_backward_columns<1>(grad_scale + c, grad_shift + c, grad_input ? grad_input + c : nullptr,
                                         dy + c, xhat + c, inv_std + c, scale + c, rows, cols, 1);
}

class CudaBatchNorm final : public LayerKernels<LayerKind::batch_norm> {
 public:
  explicit CudaBatchNorm(cudaStream_t stream) : stream_(stream) {}

  void training(float* y, float* xhat, float* inv_std, float* running_mean, float* running_var, const float* x,
                const float* scale, const float* shift, int rows, int cols, double momentum, double eps) override {
    batch_norm_training_kernel<<<blocks_for(cols), kThreads, 0, stream_>>>(y, xhat, inv_std, running_mean, running_var,
                                                                          x, scale, shift, rows, cols, momentum, eps);
    check(cudaGetLastError(), "batch_norm training");
  }

  void evaluation(float* y, const float* x, const float* scale, const float* shift, const float* running_mean,
                  const float* running_var, int rows, int cols, double eps) override {
    batch_norm_evaluation_kernel<<<blocks_for(static_cast<std::size_t>(rows) * cols), kThreads, 0, stream_>>>(
        y, x, scale, shift, running_mean, running_var, rows, cols, eps);
    check(cudaGetLastError(), "batch_norm evaluation");
  }

  void backward(float* grad_scale, float* grad_shift, float* grad_input, const float* dy, const float* xhat,
                const float* inv_std, const float* scale, int rows, int cols) override {
    batch_norm_backward_kernel<<<blocks_for(cols), kThreads, 0, stream_>>>(grad_scale, grad_shift, grad_input, dy,
                                                                          xhat, inv_std, scale, rows, cols);
    check(cudaGetLastError(), "batch_norm backward");
  }

 private:
  cudaStream_t stream_;
};

}  // namespace

template <>
std::unique_ptr<LayerKernelsBase> make_cuda_kernels<LayerKind::batch_norm>(cudaStream_t stream) {
  return std::make_unique<CudaBatchNorm>(stream);
}

}  // namespace backprop::kernels
