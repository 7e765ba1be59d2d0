// An embedding's launches on the emulated device (embedding_kernels.hpp): plain loops over the per-value functions
// that CUDA's threads call (embedding.cu), the table's gradient a column at a time as a CUDA thread takes one.
#include <memory>

#include "embedding_kernels.hpp"

namespace backprop::kernels {
namespace {

namespace dm = device_math;

class EmulatedEmbedding final : public LayerKernels<LayerKind::embedding> {
 public:
  void forward(float* y, const float* x, const float* table, int rows, int in, int column, int dim,
               int categories) override {
    const std::size_t out = static_cast<std::size_t>(in) - 1 + dim;
    for (int r = 0; r < rows; ++r)
      for (std::size_t j = 0; j < out; ++j)
        y[r * out + j] = dm::embedding_output(x + static_cast<std::size_t>(r) * in, table, column, dim, categories,
                                              static_cast<int>(j));
  }

  void backward(float* grad_table, float* grad_input, const float* x, const float* dy, int rows, int in, int column,
                int dim, int categories) override {
    for (int d = 0; d < dim; ++d) dm::embedding_gradient_column(grad_table, x, dy, rows, in, column, dim, categories, d);
    if (grad_input == nullptr) return;
    const std::size_t out = static_cast<std::size_t>(in) - 1 + dim;
    for (int r = 0; r < rows; ++r)
      for (int i = 0; i < in; ++i)
        grad_input[static_cast<std::size_t>(r) * in + i] = dm::embedding_input_gradient(dy + r * out, column, dim, i);
  }
};

}  // namespace

template <>
std::unique_ptr<LayerKernelsBase> make_emulated_kernels<LayerKind::embedding>() {
  return std::make_unique<EmulatedEmbedding>();
}

}  // namespace backprop::kernels
