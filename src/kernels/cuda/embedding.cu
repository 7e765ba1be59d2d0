// An embedding's launches on CUDA (embedding_kernels.hpp), part of the plugin (backend.cu): one thread per output
// value for the lookup and per input value for dL/dx; one thread per column of the table for its gradient, each
// adding the rows in order (device_math's embedding_*): the CPU's bits and no atomics. A table's width is small,
// so the scatter-add is a narrow launch beside the products.
#include <memory>

#include "embedding_kernels.hpp"
#include "launch.cuh"

namespace backprop::kernels {
namespace {

namespace dm = device_math;

__global__ void embedding_forward_kernel(float* y, const float* x, const float* table, int rows, int in, int column,
                                         int dim, int categories) {
  const std::size_t out = static_cast<std::size_t>(in) - 1 + dim, n = static_cast<std::size_t>(rows) * out;
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    y[i] = dm::embedding_output(x + (i / out) * in, table, column, dim, categories, static_cast<int>(i % out));
}

__global__ void embedding_gradient_kernel(float* grad_table, const float* x, const float* dy, int rows, int in,
                                          int column, int dim, int categories) {
  for (int d = blockIdx.x * blockDim.x + threadIdx.x; d < dim; d += gridDim.x * blockDim.x)
    dm::embedding_gradient_column(grad_table, x, dy, rows, in, column, dim, categories, d);
}

__global__ void embedding_input_gradient_kernel(float* grad_input, const float* dy, int rows, int in, int column,
                                                int dim) {
  const std::size_t out = static_cast<std::size_t>(in) - 1 + dim, n = static_cast<std::size_t>(rows) * in;
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    grad_input[i] = dm::embedding_input_gradient(dy + (i / in) * out, column, dim, static_cast<int>(i % in));
}

class CudaEmbedding final : public LayerKernels<LayerKind::embedding> {
 public:
  explicit CudaEmbedding(cudaStream_t stream) : stream_(stream) {}

  void forward(float* y, const float* x, const float* table, int rows, int in, int column, int dim,
               int categories) override {
    const std::size_t n = static_cast<std::size_t>(rows) * (static_cast<std::size_t>(in) - 1 + dim);
    embedding_forward_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(y, x, table, rows, in, column, dim, categories);
    check(cudaGetLastError(), "embedding forward");
  }

  void backward(float* grad_table, float* grad_input, const float* x, const float* dy, int rows, int in, int column,
                int dim, int categories) override {
    embedding_gradient_kernel<<<blocks_for(dim), kThreads, 0, stream_>>>(grad_table, x, dy, rows, in, column, dim,
                                                                        categories);
    check(cudaGetLastError(), "embedding backward");
    if (grad_input == nullptr) return;
    embedding_input_gradient_kernel<<<blocks_for(static_cast<std::size_t>(rows) * in), kThreads, 0, stream_>>>(
        grad_input, dy, rows, in, column, dim);
    check(cudaGetLastError(), "embedding backward (dL/dx)");
  }

 private:
  cudaStream_t stream_;
};

}  // namespace

template <>
std::unique_ptr<LayerKernelsBase> make_cuda_kernels<LayerKind::embedding>(cudaStream_t stream) {
  return std::make_unique<CudaEmbedding>(stream);
}

}  // namespace backprop::kernels
