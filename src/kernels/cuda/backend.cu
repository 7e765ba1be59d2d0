// The CUDA backend of kernels/device.hpp: cuBLAS for the products and the bias-gradient sums, kernels of
// ours for the element-wise and per-row work, all on one stream. Built as a plugin, libbackprop_cuda.so,
// that loader.cpp opens only when a GPU is asked for: a program linking cuBLAS maps it at start-up
// (over 200 MB of resident memory), which a CPU run must not pay. Each layer kind's own launches are in the
// kind's own .cu (batch_norm.cu for batch_norm), on this backend's stream. The per-element math is kernels/math.hpp's
// (the CPU path's) and device_math.hpp's, shared with the emulator the tests hold this backend against.
//
// Reductions (the loss and metric sums, the gradient norm) are two-stage with a fixed geometry: each block
// sums its threads' values by a fixed tree into one partial, then one block sums the partials in a fixed
// order. No atomics, so a run gives the same bits every time.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "backprop/base/error.hpp"
#include "kernels/device.hpp"
#include "device_math.hpp"
#include "launch.cuh"

namespace backprop::kernels {
// Beside launch.cuh's check of a CUDA status (in the same scope, so that both overloads are found).
inline void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw_runtime_error(std::string("cuBLAS: ") + what + ": status " + std::to_string(static_cast<int>(status)));
}

namespace {

namespace dm = device_math;

constexpr int kNormBlocks = 256;     // the gradient norm's fixed first-stage grid

cublasOperation_t to_cublas(Transpose t) { return t == Transpose::yes ? CUBLAS_OP_T : CUBLAS_OP_N; }

// Sums value over the block's threads by a fixed tree (kThreads a power of two); thread 0 gets the sum.
template <typename T>
__device__ T block_sum(T value, T* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  const T sum = shared[0];
  __syncthreads();
  return sum;
}

__global__ void fill_kernel(float* x, float value, std::size_t n) {
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    x[i] = value;
}

__global__ void bias_activation_kernel(float* z, float* a, const float* bias, int rows, int cols, Activation f,
                                       float slope) {
  const std::size_t n = static_cast<std::size_t>(rows) * cols;
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float value = z[i] + bias[i % cols];
    z[i] = value;
    a[i] = math::activate(f, value, slope);
  }
}

// One thread per row.
__global__ void bias_softmax_kernel(float* z, float* a, const float* bias, int rows, int cols) {
  for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x) {
    float* zr = z + static_cast<std::size_t>(r) * cols;
    for (int c = 0; c < cols; ++c) zr[c] += bias[c];
    math::softmax_row(a + static_cast<std::size_t>(r) * cols, zr, cols);
  }
}

__global__ void dropout_kernel(float* mask, float* dropped, const float* a, std::size_t n, float p, float keep_scale,
                               std::uint64_t seed) {
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float m = math::dropout_mask(dm::uniform_hash(seed, i), p, keep_scale);
    mask[i] = m;
    dropped[i] = a[i] * m;
  }
}

__global__ void activation_backward_kernel(float* dz, const float* da, const float* mask, const float* z,
                                           const float* a, std::size_t n, Activation f, float slope) {
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float d = mask != nullptr ? da[i] * mask[i] : da[i];
    dz[i] = math::derivative(f, d, z[i], a[i], slope);
  }
}

// One thread per row; dz may alias da (each row reads its da before writing dz).
__global__ void softmax_backward_kernel(float* dz, const float* da, const float* mask, const float* a, int rows,
                                        int cols) {
  for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x) {
    const std::size_t o = static_cast<std::size_t>(r) * cols;
    const float* d = da + o;
    if (mask != nullptr) {  // the masked row into dz first (dz may alias da)
      for (int c = 0; c < cols; ++c) dz[o + c] = da[o + c] * mask[o + c];
      d = dz + o;
    }
    math::softmax_backward_row(dz + o, d, a + o, cols);
  }
}

__global__ void gather_inputs_kernel(float* x, DeviceRows rows, const std::uint32_t* order, std::size_t first,
                                     int count) {
  const std::size_t n = static_cast<std::size_t>(count) * rows.features;
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t row = i / rows.features;
    x[i] = dm::input_value(rows, order[first + row], static_cast<int>(i % rows.features));
  }
}

__global__ void gather_targets_kernel(float* y, std::int32_t* labels, float* weights, DeviceRows rows,
                                      const std::uint32_t* order, std::size_t first, int count) {
  const std::size_t n = static_cast<std::size_t>(count) * rows.outputs;
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t row = i / rows.outputs;
    const int o = static_cast<int>(i % rows.outputs);
    const std::size_t r = order[first + row];
    y[i] = dm::target_value(rows, r, o);
    if (o == 0 && labels != nullptr && rows.labels != nullptr) labels[row] = rows.labels[r];
    if (o == 0 && weights != nullptr && rows.weights != nullptr) weights[row] = rows.weights[r];
  }
}

// First stage of the loss: one thread per row, one partial (MetricSums' fields, as doubles) per block.
__global__ void loss_rows_kernel(double* partials, float* dz, const float* z, const float* a, const float* y,
                                 const std::int32_t* labels, const float* weights, double denominator, int rows,
                                 int cols, LossKind loss, double label_smoothing, Activation output, float slope,
                                 float inverse_batch) {
  __shared__ double shared[kThreads];
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  MetricSums row;
  if (r < rows) {
    const std::size_t o = static_cast<std::size_t>(r) * cols;
    const dm::RowShare share = dm::row_share(weights, r, denominator, inverse_batch);
    row = dm::loss_row(dz ? dz + o : nullptr, z + o, a + o, y + o, labels ? labels[r] : -1, cols, loss,
                       label_smoothing, output, slope, share.scale, share.weight);
  }
  double fields[MetricSums::kFields];
  row.to_array(fields);
  double* out = partials + MetricSums::kFields * static_cast<std::size_t>(blockIdx.x);
  for (int j = 0; j < MetricSums::kFields; ++j) {
    const double total = block_sum(fields[j], shared);
    if (threadIdx.x == 0) out[j] = total;
  }
}

// Second stage: one block sums the partials in a fixed order into sums and status.
__global__ void loss_finish_kernel(MetricSums* sums, StepStatus* status, const double* partials, int blocks,
                                   int rows, bool weighted, double denominator) {
  __shared__ double shared[kThreads];
  constexpr int kFields = MetricSums::kFields;
  double part[kFields] = {};
  for (int b = threadIdx.x; b < blocks; b += kThreads)
    for (int j = 0; j < kFields; ++j) part[j] += partials[kFields * static_cast<std::size_t>(b) + j];
  double total[kFields];
  for (int j = 0; j < kFields; ++j) total[j] = block_sum(part[j], shared);
  if (threadIdx.x == 0) {
    MetricSums batch;
    batch.from_array(total);
    const double batch_loss = dm::batch_loss(batch, rows, weighted, denominator);
    sums->add(batch);
    if (status != nullptr) {
      status->batch_loss = batch_loss;
      if (!isfinite(static_cast<float>(status->batch_loss)) && status->diverged == 0) status->diverged = 3;
    }
  }
}

__global__ void squares_kernel(double* partials, const float* g, std::size_t n) {
  __shared__ double shared[kThreads];
  double sum = 0;
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    sum += static_cast<double>(g[i]) * g[i];
  const double block = block_sum(sum, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = block;
}

__global__ void check_finish_kernel(StepStatus* status, const double* partials, float max_norm, std::int64_t step) {
  __shared__ double shared[kThreads];
  double part = 0;
  for (int b = threadIdx.x; b < kNormBlocks; b += kThreads) part += partials[b];
  const double sum = block_sum(part, shared);
  if (threadIdx.x == 0) {
    status->squared_norm = sum;
    if (status->diverged == 3) {
      status->diverged = 1;
      status->diverged_step = step;
    }
    if (!isfinite(sum) && status->diverged == 0) {
      status->diverged = 2;
      status->diverged_step = step;
    }
    status->clip_factor = dm::clip_factor(sum, max_norm);
  }
}

__global__ void update_kernel(float* p, const float* g, OptimizerArenas state, std::size_t n, UpdateRule rule,
                              const StepStatus* status) {
  if (status->diverged != 0) return;
  const float factor = status->clip_factor;
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float gradient = factor == 1.0f ? g[i] : g[i] * factor;
    float parameter = p[i];
    dm::update_parameter(rule, parameter, gradient, state, i);
    p[i] = parameter;
  }
}

class CudaBackend final : public DeviceBackend {
 public:
  explicit CudaBackend(int index) : index_(index) {
    check(cudaSetDevice(index), "cudaSetDevice");
    cudaDeviceProp properties{};
    check(cudaGetDeviceProperties(&properties, index), "cudaGetDeviceProperties");
    name_ = properties.name;
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cublasCreate(&blas_), "cublasCreate");
    check(cublasSetStream(blas_, stream_), "cublasSetStream");
    // Full float32 products (no TF32), as the CPU path and PyTorch's default.
    check(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    check(cudaMalloc(&norm_partials_, kNormBlocks * sizeof(double)), "cudaMalloc");
    kernels_.make_each([this](auto kind) { return make_cuda_kernels<decltype(kind)::value>(stream_); });
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    cudaFree(norm_partials_);
    cudaFree(loss_partials_);
    cudaFree(ones_);
    cublasDestroy(blas_);
    cudaStreamDestroy(stream_);
  }

  std::string description() const override { return "cuda:" + std::to_string(index_) + " (" + name_ + ")"; }

  void* allocate(std::size_t bytes) override {
    void* memory = nullptr;
    const cudaError_t status = cudaMalloc(&memory, bytes == 0 ? 1 : bytes);
    if (status != cudaSuccess)
      throw_runtime_error("CUDA: cannot allocate " + std::to_string(bytes) + " bytes on " + description() + ": " +
                          cudaGetErrorString(status));
    check(cudaMemsetAsync(memory, 0, bytes == 0 ? 1 : bytes, stream_), "cudaMemsetAsync");
    return memory;
  }
  void release(void* memory) noexcept override {
    cudaStreamSynchronize(stream_);
    cudaFree(memory);
  }
  void upload(void* device, const void* host, std::size_t bytes) override {
    if (bytes > 0) check(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream_), "upload");
    // A pageable host buffer is copied to a staging buffer before cudaMemcpyAsync returns; a pinned one is
    // not, so wait for those to keep the contract that the host buffer may be reused at return.
    cudaPointerAttributes attributes{};
    if (bytes > 0 && cudaPointerGetAttributes(&attributes, host) == cudaSuccess &&
        attributes.type == cudaMemoryTypeHost)
      synchronize();
  }
  void download(void* host, const void* device, std::size_t bytes) override {
    if (bytes > 0) check(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_), "download");
    synchronize();
  }
  void zero(void* device, std::size_t bytes) override {
    if (bytes > 0) check(cudaMemsetAsync(device, 0, bytes, stream_), "cudaMemsetAsync");
  }
  void synchronize() override { check(cudaStreamSynchronize(stream_), "the stream's work"); }

  void gemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, float alpha, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc) override {
    if (m == 0 || n == 0) return;
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: the same buffers, operands swapped.
    check(cublasSgemm(blas_, to_cublas(transpose_b), to_cublas(transpose_a), n, m, k, &alpha, b, ldb, a, lda, &beta, c,
                      ldc),
          "sgemm");
  }

  void column_sums(float* sums, const float* in, int rows, int cols) override {
    // Column-major, in is a (cols x rows) matrix with leading dimension cols: sums = in . ones(rows).
    const float one = 1.0f, zero = 0.0f;
    check(cublasSgemv(blas_, CUBLAS_OP_N, cols, rows, &one, in, cols, ones(rows), 1, &zero, sums, 1), "sgemv");
  }

  void bias_activation(float* z, float* a, const float* bias, int rows, int cols, Activation f,
                       float slope) override {
    if (f == Activation::softmax)
      bias_softmax_kernel<<<blocks_for(rows), kThreads, 0, stream_>>>(z, a, bias, rows, cols);
    else
      bias_activation_kernel<<<blocks_for(static_cast<std::size_t>(rows) * cols), kThreads, 0, stream_>>>(
          z, a, bias, rows, cols, f, slope);
    check(cudaGetLastError(), "bias_activation");
  }

  void dropout(float* mask, float* dropped, const float* a, std::size_t n, float p, std::uint64_t seed) override {
    const float keep_scale = math::dropout_keep_scale<float>(p);
    dropout_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(mask, dropped, a, n, p, keep_scale, seed);
    check(cudaGetLastError(), "dropout");
  }

  void activation_backward(float* dz, const float* da, const float* mask, const float* z, const float* a, int rows,
                           int cols, Activation f, float slope) override {
    const std::size_t n = static_cast<std::size_t>(rows) * cols;
    if (f == Activation::softmax)
      softmax_backward_kernel<<<blocks_for(rows), kThreads, 0, stream_>>>(dz, da, mask, a, rows, cols);
    else
      activation_backward_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(dz, da, mask, z, a, n, f, slope);
    check(cudaGetLastError(), "activation_backward");
  }

  void gather(float* x, float* y, std::int32_t* labels, float* weights, const DeviceRows& rows,
              const std::uint32_t* order, std::size_t first, int count) override {
    gather_inputs_kernel<<<blocks_for(static_cast<std::size_t>(count) * rows.features), kThreads, 0, stream_>>>(
        x, rows, order, first, count);
    if (rows.labels != nullptr || rows.targets != nullptr)
      gather_targets_kernel<<<blocks_for(static_cast<std::size_t>(count) * rows.outputs), kThreads, 0, stream_>>>(
        y, labels, weights, rows, order, first, count);
    check(cudaGetLastError(), "gather");
  }

  void loss(float* dz, MetricSums* sums, StepStatus* status, const float* z, const float* a, const float* y,
            const std::int32_t* labels, const float* weights, double denominator, int rows, int cols, LossKind loss,
            double label_smoothing, Activation output, float slope, int batch_rows) override {
    const int blocks = (rows + kThreads - 1) / kThreads;  // one thread per row, no grid-stride: fixed partials
    if (blocks > loss_partial_blocks_) {
      cudaStreamSynchronize(stream_);
      cudaFree(loss_partials_);
      loss_partials_ = nullptr;
      check(cudaMalloc(&loss_partials_, MetricSums::kFields * sizeof(double) * static_cast<std::size_t>(blocks)),
            "cudaMalloc");
      loss_partial_blocks_ = blocks;
    }
    loss_rows_kernel<<<blocks, kThreads, 0, stream_>>>(loss_partials_, dz, z, a, y, labels, weights, denominator,
                                                       rows, cols, loss, label_smoothing, output, slope,
                                                       1.0f / static_cast<float>(batch_rows));
    loss_finish_kernel<<<1, kThreads, 0, stream_>>>(sums, status, loss_partials_, blocks, rows, weights != nullptr,
                                                    denominator);
    check(cudaGetLastError(), "loss");
  }

  void check_gradients(StepStatus* status, const float* gradients, std::size_t n, float max_norm,
                       std::int64_t step) override {
    squares_kernel<<<kNormBlocks, kThreads, 0, stream_>>>(norm_partials_, gradients, n);
    check_finish_kernel<<<1, kThreads, 0, stream_>>>(status, norm_partials_, max_norm, step);
    check(cudaGetLastError(), "check_gradients");
  }

  void update(float* parameters, const float* gradients, const OptimizerArenas& state, std::size_t n,
              const UpdateRule& rule, const StepStatus* status) override {
    update_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(parameters, gradients, state, n, rule, status);
    check(cudaGetLastError(), "update");
  }

  LayerKernelsBase& layer_kernels(LayerKind kind) override { return kernels_[kind]; }

 private:
  // A device vector of at least n ones (the column sums' right-hand side), grown when needed.
  const float* ones(int n) {
    if (n > ones_count_) {
      cudaStreamSynchronize(stream_);
      cudaFree(ones_);
      ones_ = nullptr;
      const int count = std::max(n, 1024);
      check(cudaMalloc(&ones_, sizeof(float) * count), "cudaMalloc");
      fill_kernel<<<blocks_for(count), kThreads, 0, stream_>>>(ones_, 1.0f, count);
      check(cudaGetLastError(), "fill");
      ones_count_ = count;
    }
    return ones_;
  }

  int index_;
  std::string name_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  double* norm_partials_ = nullptr;
  double* loss_partials_ = nullptr;
  int loss_partial_blocks_ = 0;
  float* ones_ = nullptr;
  int ones_count_ = 0;
  LayerKernelsTable kernels_;  // on stream_
};

}  // namespace

// A dense layer's launches are the backend's own (device.hpp).
template <>
std::unique_ptr<LayerKernelsBase> make_cuda_kernels<LayerKind::dense>(cudaStream_t) {
  return std::make_unique<LayerKernels<LayerKind::dense>>();
}

}  // namespace backprop::kernels

// The plugin's entry points (loader.cpp finds them with dlsym): C names, no exception crosses them.
extern "C" {

int backprop_cuda_plugin_abi() { return backprop::kernels::kDevicePluginAbi; }

// The layer kinds this plugin was built with (device.hpp's kDevicePluginKinds).
const char* backprop_cuda_plugin_kinds() { return backprop::kernels::kDevicePluginKinds; }

int backprop_cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device is an answer, not a failure
    return 0;
  }
  return count;
}

// A new backend on device `index`, or null with the reason in message.
backprop::kernels::DeviceBackend* backprop_cuda_create(int index, char* message, std::size_t size) {
  try {
    return new backprop::kernels::CudaBackend(index);
  } catch (const std::exception& e) {
    std::snprintf(message, size, "%s", e.what());
  }
  return nullptr;
}

}  // extern "C"
