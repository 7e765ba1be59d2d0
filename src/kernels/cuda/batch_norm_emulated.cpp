// A batch_norm's launches on the emulated device (batch_norm_kernels.hpp): plain loops, a column at a time as a
// CUDA thread takes one (batch_norm.cu), over batch_norm_math.hpp's batch_norm_*.
#include <memory>

#include "batch_norm_kernels.hpp"

namespace backprop::kernels {
namespace {

class EmulatedBatchNorm final : public LayerKernels<LayerKind::batch_norm> {
 public:
  void training(float* y, float* xhat, float* inv_std, float* running_mean, float* running_var, const float* x,
                const float* scale, const float* shift, int rows, int cols, double momentum, double eps) override {
    for (int c = 0; c < cols; ++c)
      math::batch_norm_training_columns<1>(y + c, xhat + c, inv_std + c, running_mean + c, running_var + c, x + c,
                                           scale + c, shift + c, rows, cols, 1, momentum, eps);
  }

  void evaluation(float* y, const float* x, const float* scale, const float* shift, const float* running_mean,
                  const float* running_var, int rows, int cols, double eps) override {
    for (std::size_t i = 0; i < static_cast<std::size_t>(rows) * cols; ++i) {
      const std::size_t c = i % static_cast<std::size_t>(cols);
      y[i] = math::batch_norm_evaluation(x[i], scale[c], shift[c], running_mean[c],
                                         math::batch_norm_inverse_std(running_var[c], eps));
    }
  }

  void backward(float* grad_scale, float* grad_shift, float* grad_input, const float* dy, const float* xhat,
                const float* inv_std, const float* scale, int rows, int cols) override {
    for (int c = 0; c < cols; ++c)
      math::batch_norm_backward_columns<1>(grad_scale + c, grad_shift + c, grad_input ? grad_input + c : nullptr,
                                           dy + c, xhat + c, inv_std + c, scale + c, rows, cols, 1);
  }
};

}  // namespace

template <>
std::unique_ptr<LayerKernelsBase> make_emulated_kernels<LayerKind::batch_norm>() {
  return std::make_unique<EmulatedBatchNorm>();
}

}  // namespace backprop::kernels
