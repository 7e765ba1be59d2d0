// The emulated device (kernels/device.hpp): host memory and plain loops over the per-element math the CUDA
// kernels run (kernels/math.hpp, device_math.hpp), with products and column sums of its own (not the CPU's). Each
// layer kind's own launches are in the kind's own file (batch_norm_emulated.cpp for batch_norm).
// The reference for the CUDA backend's tests, and the backend that tests the device training path on machines
// without a GPU.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "backprop/base/error.hpp"
#include "kernels/device.hpp"
#include "device_math.hpp"

namespace backprop::kernels {
namespace {

namespace dm = device_math;

class EmulatedBackend final : public DeviceBackend {
 public:
  std::string description() const override { return "emulated (host memory)"; }

  void* allocate(std::size_t bytes) override {
    void* memory = std::calloc(bytes == 0 ? 1 : bytes, 1);
    if (memory == nullptr) throw_runtime_error("emulated device: out of memory for " + std::to_string(bytes) + " bytes");
    return memory;
  }
  void release(void* memory) noexcept override { std::free(memory); }
  void upload(void* device, const void* host, std::size_t bytes) override {
    if (bytes > 0) std::memcpy(device, host, bytes);
  }
  void download(void* host, const void* device, std::size_t bytes) override {
    if (bytes > 0) std::memcpy(host, device, bytes);
  }
  void zero(void* device, std::size_t bytes) override {
    if (bytes > 0) std::memset(device, 0, bytes);
  }
  void synchronize() override {}

  // Plain loops, not the CPU's kernels::gemm and column_sums: the device tests hold the CPU path against this
  // backend, so it must be a second implementation. Each sum in double, then rounded once.
  void gemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, float alpha, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc) override {
    const auto at = [&](int i, int p) {  // op(A)[i][p]
      return transpose_a == Transpose::no ? a[static_cast<std::size_t>(i) * lda + p] : a[static_cast<std::size_t>(p) * lda + i];
    };
    const auto bt = [&](int p, int j) {  // op(B)[p][j]
      return transpose_b == Transpose::no ? b[static_cast<std::size_t>(p) * ldb + j] : b[static_cast<std::size_t>(j) * ldb + p];
    };
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double sum = 0;
        for (int p = 0; p < k; ++p) sum += static_cast<double>(at(i, p)) * bt(p, j);
        float& out = c[static_cast<std::size_t>(i) * ldc + j];
        // beta 0 overwrites (C may hold anything, NaN included), as BLAS does.
        out = static_cast<float>(alpha * sum + (beta == 0.0f ? 0.0 : static_cast<double>(beta) * out));
      }
  }

  void column_sums(float* sums, const float* in, int rows, int cols) override {
    for (int col = 0; col < cols; ++col) {
      double sum = 0;
      for (int r = 0; r < rows; ++r) sum += in[static_cast<std::size_t>(r) * cols + col];
      sums[col] = static_cast<float>(sum);
    }
  }

  void bias_activation(float* z, float* a, const float* bias, int rows, int cols, Activation f,
                       float slope) override {
    for (int r = 0; r < rows; ++r) {
      float* zr = z + static_cast<std::size_t>(r) * cols;
      float* ar = a + static_cast<std::size_t>(r) * cols;
      for (int c = 0; c < cols; ++c) zr[c] += bias[c];
      if (f == Activation::softmax) {
        math::softmax_row(ar, zr, cols);
      } else {
        for (int c = 0; c < cols; ++c) ar[c] = math::activate(f, zr[c], slope);
      }
    }
  }

  void dropout(float* mask, float* dropped, const float* a, std::size_t n, float p, std::uint64_t seed) override {
    const float keep_scale = math::dropout_keep_scale<float>(p);
    for (std::size_t i = 0; i < n; ++i) {
      mask[i] = math::dropout_mask(dm::uniform_hash(seed, i), p, keep_scale);
      dropped[i] = a[i] * mask[i];
    }
  }

  void activation_backward(float* dz, const float* da, const float* mask, const float* z, const float* a, int rows,
                           int cols, Activation f, float slope) override {
    for (int r = 0; r < rows; ++r) {
      const std::size_t o = static_cast<std::size_t>(r) * cols;
      if (f == Activation::softmax) {
        const float* d = da + o;
        if (mask != nullptr) {  // the masked row into dz first (dz may alias da)
          for (int c = 0; c < cols; ++c) dz[o + c] = da[o + c] * mask[o + c];
          d = dz + o;
        }
        math::softmax_backward_row(dz + o, d, a + o, cols);
      } else {
        for (int c = 0; c < cols; ++c) {
          const float d = mask ? da[o + c] * mask[o + c] : da[o + c];
          dz[o + c] = math::derivative(f, d, z[o + c], a[o + c], slope);
        }
      }
    }
  }

  void gather(float* x, float* y, std::int32_t* labels, float* weights, const DeviceRows& rows,
              const std::uint32_t* order, std::size_t first, int count) override {
    for (int i = 0; i < count; ++i) {
      const std::size_t r = order[first + static_cast<std::size_t>(i)];
      for (int f = 0; f < rows.features; ++f)
        x[static_cast<std::size_t>(i) * rows.features + f] = dm::input_value(rows, r, f);
      if (rows.labels != nullptr || rows.targets != nullptr)
        for (int o = 0; o < rows.outputs; ++o)
          y[static_cast<std::size_t>(i) * rows.outputs + o] = dm::target_value(rows, r, o);
      if (labels != nullptr && rows.labels != nullptr) labels[i] = rows.labels[r];
      if (weights != nullptr && rows.weights != nullptr) weights[i] = rows.weights[r];
    }
  }

  void loss(float* dz, MetricSums* sums, StepStatus* status, const float* z, const float* a, const float* y,
            const std::int32_t* labels, const float* weights, double denominator, int rows, int cols, LossKind loss,
            double label_smoothing, Activation output, float slope, int batch_rows) override {
    const float inverse_batch = 1.0f / static_cast<float>(batch_rows);
    MetricSums batch;
    for (int r = 0; r < rows; ++r) {
      const std::size_t o = static_cast<std::size_t>(r) * cols;
      const dm::RowShare share = dm::row_share(weights, r, denominator, inverse_batch);
      batch.add(dm::loss_row(dz ? dz + o : nullptr, z + o, a + o, y + o, labels ? labels[r] : -1, cols, loss,
                             label_smoothing, output, slope, share.scale, share.weight));
    }
    const double batch_loss = dm::batch_loss(batch, rows, weights != nullptr, denominator);
    sums->add(batch);
    if (status != nullptr) {
      status->batch_loss = batch_loss;
      if (!std::isfinite(static_cast<float>(status->batch_loss)) && status->diverged == 0) status->diverged = 3;
    }
  }

  void check_gradients(StepStatus* status, const float* gradients, std::size_t n, float max_norm,
                       std::int64_t step) override {
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(gradients[i]) * gradients[i];
    status->squared_norm = sum;
    if (status->diverged == 3) {
      status->diverged = 1;
      status->diverged_step = step;
    }
    if (!std::isfinite(sum) && status->diverged == 0) {
      status->diverged = 2;
      status->diverged_step = step;
    }
    status->clip_factor = dm::clip_factor(sum, max_norm);
  }

  void update(float* parameters, const float* gradients, const OptimizerArenas& state, std::size_t n,
              const UpdateRule& rule, const StepStatus* status) override {
    if (status->diverged != 0) return;
    const float factor = status->clip_factor;
    for (std::size_t i = 0; i < n; ++i) {
      const float g = factor == 1.0f ? gradients[i] : gradients[i] * factor;
      dm::update_parameter(rule, parameters[i], g, state, i);
    }
  }

  LayerKernelsBase& layer_kernels(LayerKind kind) override { return kernels_[kind]; }

 private:
  LayerKernelsTable kernels_ = [] {
    LayerKernelsTable table;
    table.make_each([](auto kind) { return make_emulated_kernels<decltype(kind)::value>(); });
    return table;
  }();
};

}  // namespace

// A dense layer's launches are the backend's own (device.hpp).
template <>
std::unique_ptr<LayerKernelsBase> make_emulated_kernels<LayerKind::dense>() {
  return std::make_unique<LayerKernels<LayerKind::dense>>();
}

std::unique_ptr<DeviceBackend> make_emulated_backend() { return std::make_unique<EmulatedBackend>(); }

}  // namespace backprop::kernels
