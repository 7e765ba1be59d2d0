// The device backend: memory and kernels on an accelerator (CUDA), behind one narrow interface that knows
// nothing of layers but hands out each layer kind's own launches (LayerKernels<K>, below; docs/architecture.md:
// kernels/cuda/). device/device_network.hpp builds the network's forward pass, backward pass and optimizer
// update out of these calls; train() runs its loop on it when asked to.
//
// Every pointer passed to a DeviceBackend method is device memory from allocate() (except the host side of
// upload and download). Calls are queued in order on the backend's one stream and return at once, except
// download() and synchronize(), which wait for the work queued before them. So a training step is a fixed
// sequence of launches, and the host waits only when it reads a result (the metrics of an epoch).
//
// Two backends implement the interface:
// - CUDA (src/kernels/cuda/backend.cu, built with BACKPROP_WITH_CUDA): cuBLAS for the products, kernels of
//   ours for the rest, over the per-element math of src/kernels/math.hpp (the CPU path's too);
// - the emulator (src/kernels/cuda/emulated.cpp): the same per-element math as plain loops over host
//   memory, with its own plain gemm and column sums (so the device tests compare two implementations with
//   the CPU's). It is the reference the CUDA backend is tested against, and it lets the device training path
//   (src/device/: DeviceNetwork, DeviceStep) be tested on machines without a GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "backprop/kernels/kernels.hpp"
#include "backprop/base/metric_sums.hpp"
#include "backprop/base/kinds.hpp"
#include "backprop/base/layer_kind_parts.hpp"
#include "kernels/math.hpp"

namespace backprop::kernels {

// The activations, losses and optimizer rules are the CPU path's enums (base/kinds.hpp): Activation (softmax
// row-wise, the others element-wise), LossKind, OptimizerKind.

// A data set in device memory, and how its rows become network inputs and targets.
struct DeviceRows {
  const std::uint8_t* features_u8 = nullptr;  // (rows, features) read as value / 255, or
  const float* features_f32 = nullptr;        // (rows, features)
  int features = 0;
  const double* offset = nullptr;  // (features): x' = (x - offset) / scale in double, as on the CPU;
  const double* scale = nullptr;   // both null: no scaling
  const std::int32_t* labels = nullptr;  // classification: (rows) class indices, or
  const float* targets = nullptr;        // regression: (rows, outputs)
  int outputs = 0;                       // the network's outputs (1 with labels: a 0/1 target)
  const float* weights = nullptr;        // (rows) each row's weight (class_weight, sample weights), or none
};

// What the step's checks found, on the device: written by loss() and check_gradients(), read by update(),
// so that a step whose loss or gradient is not finite changes nothing, and neither does any step after it.
// Zero-filled memory (allocate()) is a valid start.
struct StepStatus {
  double batch_loss = 0;     // the last batch's loss (averaged over its rows)
  double squared_norm = 0;   // sum of the squared gradients, in double
  float clip_factor = 1;     // what the gradients are multiplied by in the update (clipping by norm)
  // 0 fine; 1 the loss (as a float, what the CPU path checks), 2 a gradient was not finite; sticky. loss()
  // sets 3 (a loss not finite, its step not yet known), which check_gradients() turns into 1.
  std::int32_t diverged = 0;
  std::int64_t diverged_step = 0;  // when diverged is 1 or 2: the step number passed to check_gradients
};

// One optimizer step's coefficients, computed on the host (nn/optimizer_step.hpp's optimizer_step, as for the
// CPU's update), passed by value to the update kernel.
using UpdateRule = math::OptimizerStep<float>;

// The optimizer's state arenas on the device, by OptimizerState (base/kinds.hpp's optimizer_states), each of
// the parameter arena's size; null where the rule keeps none.
struct OptimizerArenas {
  float* arena[kOptimizerStateCount] = {};
};

// A layer kind's own launches, beyond DeviceBackend's, which know nothing of layers: LayerKernels<K>, an
// interface of pure virtual launches defined in the kind's own header (kernels/cuda/batch_norm_kernels.hpp for
// batch_norm) and implemented by each backend in the kind's own files (batch_norm_emulated.cpp, batch_norm.cu).
// Each backend makes one of every kind's, for each kind of kinds.hpp's list (LayerKernelsTable), and hands it out
// by kind (layer_kernels<K>), so a new kind adds files and no method here. A dense layer's launches are
// DeviceBackend's own (the products, bias and activation, dropout): its LayerKernels has none.
struct LayerKernelsBase {
  virtual ~LayerKernelsBase() = default;
};
template <LayerKind K>
struct LayerKernels;
template <>
struct LayerKernels<LayerKind::dense> : LayerKernelsBase {};

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  // For messages and logs, e.g. "cuda:0 (NVIDIA H200)".
  virtual std::string description() const = 0;

  virtual void* allocate(std::size_t bytes) = 0;  // zero-filled; throws Error(runtime) when out of memory
  virtual void release(void* memory) noexcept = 0;
  virtual void upload(void* device, const void* host, std::size_t bytes) = 0;  // host may be reused at return
  virtual void download(void* host, const void* device, std::size_t bytes) = 0;
  virtual void zero(void* device, std::size_t bytes) = 0;
  virtual void synchronize() = 0;

  // C (m x n) = alpha op(A) op(B) + beta C, row-major as kernels::gemm.
  virtual void gemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, float alpha, const float* a,
                    int lda, const float* b, int ldb, float beta, float* c, int ldc) = 0;
  // sums (cols) = column sums of in (rows x cols): the bias gradient.
  virtual void column_sums(float* sums, const float* in, int rows, int cols) = 0;
  // z (rows x cols) += bias per column, then a = f(z) (row-wise for softmax).
  virtual void bias_activation(float* z, float* a, const float* bias, int rows, int cols, Activation f,
                               float slope) = 0;
  // Inverted dropout of n values: mask[i] = 0 with probability p, else 1 / (1 - p); dropped = a * mask.
  // The draws are a hash of (seed, i), so a step's masks depend on the seed alone.
  virtual void dropout(float* mask, float* dropped, const float* a, std::size_t n, float p, std::uint64_t seed) = 0;
  // dz = (da * mask) * f'(z, a) over (rows x cols); mask may be null (no dropout); dz may alias da.
  virtual void activation_backward(float* dz, const float* da, const float* mask, const float* z, const float* a,
                                   int rows, int cols, Activation f, float slope) = 0;
  // x (count, features) and y (count, outputs) from the data rows order[first .. first + count); labels
  // (count) too when the data has labels (else it may be null), and weights (count) when the data has row
  // weights (else it may be null). Data without labels or targets fills x only.
  virtual void gather(float* x, float* y, std::int32_t* labels, float* weights, const DeviceRows& rows,
                      const std::uint32_t* order, std::size_t first, int count) = 0;
  // The loss of a batch (rows x cols outputs z, a against y): adds each row's loss and metrics to sums;
  // status (may be null) gets batch_loss and diverged = 3 if the loss is not finite; dz (may be null)
  // gets dL/dz, the output activation's derivative included, with the loss averaged over batch_rows.
  // label_smoothing: softmax_ce's (math::add_loss_row), 0 for none. With row weights (rows values; null for
  // none) the loss is their weighted mean over denominator (math::weighted_loss_denominator of the batch,
  // which the host computes), as the CPU's; sums then get the batch's loss times its rows, as the CPU adds it.
  virtual void loss(float* dz, MetricSums* sums, StepStatus* status, const float* z, const float* a, const float* y,
                    const std::int32_t* labels, const float* weights, double denominator, int rows, int cols,
                    LossKind loss, double label_smoothing, Activation output, float slope, int batch_rows) = 0;
  // The gradient arena's squared norm into status; diverged = 2 (and diverged_step = step) if it is not
  // finite; clip_factor = max_norm / (norm + 1e-6) when that is below 1 and max_norm > 0, else 1.
  virtual void check_gradients(StepStatus* status, const float* gradients, std::size_t n, float max_norm,
                               std::int64_t step) = 0;
  // One optimizer step over the arena (n values): g = gradients * clip_factor, then the rule, with the state
  // arenas the rule keeps. Nothing changes when status->diverged.
  virtual void update(float* parameters, const float* gradients, const OptimizerArenas& state, std::size_t n,
                      const UpdateRule& rule, const StepStatus* status) = 0;
  // This backend's launches of a layer kind (a LayerKernels<kind>): layer_kernels<K> below.
  virtual LayerKernelsBase& layer_kernels(LayerKind kind) = 0;
};

// The launches of kind K on backend.
template <LayerKind K>
LayerKernels<K>& layer_kernels(DeviceBackend& backend) {
  return static_cast<LayerKernels<K>&>(backend.layer_kernels(K));
}

// A backend's LayerKernels of every kind of the list, each made by make(kind), kind a
// std::integral_constant<LayerKind, K>: the backend's layer_kernels answers from it.
class LayerKernelsTable {
 public:
  template <typename Make>
  void make_each(const Make& make) {
    for (const LayerKindEntry& entry : kLayerKinds)
      with_layer_kind(entry.kind, [&](auto kind) { kernels_[static_cast<int>(entry.kind)] = make(kind); });
  }
  LayerKernelsBase& operator[](LayerKind kind) const { return *kernels_[static_cast<int>(kind)]; }

 private:
  std::unique_ptr<LayerKernelsBase> kernels_[kLayerKindCount];
};

// The emulator's launches of each kind, defined in the kind's own file (batch_norm_emulated.cpp for batch_norm;
// dense's in emulated.cpp): declared here for every kind of the list, so a kind without them is a link error.
template <LayerKind K>
std::unique_ptr<LayerKernelsBase> make_emulated_kernels();
#define BACKPROP_MAKE_EMULATED_KERNELS(kind, model_format_version) \
  template <>                                                      \
  std::unique_ptr<LayerKernelsBase> make_emulated_kernels<LayerKind::kind>();
BACKPROP_LAYER_KINDS(BACKPROP_MAKE_EMULATED_KERNELS)
#undef BACKPROP_MAKE_EMULATED_KERNELS

// The layout of DeviceBackend and of the kinds' LayerKernels that the CUDA plugin (backend.cu) and its loader
// (loader.cpp) agree on: a new or changed method is a new number, so that a plugin built before it is refused
// rather than called through a wrong slot. The loader also compares the list of kinds the plugin was built with
// (kDevicePluginKinds), so that a new kind needs no new number.
inline constexpr int kDevicePluginAbi = 5;

// The names of the layer kinds, in order, each followed by a comma: what the plugin was built with.
#define BACKPROP_DEVICE_PLUGIN_KIND(kind, model_format_version) #kind ","
inline constexpr char kDevicePluginKinds[] = BACKPROP_LAYER_KINDS(BACKPROP_DEVICE_PLUGIN_KIND);
#undef BACKPROP_DEVICE_PLUGIN_KIND

// Built with BACKPROP_WITH_CUDA?
bool cuda_compiled();
// CUDA devices this process can use (0 when not compiled in, or no driver or GPU).
int cuda_device_count();
// The CUDA backend on device `index`; throws Error(bad_input) saying why when there is none.
std::unique_ptr<DeviceBackend> make_cuda_backend(int index = 0);
// The emulator: host memory, the same per-element math (see above).
std::unique_ptr<DeviceBackend> make_emulated_backend();
// Opening a device by name: backprop::open_device (backprop/device.hpp).

// Device memory of n values of T, released with its owner.
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(DeviceBackend& backend, std::size_t n)
      : backend_(&backend), data_(static_cast<T*>(backend.allocate(n * sizeof(T)))), size_(n) {}
  DeviceArray(DeviceArray&& other) noexcept { swap(other); }
  DeviceArray& operator=(DeviceArray&& other) noexcept {
    DeviceArray moved(std::move(other));
    swap(moved);
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    if (data_ != nullptr) backend_->release(data_);
  }
  T* data() const { return data_; }
  std::size_t size() const { return size_; }
  void upload(const T* host, std::size_t n) { backend_->upload(data_, host, n * sizeof(T)); }
  void download(T* host, std::size_t n) const { backend_->download(host, data_, n * sizeof(T)); }

 private:
  void swap(DeviceArray& other) noexcept {
    std::swap(backend_, other.backend_);
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }
  DeviceBackend* backend_ = nullptr;
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace backprop::kernels
