// The device backends (kernels/device.hpp) against the CPU path, and training on a device against training
// on the CPU. Every test runs on each backend: the emulator (host memory, the CUDA kernels' per-element math
// as loops) always, and CUDA when this build has it and the machine has a GPU; otherwise the CUDA cases are
// skipped with a message saying so. The CPU path (kernels/, nn/, train()) is the reference: separate code
// from the device math, written from the same formulas.
//
// Tolerances: products and sums are ordered differently on a device (cuBLAS; z = x.W then + b instead of
// b then += x.W), so single results are held to float rounding scaled by the length of the sum; training
// runs, where rounding differences grow over the steps, to 1e-3 on parameters of order 1 after ~150 steps.
// The emulator's products and column sums are plain loops of its own (summed in double), so these tests
// compare two implementations on every machine, not only where there is a GPU.
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <span>
#include <memory>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backprop/base/error.hpp"
#include "kernels/device.hpp"
#include "kernels/cuda/batch_norm_kernels.hpp"
#include "kernels/cuda/embedding_kernels.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/batch_norm.hpp"
#include "backprop/nn/dense.hpp"
#include "backprop/nn/embedding.hpp"
#include "device/device_network.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/loss.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/optimizer.hpp"
#include "backprop/train/trainer.hpp"
#include <nlohmann/json.hpp>

#include "helpers.hpp"
#include "synthetic_data.hpp"

namespace backprop {
namespace {

using kernels::DeviceArray;
using kernels::DeviceBackend;
using kernels::Transpose;

std::vector<float> random_values(std::size_t n, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  Random random(seed);
  std::vector<float> values(n);
  for (float& v : values) v = static_cast<float>(random.uniform(low, high));
  return values;
}

template <typename T>
DeviceArray<T> to_device(DeviceBackend& backend, const std::vector<T>& host) {
  DeviceArray<T> array(backend, host.size());
  array.upload(host.data(), host.size());
  return array;
}

template <typename T>
std::vector<T> to_host(const DeviceArray<T>& array) {
  std::vector<T> host(array.size());
  array.download(host.data(), host.size());
  return host;
}

// Largest |a - b| over two equally long vectors.
double largest_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double largest = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    largest = std::max(largest, std::abs(static_cast<double>(a[i]) - b[i]));
  return largest;
}

// The backends: "emulated" always; "cuda" skipped, with the reason, where there is none.
class DeviceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "cuda") {
      if (!kernels::cuda_compiled())
        GTEST_SKIP() << "SKIPPED: this build has no CUDA backend (BACKPROP_WITH_CUDA=OFF); the GPU is untested";
      if (kernels::cuda_device_count() == 0)
        GTEST_SKIP() << "SKIPPED: no CUDA device on this machine; the CUDA backend is compiled but untested here";
      backend_ = kernels::make_cuda_backend();
    } else {
      backend_ = kernels::make_emulated_backend();
    }
  }
  DeviceBackend& backend() { return *backend_; }
  std::unique_ptr<DeviceBackend> backend_;
};

std::string backend_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

// ---- kernels ----

using DeviceKernels = DeviceTest;

TEST_P(DeviceKernels, GemmMatchesTheReferenceForEveryTransposeAndOddShapes) {
  const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {128, 10, 256}, {5, 300, 2}, {64, 784, 31}};
  for (const auto& shape : shapes) {
    const int m = shape[0], n = shape[1], k = shape[2];
    for (const Transpose ta : {Transpose::no, Transpose::yes}) {
      for (const Transpose tb : {Transpose::no, Transpose::yes}) {
        for (const float beta : {0.0f, 0.5f}) {
          const auto a = random_values(static_cast<std::size_t>(m) * k, 1);
          const auto b = random_values(static_cast<std::size_t>(k) * n, 2);
          auto expected = random_values(static_cast<std::size_t>(m) * n, 3);
          const int lda = ta == Transpose::no ? k : m, ldb = tb == Transpose::no ? n : k;
          auto a_device = to_device(backend(), a), b_device = to_device(backend(), b);
          auto c_device = to_device(backend(), expected);
          kernels::gemm_reference(ta, tb, m, n, k, 1.5f, a.data(), lda, b.data(), ldb, beta, expected.data(), n);
          backend().gemm(ta, tb, m, n, k, 1.5f, a_device.data(), lda, b_device.data(), ldb, beta, c_device.data(), n);
          EXPECT_LT(largest_difference(to_host(c_device), expected), 2e-6 * k + 1e-6)
              << m << "x" << n << "x" << k << " transposes " << (ta == Transpose::yes) << (tb == Transpose::yes);
        }
      }
    }
  }
}

TEST_P(DeviceKernels, ColumnSumsMatchTheCpu) {
  for (const int rows : {1, 7, 300}) {
    for (const int cols : {1, 10, 129}) {
      const auto in = random_values(static_cast<std::size_t>(rows) * cols, 4);
      std::vector<float> expected(cols);
      kernels::column_sums(expected.data(), in.data(), rows, cols);
      auto in_device = to_device(backend(), in);
      DeviceArray<float> sums(backend(), cols);
      backend().column_sums(sums.data(), in_device.data(), rows, cols);
      EXPECT_LT(largest_difference(to_host(sums), expected), 2e-6 * rows) << rows << "x" << cols;
    }
  }
}

struct FunctionCase {
  Activation activation;
  float slope;
};
// Every activation (base/kinds.hpp's list), with leaky_relu's slope 0.1 (the others ignore it).
const std::vector<FunctionCase> kFunctions = [] {
  std::vector<FunctionCase> cases;
  for (const ActivationName& entry : kActivationNames)
    cases.push_back({entry.kind, entry.kind == Activation::leaky_relu ? 0.1f : 0.0f});
  return cases;
}();

TEST_P(DeviceKernels, BiasAndActivationMatchTheCpu) {
  for (const auto& f : kFunctions) {
    for (const auto& [rows, cols] : {std::pair{7, 13}, std::pair{300, 10}, std::pair{2, 1}}) {
      const std::size_t n = static_cast<std::size_t>(rows) * cols;
      const auto z0 = random_values(n, 5, -4, 4);
      const auto bias = random_values(cols, 6);
      std::vector<float> z = z0, a(n);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) z[static_cast<std::size_t>(r) * cols + c] += bias[c];
      activation_forward(a.data(), z.data(), f.activation, f.slope, rows, cols);
      auto z_device = to_device(backend(), z0), bias_device = to_device(backend(), bias);
      DeviceArray<float> a_device(backend(), n);
      backend().bias_activation(z_device.data(), a_device.data(), bias_device.data(), rows, cols,
                                f.activation, f.slope);
      EXPECT_LT(largest_difference(to_host(z_device), z), 1e-6) << to_string(f.activation);
      EXPECT_LT(largest_difference(to_host(a_device), a), 1e-6) << to_string(f.activation);
      if (GetParam() == "emulated")  // the same formulas (kernels/math.hpp) in host arithmetic: the same bits
        EXPECT_EQ(to_host(a_device), a) << to_string(f.activation);
    }
  }
}

TEST_P(DeviceKernels, ActivationBackwardMatchesTheCpuWithAndWithoutAMask) {
  const int rows = 33, cols = 10;
  const std::size_t n = static_cast<std::size_t>(rows) * cols;
  for (const auto& f : kFunctions) {
    for (const bool masked : {false, true}) {
      const auto z = random_values(n, 7, -3, 3);
      std::vector<float> a(n);
      activation_forward(a.data(), z.data(), f.activation, f.slope, rows, cols);
      const auto da = random_values(n, 8);
      std::vector<float> mask(n);
      for (std::size_t i = 0; i < n; ++i) mask[i] = i % 3 == 0 ? 0.0f : 1.5f;
      std::vector<float> expected = da;
      if (masked)
        for (std::size_t i = 0; i < n; ++i) expected[i] *= mask[i];
      activation_backward(expected.data(), z.data(), a.data(), expected.data(), f.activation, f.slope, rows, cols);
      auto dz = to_device(backend(), da);  // in place, as the backward pass uses it
      auto z_device = to_device(backend(), z), a_device = to_device(backend(), a), m_device = to_device(backend(), mask);
      backend().activation_backward(dz.data(), dz.data(), masked ? m_device.data() : nullptr, z_device.data(),
                                    a_device.data(), rows, cols, f.activation, f.slope);
      EXPECT_LT(largest_difference(to_host(dz), expected), 1e-6) << to_string(f.activation) << " masked " << masked;
      if (GetParam() == "emulated")  // the same formulas in host arithmetic: the same bits
        EXPECT_EQ(to_host(dz), expected) << to_string(f.activation) << " masked " << masked;
    }
  }
}

TEST_P(DeviceKernels, LossValueGradientAndMetricsMatchTheCpu) {
  struct Case {
    LossKind loss;
    Activation output;
    bool labels;
    double label_smoothing = 0.0;
  };
  // softmax_ce with label smoothing: one-hot targets (labels), and soft targets whose rows do not sum to 1.
  const Case cases[] = {{LossKind::softmax_ce, Activation::softmax, true}, {LossKind::mse, Activation::identity, false},
                        {LossKind::mse, Activation::sigmoid, false},       {LossKind::mse, Activation::softmax, false},
                        {LossKind::bce, Activation::sigmoid, false},
                        {LossKind::softmax_ce, Activation::softmax, true, 0.1},
                        {LossKind::softmax_ce, Activation::softmax, true, 0.6},
                        {LossKind::softmax_ce, Activation::softmax, false, 0.25}};
  const int rows = 300, cols = 10;  // more rows than one block of threads
  const std::size_t n = static_cast<std::size_t>(rows) * cols;
  // Row weights (class_weight, sample weights), every tenth 0: the CPU's weighted mean (nn/loss.cpp) is the
  // reference, its denominator PyTorch's (the weights' sum for softmax_ce, the rows for the others).
  std::vector<float> row_weights = random_values(rows, 12, 0.1, 3);
  for (int r = 0; r < rows; r += 10) row_weights[static_cast<std::size_t>(r)] = 0.0f;
  for (const bool weighted : {false, true})
  for (const auto& c : cases) {
    const float* weights = weighted ? row_weights.data() : nullptr;
    const double denominator =
        c.loss == LossKind::softmax_ce ? std::accumulate(row_weights.begin(), row_weights.end(), 0.0) : rows;
    const auto z = random_values(n, 9, -3, 3);
    std::vector<float> a(n), y(n, 0.0f), expected_dz(n);
    activation_forward(a.data(), z.data(), c.output, 0.0f, rows, cols);
    std::vector<std::int32_t> labels(rows);
    for (int r = 0; r < rows; ++r) {
      labels[r] = (r * 7) % cols;
      if (c.labels) y[static_cast<std::size_t>(r) * cols + labels[r]] = 1.0f;
    }
    if (!c.labels) y = random_values(n, 10, 0, 1);
    const DenseLayer layer{cols, cols, c.output, 0.01, 0, 0};
    const double expected_loss =
        loss_value(c.loss, c.label_smoothing, z.data(), a.data(), y.data(), rows, cols, weights);
    loss_backward(expected_dz.data(), c.loss, c.label_smoothing, z.data(), a.data(), y.data(), layer, rows, weights);
    if (weighted)  // the weights take effect
      EXPECT_GT(std::abs(expected_loss - loss_value(c.loss, c.label_smoothing, z.data(), a.data(), y.data(), rows,
                                                    cols)),
                1e-3);
    if (c.label_smoothing > 0)  // the smoothing takes effect (so that the device's agreement below says something)
      EXPECT_GT(
          std::abs(expected_loss - loss_value(c.loss, 0.0, z.data(), a.data(), y.data(), rows, cols, weights)), 0.01);
    double correct = 0, squared = 0;
    for (int r = 0; r < rows; ++r) {
      correct += predicted_class(a.data() + static_cast<std::size_t>(r) * cols, cols) == labels[r] ? 1 : 0;
      for (int o = 0; o < cols; ++o) {
        const double d = static_cast<double>(a[static_cast<std::size_t>(r) * cols + o]) - y[static_cast<std::size_t>(r) * cols + o];
        squared += d * d;
      }
    }
    auto z_device = to_device(backend(), z), a_device = to_device(backend(), a), y_device = to_device(backend(), y);
    auto labels_device = to_device(backend(), labels);
    auto weights_device = to_device(backend(), row_weights);
    DeviceArray<float> dz(backend(), n);
    DeviceArray<MetricSums> sums(backend(), 1);
    DeviceArray<kernels::StepStatus> status(backend(), 1);
    backend().loss(dz.data(), sums.data(), status.data(), z_device.data(), a_device.data(), y_device.data(),
                   c.labels ? labels_device.data() : nullptr, weighted ? weights_device.data() : nullptr,
                   denominator, rows, cols, c.loss, c.label_smoothing, c.output, 0.0f, rows);
    const auto got_sums = to_host(sums)[0];
    const auto got_status = to_host(status)[0];
    const std::string what = std::string(to_string(c.loss)) + "/" + std::string(to_string(c.output)) +
                             " label smoothing " + std::to_string(c.label_smoothing) +
                             (weighted ? " weighted" : "");
    EXPECT_NEAR(got_sums.loss / rows, expected_loss, 1e-6 * std::max(1.0, expected_loss)) << what;
    EXPECT_NEAR(got_status.batch_loss, expected_loss, 1e-6 * std::max(1.0, expected_loss)) << what;
    EXPECT_EQ(got_status.diverged, 0) << what;
    EXPECT_LT(largest_difference(to_host(dz), expected_dz), 1e-8) << what;
    if (GetParam() == "emulated") EXPECT_EQ(to_host(dz), expected_dz) << what;  // the same formulas: the same bits
    if (c.labels) {
      EXPECT_EQ(got_sums.correct, correct) << what;
    } else {
      EXPECT_NEAR(got_sums.squared_error, squared, 1e-9 * squared) << what;
    }
  }
}

TEST_P(DeviceKernels, GatherConvertsScalesAndEncodesTargetsAsTheCpu) {
  Dataset images;
  images.source = "images";
  images.rows = 50;
  images.features = 7;
  for (std::size_t i = 0; i < images.rows * 7; ++i) images.features_u8.push_back(static_cast<std::uint8_t>((i * 37) % 256));
  images.class_names = {"0", "1", "2", "3"};
  for (std::size_t r = 0; r < images.rows; ++r) images.labels.push_back(static_cast<std::int32_t>(r % 4));
  Dataset table = images;
  table.features_u8.clear();
  table.features_f32 = random_values(images.rows * 7, 11, -5, 5);
  const Scaling standard = fit_scaling(ScalingKind::standard, images);
  table.weights = random_values(images.rows, 13, 0, 4);  // row weights gathered with the rows
  const std::vector<std::size_t> order_host = {49, 3, 3, 0, 17, 25, 8};
  const std::vector<std::uint32_t> order(order_host.begin(), order_host.end());
  auto order_device = to_device(backend(), order);
  for (const Dataset* data : {&images, &table}) {
    for (const Scaling* scaling : {&standard, static_cast<const Scaling*>(nullptr)}) {
      const Scaling none;
      const Scaling& s = scaling ? *scaling : none;
      const DeviceDataset device_data(backend(), *data, s, 4);
      const int count = 5;  // rows order[2 .. 7)
      std::vector<float> x(count * 7), y(count * 4);
      data->gather_rows(x.data(), order_host.data() + 2, count, s);
      data->gather_targets(y.data(), order_host.data() + 2, count, 4);
      DeviceArray<float> x_device(backend(), x.size()), y_device(backend(), y.size());
      DeviceArray<std::int32_t> labels(backend(), count);
      DeviceArray<float> weights(backend(), count);
      backend().gather(x_device.data(), y_device.data(), labels.data(), weights.data(), device_data.rows(),
                       order_device.data(), 2, count);
      const auto got_x = to_host(x_device);
      for (std::size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(got_x[i], x[i]) << i;
      EXPECT_EQ(to_host(y_device), y);
      const auto got_labels = to_host(labels);
      for (int i = 0; i < count; ++i) EXPECT_EQ(got_labels[i], data->labels[order_host[2 + i]]);
      const auto got_weights = to_host(weights);
      for (int i = 0; i < count && !data->weights.empty(); ++i)
        EXPECT_EQ(got_weights[i], data->weights[order_host[2 + i]]);
    }
  }
}

TEST_P(DeviceKernels, DropoutKeepsOneMinusPScaledAndDependsOnTheSeedAlone) {
  const std::size_t n = 200000;
  const float p = 0.3f;
  const auto a = random_values(n, 12, 0.5, 1.5);
  auto a_device = to_device(backend(), a);
  DeviceArray<float> mask(backend(), n), dropped(backend(), n), mask2(backend(), n), dropped2(backend(), n);
  backend().dropout(mask.data(), dropped.data(), a_device.data(), n, p, 99);
  backend().dropout(mask2.data(), dropped2.data(), a_device.data(), n, p, 99);
  const auto m = to_host(mask), d = to_host(dropped);
  EXPECT_EQ(m, to_host(mask2));
  std::size_t zeros = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (m[i] == 0.0f) {
      ++zeros;
      EXPECT_EQ(d[i], 0.0f);
    } else {
      ASSERT_FLOAT_EQ(m[i], 1.0f / 0.7f);
      ASSERT_EQ(d[i], a[i] * m[i]);
    }
  }
  // Binomial(200000, 0.3): standard deviation ~205, so +-0.005 is ~5 standard deviations.
  EXPECT_NEAR(static_cast<double>(zeros) / n, 0.3, 0.005);
  backend().dropout(mask2.data(), dropped2.data(), a_device.data(), n, p, 100);
  EXPECT_NE(m, to_host(mask2));
  // Both backends draw the same masks from a seed (the emulator is the reference).
  const auto emulator = kernels::make_emulated_backend();
  auto a_emulated = to_device(*emulator, a);
  DeviceArray<float> m_emulated(*emulator, n), d_emulated(*emulator, n);
  emulator->dropout(m_emulated.data(), d_emulated.data(), a_emulated.data(), n, p, 99);
  EXPECT_EQ(m, to_host(m_emulated));
}

// batch_norm's three launches against the CPU's functions (nn/batch_norm.hpp) on odd shapes: training's outputs,
// saved values and running statistics, evaluation's outputs, the backward's gradients with and without the
// input's. The emulator runs the same per-column formulas (math.hpp) in host arithmetic: the same bits. CUDA's
// compiler fuses a * b + c where the host does not: 1e-5 relative to max(1, |value|) (a float rounding of
// values up to ~10, with room; a wrong column or a missed row moves them by far more).
TEST_P(DeviceKernels, BatchNormTrainingEvaluationAndBackwardMatchTheCpu) {
  const auto expect_same = [&](const std::vector<float>& got, const std::vector<float>& expected,
                               const std::string& what) {
    ASSERT_EQ(got.size(), expected.size()) << what;
    if (GetParam() == "emulated") {
      EXPECT_EQ(got, expected) << what;
      return;
    }
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_LE(std::abs(got[i] - expected[i]), 1e-5 * std::max(1.0f, std::abs(expected[i]))) << what << "[" << i << "]";
  };
  for (const auto& [rows, cols] : {std::pair{2, 1}, std::pair{7, 5}, std::pair{300, 129}}) {
    const std::size_t n = static_cast<std::size_t>(rows) * cols, f = static_cast<std::size_t>(cols);
    const std::string shape = std::to_string(rows) + "x" + std::to_string(cols);
    DenseLayer layer;
    layer.kind = LayerKind::batch_norm;
    layer.in = layer.out = cols;
    layer.batch_norm.momentum = 0.3;
    layer.batch_norm.eps = 1e-3;
    const auto x = random_values(n, 40, -3, 5), dy = random_values(n, 41);
    const auto scale = random_values(f, 42, 0.5, 2), shift = random_values(f, 43);
    const auto mean0 = random_values(f, 44), var0 = random_values(f, 45, 0.5, 3);
    // The CPU.
    std::vector<float> y(n), xhat(n), inv_std(f), mean = mean0, var = var0;
    batch_norm_forward_training(y.data(), BatchNormSaved<float>{xhat.data(), inv_std.data()}, x.data(), scale.data(),
                                shift.data(), mean.data(), var.data(), layer, rows);
    std::vector<float> evaluated(n), grad_scale(f), grad_shift(f), grad_input(n);
    batch_norm_forward_evaluation(evaluated.data(), x.data(), scale.data(), shift.data(), mean.data(), var.data(),
                                  layer, rows);
    const BatchNormSaved<const float> saved{xhat.data(), inv_std.data()};
    batch_norm_backward<float>(grad_scale.data(), grad_shift.data(), grad_input.data(), dy.data(), saved, scale.data(),
                               layer, rows, nullptr);
    // The device.
    auto x_d = to_device(backend(), x), dy_d = to_device(backend(), dy), scale_d = to_device(backend(), scale);
    auto shift_d = to_device(backend(), shift), mean_d = to_device(backend(), mean0), var_d = to_device(backend(), var0);
    DeviceArray<float> y_d(backend(), n), xhat_d(backend(), n), inv_std_d(backend(), f), evaluated_d(backend(), n);
    DeviceArray<float> grad_scale_d(backend(), f), grad_shift_d(backend(), f), grad_input_d(backend(), n);
    auto& launches = kernels::layer_kernels<LayerKind::batch_norm>(backend());
    launches.training(y_d.data(), xhat_d.data(), inv_std_d.data(), mean_d.data(), var_d.data(), x_d.data(),
                      scale_d.data(), shift_d.data(), rows, cols, layer.batch_norm.momentum, layer.batch_norm.eps);
    launches.evaluation(evaluated_d.data(), x_d.data(), scale_d.data(), shift_d.data(), mean_d.data(), var_d.data(),
                        rows, cols, layer.batch_norm.eps);
    launches.backward(grad_scale_d.data(), grad_shift_d.data(), grad_input_d.data(), dy_d.data(), xhat_d.data(),
                      inv_std_d.data(), scale_d.data(), rows, cols);
    expect_same(to_host(y_d), y, shape + " y");
    expect_same(to_host(xhat_d), xhat, shape + " xhat");
    expect_same(to_host(inv_std_d), inv_std, shape + " 1 / sqrt(var + eps)");
    expect_same(to_host(mean_d), mean, shape + " running mean");
    expect_same(to_host(var_d), var, shape + " running variance");
    expect_same(to_host(evaluated_d), evaluated, shape + " evaluation");
    expect_same(to_host(grad_scale_d), grad_scale, shape + " scale's gradient");
    expect_same(to_host(grad_shift_d), grad_shift, shape + " shift's gradient");
    expect_same(to_host(grad_input_d), grad_input, shape + " input's gradient");
    // The first entry has no input gradient: the parameters' alone.
    DeviceArray<float> first_scale_d(backend(), f), first_shift_d(backend(), f);
    launches.backward(first_scale_d.data(), first_shift_d.data(), nullptr, dy_d.data(), xhat_d.data(),
                      inv_std_d.data(), scale_d.data(), rows, cols);
    expect_same(to_host(first_scale_d), grad_scale, shape + " scale's gradient, first entry");
    expect_same(to_host(first_shift_d), grad_shift, shape + " shift's gradient, first entry");
  }
}

// The optimizer update (through DeviceOptimizer, which builds the rule) against Optimizer<float>::step,
// three steps of each type, with clipping of the gradient's norm.
TEST_P(DeviceKernels, TheUpdateOfEveryOptimizerMatchesTheCpuStepByStep) {
  struct Case {
    const char* type;
    double weight_decay;
    double momentum;
    bool centered;
  };
  const Case cases[] = {{"sgd", 0.01, -1, false},  {"momentum", 0.0, 0.9, false}, {"nesterov", 0.001, 0.8, false},
                        {"adam", 0.01, -1, false}, {"adamw", 0.05, -1, false},    {"rmsprop", 0.0, -1, false},
                        {"rmsprop", 0.01, 0.5, true}};
  for (const bool clip : {false, true}) {
    for (const auto& c : cases) {
      NetworkSpec spec;
      spec.input = 13;
      spec.loss = LossKind::mse;
      spec.layers.push_back({.units = 11, .activation = Activation::tanh});
      spec.layers.push_back({.units = 3, .activation = Activation::identity});
      spec.optimizer.type = *parse_optimizer(c.type);
      spec.optimizer.learning_rate = 0.05;
      spec.optimizer.weight_decay = c.weight_decay;
      if (c.momentum >= 0) spec.optimizer.momentum = c.momentum;
      spec.optimizer.centered = c.centered;
      Network<float> cpu(spec);
      Network<float> device_copy(spec);
      Optimizer<float> cpu_optimizer(spec.optimizer, cpu.parameters().size());
      Optimizer<float> device_optimizer_host(spec.optimizer, cpu.parameters().size());
      DeviceNetwork network(backend(), device_copy, 4);
      DeviceOptimizer optimizer(backend(), device_optimizer_host);
      DeviceArray<kernels::StepStatus> status(backend(), 1);
      for (int step = 0; step < 3; ++step) {
        auto gradients = random_values(cpu.parameters().size(), 20 + step, -2, 2);
        backend().upload(network.gradients(), gradients.data(), gradients.size() * sizeof(float));
        const float max_norm = clip ? 1.0f : 0.0f;
        backend().check_gradients(status.data(), network.gradients(), gradients.size(), max_norm, step);
        if (clip) clip_gradient_norm(std::span<float>(gradients), 1.0);
        cpu_optimizer.step(cpu.parameters(), gradients, 0.05 / (step + 1));
        optimizer.step(network, status.data(), 0.05 / (step + 1));
      }
      network.download_parameters(device_copy);
      const std::vector<float> expected(cpu.parameters().begin(), cpu.parameters().end());
      const std::vector<float> got(device_copy.parameters().begin(), device_copy.parameters().end());
      EXPECT_LT(largest_difference(got, expected), 1e-6) << c.type << " clip " << clip;
      if (GetParam() == "emulated")  // the same one-parameter updates in host arithmetic: the same bits
        EXPECT_EQ(got, expected) << c.type << " clip " << clip;
      optimizer.download_state();
      const auto cpu_state = cpu_optimizer.state();
      const auto device_state = device_optimizer_host.state();
      ASSERT_EQ(cpu_state.size(), device_state.size());
      for (std::size_t s = 0; s < cpu_state.size(); ++s)
        EXPECT_LT(largest_difference({device_state[s].begin(), device_state[s].end()},
                                     {cpu_state[s].begin(), cpu_state[s].end()}),
                  1e-6)
            << c.type << " state " << s;
      EXPECT_EQ(device_optimizer_host.step_count(), 3);
    }
  }
}

TEST_P(DeviceKernels, ANonFiniteGradientOrLossStopsEveryLaterUpdate) {
  std::vector<float> parameters = {1, 2, 3, 4}, gradients = {0.5f, 0.5f, 0.5f, 0.5f};
  auto p = to_device(backend(), parameters), g = to_device(backend(), gradients);
  DeviceArray<kernels::StepStatus> status(backend(), 1);
  kernels::UpdateRule rule;
  rule.learning_rate = 1.0f;
  backend().check_gradients(status.data(), g.data(), 4, 0.0f, 7);
  backend().update(p.data(), g.data(), kernels::OptimizerArenas{}, 4, rule, status.data());
  EXPECT_EQ(to_host(p), (std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f}));
  auto status_host = to_host(status)[0];
  EXPECT_DOUBLE_EQ(status_host.squared_norm, 1.0);
  EXPECT_EQ(status_host.diverged, 0);
  gradients[2] = std::numeric_limits<float>::infinity();
  g.upload(gradients.data(), 4);
  backend().check_gradients(status.data(), g.data(), 4, 0.0f, 8);
  backend().update(p.data(), g.data(), kernels::OptimizerArenas{}, 4, rule, status.data());
  gradients[2] = 0.5f;  // finite again: the divergence is sticky all the same
  g.upload(gradients.data(), 4);
  backend().check_gradients(status.data(), g.data(), 4, 0.0f, 9);
  backend().update(p.data(), g.data(), kernels::OptimizerArenas{}, 4, rule, status.data());
  EXPECT_EQ(to_host(p), (std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f}));
  status_host = to_host(status)[0];
  EXPECT_EQ(status_host.diverged, 2);
  EXPECT_EQ(status_host.diverged_step, 8);
  // A loss that is not finite: diverged = 1, numbered by the next gradient check.
  DeviceArray<kernels::StepStatus> fresh(backend(), 1);
  DeviceArray<MetricSums> sums(backend(), 1);
  const std::vector<float> z = {1e30f}, a = {1e30f}, y = {0.0f};
  auto z_device = to_device(backend(), z), a_device = to_device(backend(), a), y_device = to_device(backend(), y);
  backend().loss(nullptr, sums.data(), fresh.data(), z_device.data(), a_device.data(), y_device.data(), nullptr,
                 nullptr, 0.0, 1, 1, LossKind::mse, 0.0, Activation::identity, 0.0f, 1);
  backend().check_gradients(fresh.data(), g.data(), 4, 0.0f, 3);
  status_host = to_host(fresh)[0];
  EXPECT_EQ(status_host.diverged, 1);
  EXPECT_EQ(status_host.diverged_step, 3);
}

// The CUDA backend is a plugin opened only when a GPU is asked for (docs/gpu.md). Here, where it cannot run,
// check at least that it loads with every symbol resolved (RTLD_NOW: cuBLAS, the CUDA runtime, the library's
// error functions), is this build's (the ABI number), and answers the device count like the driver does.
TEST(CudaPlugin, LoadsWithEverySymbolResolvedAndCountsTheDevices) {
#ifndef BACKPROP_TEST_CUDA_PLUGIN
  GTEST_SKIP() << "SKIPPED: this build has no CUDA backend (BACKPROP_WITH_CUDA=OFF)";
#else
  void* plugin = ::dlopen(BACKPROP_TEST_CUDA_PLUGIN, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(plugin, nullptr) << ::dlerror();
  const auto abi = reinterpret_cast<int (*)()>(::dlsym(plugin, "backprop_cuda_plugin_abi"));
  const auto kinds = reinterpret_cast<const char* (*)()>(::dlsym(plugin, "backprop_cuda_plugin_kinds"));
  const auto count = reinterpret_cast<int (*)()>(::dlsym(plugin, "backprop_cuda_device_count"));
  ASSERT_NE(abi, nullptr);
  ASSERT_NE(kinds, nullptr);
  ASSERT_NE(count, nullptr);
  EXPECT_NE(::dlsym(plugin, "backprop_cuda_create"), nullptr);
  EXPECT_EQ(abi(), kernels::kDevicePluginAbi);  // the plugin just built, loaded by this build's loader
  EXPECT_STREQ(kinds(), kernels::kDevicePluginKinds);  // and built with this build's layer kinds
  EXPECT_EQ(count(), kernels::cuda_device_count());
#endif
}

// An embedding's lookup and scatter-add against nn/embedding.cpp's, bit for bit on both backends: the lookup
// copies, and the table's gradient adds each row's values in row order in float, as the CPU does (no atomics).
// Codes repeat, some are absent; a code that is not one (the host refuses the data first) gives NaN values and
// adds nothing, never a read outside the table.
TEST_P(DeviceKernels, EmbeddingLookupAndScatterAddMatchTheCpuBitForBit) {
  for (const auto& [rows, in, column, dim, categories] :
       {std::tuple{1, 1, 0, 1, 1}, std::tuple{7, 4, 2, 3, 5}, std::tuple{300, 5, 0, 8, 40}, std::tuple{65, 3, 2, 2, 3}}) {
    const std::string shape = std::to_string(rows) + " rows, " + std::to_string(in) + " inputs, column " +
                              std::to_string(column) + ", " + std::to_string(categories) + " x " + std::to_string(dim);
    DenseLayer layer;
    layer.kind = LayerKind::embedding;
    layer.in = in;
    layer.out = in - 1 + dim;
    layer.embedding.column = column;
    layer.embedding.categories = categories;
    const std::size_t n_in = static_cast<std::size_t>(rows) * in, n_out = static_cast<std::size_t>(rows) * layer.out;
    std::vector<float> x = random_values(n_in, 50, -2, 2);
    for (int r = 0; r < rows; ++r)  // codes 0, 1, 1, 2, 2, ... up to categories - 2: repeated, the last absent
      x[static_cast<std::size_t>(r) * in + column] = static_cast<float>(((r + 1) / 2) % std::max(1, categories - 1));
    const auto table = random_values(static_cast<std::size_t>(categories) * dim, 51);
    const auto dy = random_values(n_out, 52);
    std::vector<float> y(n_out), grad_table(table.size()), grad_input(n_in);
    embedding_forward(y.data(), x.data(), table.data(), layer, rows, 0);
    embedding_backward<float>(grad_table.data(), grad_input.data(), x.data(), dy.data(), layer, rows, nullptr);
    auto x_d = to_device(backend(), x), table_d = to_device(backend(), table), dy_d = to_device(backend(), dy);
    DeviceArray<float> y_d(backend(), n_out), grad_table_d(backend(), table.size()), grad_input_d(backend(), n_in);
    auto& launches = kernels::layer_kernels<LayerKind::embedding>(backend());
    launches.forward(y_d.data(), x_d.data(), table_d.data(), rows, in, column, dim, categories);
    launches.backward(grad_table_d.data(), grad_input_d.data(), x_d.data(), dy_d.data(), rows, in, column, dim,
                      categories);
    EXPECT_EQ(to_host(y_d), y) << shape;
    EXPECT_EQ(to_host(grad_table_d), grad_table) << shape;
    EXPECT_EQ(to_host(grad_input_d), grad_input) << shape;
    launches.backward(grad_table_d.data(), nullptr, x_d.data(), dy_d.data(), rows, in, column, dim, categories);
    EXPECT_EQ(to_host(grad_table_d), grad_table) << shape << ", without dL/dx";
    // A bad code in row 0: its values NaN, its slice added nowhere; the other rows as before.
    for (const float bad : {static_cast<float>(categories), -1.0f, 0.5f, std::numeric_limits<float>::quiet_NaN()}) {
      std::vector<float> bad_x = x;
      bad_x[static_cast<std::size_t>(column)] = bad;
      auto bad_x_d = to_device(backend(), bad_x);
      launches.forward(y_d.data(), bad_x_d.data(), table_d.data(), rows, in, column, dim, categories);
      const std::vector<float> got = to_host(y_d);
      for (int d = 0; d < dim; ++d) EXPECT_TRUE(std::isnan(got[static_cast<std::size_t>(column + d)])) << shape;
      EXPECT_TRUE(std::equal(got.begin() + layer.out, got.end(), y.begin() + layer.out)) << shape;
      launches.backward(grad_table_d.data(), nullptr, bad_x_d.data(), dy_d.data(), rows, in, column, dim, categories);
      std::vector<float> expected = grad_table;  // the CPU's sums without row 0's: recomputed in the same order
      std::fill(expected.begin(), expected.end(), 0.0f);
      for (int r = 1; r < rows; ++r)
        for (int d = 0; d < dim; ++d)
          expected[static_cast<std::size_t>(x[static_cast<std::size_t>(r) * in + column]) * dim + d] +=
              dy[static_cast<std::size_t>(r) * layer.out + column + d];
      EXPECT_EQ(to_host(grad_table_d), expected) << shape << ", a bad code " << bad;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, DeviceKernels, ::testing::Values("emulated", "cuda"), backend_name);

// ---- training on a device ----

using DeviceTraining = DeviceTest;

using testing::rings;

// y = (sin 2x0, x0 x1): a regression with two targets.
Dataset waves(std::size_t rows, std::uint64_t seed) {
  Dataset data;
  data.source = "waves";
  data.rows = rows;
  data.features = 2;
  data.task = TaskKind::regression;
  data.target_count = 2;
  data.target_names = {"0", "1"};
  Random random(seed);
  for (std::size_t r = 0; r < rows; ++r) {
    const double x0 = random.uniform(-2, 2), x1 = random.uniform(-2, 2);
    data.features_f32.push_back(static_cast<float>(x0));
    data.features_f32.push_back(static_cast<float>(x1));
    data.targets.push_back(static_cast<float>(std::sin(2 * x0)));
    data.targets.push_back(static_cast<float>(x0 * x1));
  }
  return data;
}

NetworkSpec small_network(int outputs, Activation output, LossKind loss, const char* optimizer) {
  NetworkSpec spec;
  spec.input = 2;
  spec.loss = loss;
  spec.seed = 3;
  spec.layers.push_back({.units = 16, .activation = Activation::tanh});
  spec.layers.push_back({.units = 12, .activation = Activation::relu});
  spec.layers.push_back({.units = outputs, .activation = output});
  spec.optimizer.type = *parse_optimizer(optimizer);
  spec.optimizer.learning_rate = std::string(optimizer).find("adam") == 0 || std::string(optimizer) == "rmsprop" ? 0.005 : 0.05;
  spec.training.epochs = 5;
  spec.training.batch_size = 32;  // 600 rows: 18 full batches and one of 24
  spec.training.schedule.kind = ScheduleKind::cosine;
  return spec;
}

void expect_same_training(DeviceBackend& backend, NetworkSpec spec, const Dataset& data, const Dataset* validation,
                          const Scaling& scaling) {
  Network<float> cpu(spec), device(spec);
  const TrainingResult cpu_result = train(cpu, data, validation, scaling);
  TrainingParallelism parallelism;
  parallelism.device = &backend;
  const TrainingResult device_result = train(device, data, validation, scaling, nullptr, nullptr, parallelism);
  const std::vector<float> expected(cpu.parameters().begin(), cpu.parameters().end());
  const std::vector<float> got(device.parameters().begin(), device.parameters().end());
  EXPECT_LT(largest_difference(got, expected), 1e-3);
  // The batch_norms' running statistics (none without one), brought back from the device, as the parameters.
  const std::vector<float> cpu_statistics(cpu.statistics().begin(), cpu.statistics().end());
  EXPECT_LT(largest_difference({device.statistics().begin(), device.statistics().end()}, cpu_statistics), 1e-3);
  ASSERT_EQ(device_result.history.size(), cpu_result.history.size());
  EXPECT_EQ(device_result.best_epoch, cpu_result.best_epoch);
  for (std::size_t e = 0; e < cpu_result.history.size(); ++e) {
    const auto& c = cpu_result.history[e];
    const auto& d = device_result.history[e];
    EXPECT_EQ(d.train.rows, c.train.rows);
    EXPECT_NEAR(d.train.loss, c.train.loss, 1e-4 * std::max(1.0, c.train.loss)) << "epoch " << e + 1;
    EXPECT_DOUBLE_EQ(d.learning_rate, c.learning_rate);
    if (!std::isnan(c.train.accuracy)) EXPECT_NEAR(d.train.accuracy, c.train.accuracy, 0.01);
    if (!std::isnan(c.train.rmse)) EXPECT_NEAR(d.train.rmse, c.train.rmse, 1e-4);
    if (c.has_validation) {
      EXPECT_NEAR(d.validation.loss, c.validation.loss, 1e-4 * std::max(1.0, c.validation.loss)) << "epoch " << e + 1;
      EXPECT_EQ(d.validation.rows, c.validation.rows);
    }
  }
}

TEST_P(DeviceTraining, SoftmaxCrossEntropyWithMomentumMatchesTheCpu) {
  expect_same_training(backend(), small_network(2, Activation::softmax, LossKind::softmax_ce, "momentum"),
                       rings(600, 1), nullptr, Scaling{});
}

// silu hidden layers on the device: its forward and derivative are math.hpp's, as the CPU's.
TEST_P(DeviceTraining, SiluHiddenLayersMatchTheCpu) {
  NetworkSpec spec = small_network(2, Activation::softmax, LossKind::softmax_ce, "adam");
  spec.layers[0].activation = spec.layers[1].activation = Activation::silu;
  expect_same_training(backend(), spec, rings(600, 12), nullptr, Scaling{});
}

// The smoothed loss and its gradient on the device: parameters, training and validation losses as the CPU's.
// Smoothing ignored on either side would move the parameters and the losses far past the tolerances.
TEST_P(DeviceTraining, LabelSmoothingWithAdamMatchesTheCpu) {
  NetworkSpec spec = small_network(3, Activation::softmax, LossKind::softmax_ce, "adam");
  spec.training.label_smoothing = 0.2;
  Dataset data = rings(600, 10), validation = rings(200, 11);
  for (Dataset* d : {&data, &validation}) {  // three classes: the outer ring's far half is a class of its own
    d->class_names.push_back("outer, right");
    for (std::size_t r = 0; r < d->rows; ++r)
      if (d->labels[r] == 1 && d->features_f32[2 * r] > 0) d->labels[r] = 2;
  }
  expect_same_training(backend(), spec, data, &validation, Scaling{});
}

TEST_P(DeviceTraining, RegressionWithAdamClippingAndScalingMatchesTheCpu) {
  NetworkSpec spec = small_network(2, Activation::identity, LossKind::mse, "adamw");
  spec.training.clip_grad_norm = 0.5;
  const Dataset data = waves(600, 2);
  const Dataset validation = waves(100, 3);
  expect_same_training(backend(), spec, data, &validation, fit_scaling(ScalingKind::standard, data));
}

TEST_P(DeviceTraining, OneSigmoidOutputWithRmspropMatchesTheCpuWithEarlyStopping) {
  NetworkSpec spec = small_network(1, Activation::sigmoid, LossKind::bce, "rmsprop");
  spec.optimizer.centered = true;
  spec.optimizer.momentum = 0.3;
  spec.optimizer.weight_decay = 1e-3;
  spec.training.epochs = 8;
  spec.training.early_stopping = 2;
  const Dataset data = rings(600, 4);
  const Dataset validation = rings(200, 5);
  expect_same_training(backend(), spec, data, &validation, Scaling{});
}

// Row weights on the device: the CPU's weighted loss and gradient (nn/loss.cpp), epoch by epoch, within
// expect_same_training's tolerances. softmax_ce with class weights (1 and 4 by label, as train's
// apply_class_weights leaves them in Dataset::weights), bce and mse with sample weights, a tenth of them 0.
// Each case's weights move the CPU's own parameters far past those tolerances, so that ignoring them (or
// weighting differently) on the device could not pass.
TEST_P(DeviceTraining, ClassAndSampleWeightsMatchTheCpu) {
  Dataset classes = rings(600, 15), rows = rings(600, 16), regression = waves(600, 17);
  for (std::size_t r = 0; r < classes.rows; ++r) classes.weights.push_back(classes.labels[r] == 1 ? 4.0f : 1.0f);
  for (Dataset* d : {&rows, &regression}) {
    d->weights = random_values(d->rows, 18, 0, 3);
    for (std::size_t r = 0; r < d->rows; r += 10) d->weights[r] = 0.0f;
  }
  const Dataset validation = rings(200, 19);
  struct Case {
    NetworkSpec spec;
    const Dataset* data;
    const Dataset* validation;
  };
  const Case cases[] = {
      {small_network(2, Activation::softmax, LossKind::softmax_ce, "momentum"), &classes, &validation},
      {small_network(1, Activation::sigmoid, LossKind::bce, "adam"), &rows, &validation},
      {small_network(2, Activation::identity, LossKind::mse, "sgd"), &regression, nullptr}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(to_string(c.spec.loss)));
    expect_same_training(backend(), c.spec, *c.data, c.validation, Scaling{});
    Dataset unweighted = *c.data;
    unweighted.weights.clear();
    Network<float> with(c.spec), without(c.spec);
    train(with, *c.data, nullptr, Scaling{});
    train(without, unweighted, nullptr, Scaling{});
    EXPECT_GT(largest_difference({with.parameters().begin(), with.parameters().end()},
                                 {without.parameters().begin(), without.parameters().end()}),
              1e-2);
  }
}

// A network with batch_norm entries: of the input, and after each hidden layer (one with its own momentum and
// eps). The device's statistics are its own until synchronize(): early stopping's kept epoch, the validation
// passes (running statistics) and the final network read them.
NetworkSpec batch_norm_network() {
  NetworkSpec spec = small_network(2, Activation::softmax, LossKind::softmax_ce, "adam");
  const auto norm = [](int units, double momentum, double eps) {
    return LayerSpec{.kind = LayerKind::batch_norm, .units = units, .activation = Activation::identity,
                     .batch_norm = {.momentum = momentum, .eps = eps}};
  };
  spec.layers.insert(spec.layers.begin() + 2, norm(12, 0.2, 1e-3));
  spec.layers.insert(spec.layers.begin() + 1, norm(16, 0.1, 1e-5));
  spec.layers.insert(spec.layers.begin(), norm(2, 0.1, 1e-5));
  return spec;
}

// batch_norm on the device against the CPU: parameters and running statistics within 1e-3, losses within 1e-4
// relative, epoch by epoch, the validation's too (as every case here). The statistics must have moved from
// their start (0 and 1) for the comparison to mean anything.
TEST_P(DeviceTraining, BatchNormMatchesTheCpuWithEarlyStopping) {
  NetworkSpec spec = batch_norm_network();
  spec.training.epochs = 8;
  spec.training.early_stopping = 2;
  const Dataset data = rings(600, 13), validation = rings(200, 14);
  expect_same_training(backend(), spec, data, &validation, Scaling{});
  Network<float> network(spec);
  TrainingParallelism parallelism;
  parallelism.device = &backend();
  train(network, data, &validation, Scaling{}, nullptr, nullptr, parallelism);
  const Network<float> untrained(spec);
  EXPECT_GT(largest_difference({network.statistics().begin(), network.statistics().end()},
                               {untrained.statistics().begin(), untrained.statistics().end()}),
            0.01);
}

// The rings with a third column of codes 0-5 (of 7: code 6 never occurs), each code shifting the rings a little,
// read by an embedding of 3 values per code after a tanh layer.
Dataset rings_with_codes(std::size_t rows, std::uint64_t seed) {
  const Dataset rings_only = rings(rows, seed);
  Dataset data = rings_only;
  data.features = 3;
  data.features_f32.clear();
  for (std::size_t r = 0; r < rows; ++r) {
    const float code = static_cast<float>((r * 7 + r / 3) % 6);
    data.features_f32.push_back(rings_only.features_f32[2 * r] + 0.1f * code);
    data.features_f32.push_back(code);
    data.features_f32.push_back(rings_only.features_f32[2 * r + 1]);
  }
  return data;
}

NetworkSpec embedding_network() {
  NetworkSpec spec = small_network(2, Activation::softmax, LossKind::softmax_ce, "adam");
  spec.input = 3;
  spec.layers.insert(spec.layers.begin(), LayerSpec{.kind = LayerKind::embedding, .units = 5,
                                                    .activation = Activation::identity,
                                                    .embedding = {.column = 1, .categories = 7}});
  return spec;
}

// An embedding on the device against the CPU, with a standard scaling (which leaves the code column as it is)
// and validation rows: parameters within 1e-3, losses within 1e-4 relative, epoch by epoch, as every case here.
// The table's rows of the codes in the data must have moved; the row of the code never seen (6) has a zero
// gradient at every step, which Adam without weight decay turns into no update at all.
TEST_P(DeviceTraining, EmbeddingMatchesTheCpu) {
  const NetworkSpec spec = embedding_network();
  const Dataset data = rings_with_codes(600, 15), validation = rings_with_codes(200, 16);
  Scaling scaling = fit_scaling(ScalingKind::standard, data);
  scaling.offset[1] = 0.0;
  scaling.scale[1] = 1.0;
  expect_same_training(backend(), spec, data, &validation, scaling);
  Network<float> network(spec);
  TrainingParallelism parallelism;
  parallelism.device = &backend();
  train(network, data, &validation, scaling, nullptr, nullptr, parallelism);
  const Network<float> untrained(spec);
  const std::span<const float> table = std::as_const(network).weights(0), start = untrained.weights(0);
  EXPECT_GT(largest_difference({table.begin(), table.begin() + 18}, {start.begin(), start.begin() + 18}), 0.01);
  EXPECT_TRUE(std::equal(table.begin() + 18, table.end(), start.begin() + 18)) << "code 6 is in no row";
}

// A code that is not one of the entry's is refused before any step, naming the data's row, as on the CPU.
TEST_P(DeviceTraining, ABadCodeIsRefusedNamingTheRow) {
  Dataset data = rings_with_codes(100, 17);
  data.features_f32[3 * 41 + 1] = 7.0f;
  Network<float> network(embedding_network());
  TrainingParallelism parallelism;
  parallelism.device = &backend();
  try {
    train(network, data, nullptr, Scaling{}, nullptr, nullptr, parallelism);
    ADD_FAILURE() << "a code of 7 of 7 categories was trained";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), ::testing::HasSubstr("rings: row 42: layers[0] (embedding of input 1): "
                                                            "expected a category's code, a whole number in [0, 7), got 7"));
  }
}

TEST_P(DeviceTraining, DropoutTrainsReproduciblyAndLearns) {
  NetworkSpec spec = small_network(2, Activation::softmax, LossKind::softmax_ce, "adam");
  spec.layers[0].dropout = 0.2;
  spec.training.epochs = 30;
  const Dataset data = rings(600, 6);
  TrainingParallelism parallelism;
  parallelism.device = &backend();
  Network<float> first(spec), second(spec);
  const auto result = train(first, data, nullptr, Scaling{}, nullptr, nullptr, parallelism);
  train(second, data, nullptr, Scaling{}, nullptr, nullptr, parallelism);
  EXPECT_TRUE(std::equal(first.parameters().begin(), first.parameters().end(), second.parameters().begin()));
  EXPECT_LT(result.history.back().train.loss, 0.5 * result.history.front().train.loss);
  EXPECT_GT(evaluate(first, rings(400, 7), Scaling{}).accuracy, 0.95);
}

// A checkpoint taken mid-epoch, resumed on the device, ends where the uninterrupted run ends: the parameters
// and the running statistics (a batch_norm's are part of what a checkpoint saves and a resume uploads).
void expect_exact_resume(DeviceBackend& backend, bool emulated, const NetworkSpec& spec) {
  const Dataset data = rings(600, 8);
  TrainingParallelism parallelism;
  parallelism.device = &backend;
  Network<float> whole(spec);
  train(whole, data, nullptr, Scaling{}, nullptr, nullptr, parallelism);

  std::vector<TrainingState> states;
  std::vector<std::vector<float>> parameters, statistics;
  TrainingCheckpoints checkpoints;
  checkpoints.every_steps = 25;
  checkpoints.save = [&](const TrainingState& state, const Network<float>& network) {
    states.push_back(state);
    parameters.emplace_back(network.parameters().begin(), network.parameters().end());
    statistics.emplace_back(network.statistics().begin(), network.statistics().end());
  };
  Network<float> saving(spec);
  train(saving, data, nullptr, Scaling{}, nullptr, &checkpoints, parallelism);
  ASSERT_GE(states.size(), 2u);
  const std::size_t pick = 1;  // step 50: epoch 3, batch 12
  Network<float> resumed(spec);
  std::copy(parameters[pick].begin(), parameters[pick].end(), resumed.parameters().begin());
  std::copy(statistics[pick].begin(), statistics[pick].end(), resumed.statistics().begin());
  TrainingCheckpoints resume;
  resume.resume = &states[pick];
  train(resumed, data, nullptr, Scaling{}, nullptr, &resume, parallelism);
  for (const bool of_statistics : {false, true}) {
    const auto expected_span = of_statistics ? std::span<const float>(whole.statistics()) : whole.parameters();
    const auto got_span = of_statistics ? std::span<const float>(resumed.statistics()) : resumed.parameters();
    const std::vector<float> expected(expected_span.begin(), expected_span.end());
    const std::vector<float> got(got_span.begin(), got_span.end());
    if (emulated)  // host arithmetic: the same bits
      EXPECT_EQ(got, expected) << (of_statistics ? "statistics" : "parameters");
    else  // a GPU's products are deterministic for a shape, but allow for rounding
      EXPECT_LT(largest_difference(got, expected), 1e-6) << (of_statistics ? "statistics" : "parameters");
  }
}

TEST_P(DeviceTraining, ResumingFromACheckpointGivesTheUninterruptedResult) {
  expect_exact_resume(backend(), GetParam() == "emulated",
                      small_network(2, Activation::softmax, LossKind::softmax_ce, "adam"));
  expect_exact_resume(backend(), GetParam() == "emulated", batch_norm_network());
}

TEST_P(DeviceTraining, DivergenceNamesTheEpochAndBatchAndKeepsTheLastFiniteParameters) {
  const auto run = [&](float x, double weight, int rows) -> std::string {
    const NetworkSpec spec = testing::one_weight_network(weight);
    const Dataset data = testing::one_feature_regression(x, 0.0f, rows);
    Network<float> network(spec);
    TrainingParallelism parallelism;
    parallelism.device = &backend();
    try {
      train(network, data, nullptr, Scaling{}, nullptr, nullptr, parallelism);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::runtime);
      for (float p : network.parameters()) EXPECT_TRUE(std::isfinite(p)) << e.what();
      return e.what();
    }
    return "no error";
  };
  // As TrainerDivergence's cases: a gradient that overflows at once; a loss that overflows at step 2.
  EXPECT_THAT(run(3e38f, 1e-38, 1),
              ::testing::HasSubstr("training diverged at epoch 1, batch 1: the gradient of layer 1 is not finite"));
  EXPECT_THAT(run(1e18f, 1.0, 3),
              ::testing::HasSubstr("training diverged at epoch 1, batch 2: the loss is inf at layer 1: its outputs are not finite"));
}

// As TrainerDivergence.AnUpdateThatOverflowsTheWeightsNamesTheStepAndTheLayer: the loss and the gradient are
// finite, the update is not. The device reports the step that did it, not a later one.
TEST_P(DeviceTraining, AnUpdateThatOverflowsTheWeightsNamesTheStepAndTheLayer) {
  NetworkSpec spec = testing::one_weight_network(0.0);
  spec.optimizer.learning_rate = 1e21;
  spec.training.batch_size = 2;
  spec.training.epochs = 2;
  Network<float> network(spec);
  TrainingParallelism parallelism;
  parallelism.device = &backend();
  std::string message = "no error";
  try {
    train(network, testing::one_feature_regression(1.0f, 1e18f, 6), nullptr, Scaling{}, nullptr, nullptr,
          parallelism);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::runtime);
    message = e.what();
  }
  EXPECT_THAT(message, ::testing::HasSubstr(
                           "training diverged at epoch 1, batch 1: the update made the parameters of layer 1 not finite"));
}

TEST_P(DeviceTraining, EvaluateAndPredictionsMatchTheCpu) {
  NetworkSpec spec = small_network(2, Activation::softmax, LossKind::softmax_ce, "adam");
  spec.training.label_smoothing = 0.3;
  Network<float> network(spec);
  const Dataset data = rings(700, 9);  // batches of 256: two full and one of 188
  const Metrics cpu = evaluate(network, data, Scaling{});
  const Metrics device = evaluate(network, data, Scaling{}, 256, &backend());
  EXPECT_NEAR(device.loss, cpu.loss, 1e-6);
  // The training objective (the smoothed loss) where asked for, on both; the plain loss otherwise.
  const Metrics cpu_objective = evaluate(network, data, Scaling{}, 256, nullptr, EvaluatedLoss::training_objective);
  const Metrics device_objective =
      evaluate(network, data, Scaling{}, 256, &backend(), EvaluatedLoss::training_objective);
  EXPECT_NEAR(device_objective.loss, cpu_objective.loss, 1e-6);
  EXPECT_GT(std::abs(cpu_objective.loss - cpu.loss), 1e-3);
  EXPECT_DOUBLE_EQ(device.accuracy, cpu.accuracy);
  EXPECT_EQ(device.rows, cpu.rows);
  std::vector<float> cpu_outputs, device_outputs;
  forward_batches(network, data, Scaling{}, 256, [&](std::size_t, std::size_t count, const Workspace<float>& w) {
    cpu_outputs.insert(cpu_outputs.end(), network.output(w), network.output(w) + count * 2);
  });
  forward_batches(
      network, data, Scaling{}, 256,
      [&](std::size_t, std::size_t count, const Workspace<float>& w) {
        device_outputs.insert(device_outputs.end(), network.output(w), network.output(w) + count * 2);
      },
      &backend());
  EXPECT_LT(largest_difference(device_outputs, cpu_outputs), 1e-6);
}

// Evaluation on the device uses the batch_norms' running statistics, as the CPU's: a network trained (on the
// CPU, so its statistics are far from 0 and 1) evaluates and predicts the same within 1e-6.
TEST_P(DeviceTraining, BatchNormEvaluateAndPredictionsMatchTheCpu) {
  NetworkSpec spec = batch_norm_network();
  spec.training.epochs = 2;
  Network<float> network(spec);
  train(network, rings(600, 15), nullptr, Scaling{});
  const Dataset data = rings(700, 16);  // batches of 256: two full and one of 188
  const Metrics cpu = evaluate(network, data, Scaling{});
  const Metrics device = evaluate(network, data, Scaling{}, 256, &backend());
  EXPECT_NEAR(device.loss, cpu.loss, 1e-6);
  EXPECT_DOUBLE_EQ(device.accuracy, cpu.accuracy);
  std::vector<float> cpu_outputs, device_outputs;
  for (kernels::DeviceBackend* on : {static_cast<kernels::DeviceBackend*>(nullptr), &backend()})
    forward_batches(
        network, data, Scaling{}, 256,
        [&](std::size_t, std::size_t count, const Workspace<float>& w) {
          auto& outputs = on == nullptr ? cpu_outputs : device_outputs;
          outputs.insert(outputs.end(), network.output(w), network.output(w) + count * 2);
        },
        on);
  ASSERT_EQ(device_outputs.size(), 700u * 2);
  EXPECT_LT(largest_difference(device_outputs, cpu_outputs), 1e-6);
  // Not the batch's statistics: evaluating the same rows as one batch of 256 or as single rows gives the same.
  const Metrics single_rows = evaluate(network, data, Scaling{}, 1, &backend());
  EXPECT_NEAR(single_rows.loss, device.loss, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Backends, DeviceTraining, ::testing::Values("emulated", "cuda"), backend_name);

// ---- the command ----

TEST(DeviceCommand, CudaWithoutAGpuIsRefusedWithExitCode2AsAreUnknownDevices) {
  using backprop::testing::run_backprop;
  using backprop::testing::shell_word;
  backprop::testing::TempDir dir;
  backprop::testing::write_file(dir / "xor.csv", "a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n");
  const std::string common = "train " + shell_word(backprop::testing::source_path("examples/xor.json")) + " --data " +
                             shell_word(dir / "xor.csv") + " --epochs 1 --quiet --out " + shell_word(dir / "m.model");
  const auto cuda = run_backprop(common + " --device cuda");
  if (kernels::cuda_device_count() > 0) {
    EXPECT_EQ(cuda.exit_code, 0) << cuda.out;
  } else {
    EXPECT_EQ(cuda.exit_code, 2) << cuda.out;
    EXPECT_THAT(cuda.out, ::testing::AnyOf(::testing::HasSubstr("--device: no CUDA device found"),
                                           ::testing::HasSubstr("--device: this build has no CUDA backend")));
    EXPECT_FALSE(std::filesystem::exists(dir / "m.model"));
  }
  const auto unknown = run_backprop(common + " --device tpu");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out;
  EXPECT_THAT(unknown.out, ::testing::HasSubstr("--device"));
  // The default comes from $BACKPROP_DEVICE when set; a bad value is refused the same way.
  ::setenv("BACKPROP_DEVICE", "tpu", 1);
  const auto from_environment = run_backprop(common);
  ::setenv("BACKPROP_DEVICE", "cpu", 1);
  const auto on_cpu = run_backprop(common);
  ::unsetenv("BACKPROP_DEVICE");
  EXPECT_EQ(from_environment.exit_code, 2) << from_environment.out;
  EXPECT_THAT(from_environment.out, ::testing::HasSubstr("BACKPROP_DEVICE: expected cpu or cuda, got 'tpu'"));
  EXPECT_EQ(on_cpu.exit_code, 0) << on_cpu.out;
}


// The command's device path end to end on the emulated device (BACKPROP_DEVICE=emulated): it trains to the
// CPU's result (eval losses within 1e-4), and a run resumed from its last checkpoint writes the same model
// bytes as the uninterrupted run.
TEST(DeviceCommand, TheEmulatedDeviceTrainsLikeTheCpuAndResumesExactly) {
  using backprop::testing::run_backprop;
  using backprop::testing::shell_word;
  backprop::testing::TempDir dir;
  const Dataset data = rings(400, 21);
  std::string csv = "x0,x1,ring\n";
  for (std::size_t r = 0; r < data.rows; ++r)
    csv += std::to_string(data.features_f32[2 * r]) + "," + std::to_string(data.features_f32[2 * r + 1]) + "," +
           data.class_names[data.labels[r]] + "\n";
  backprop::testing::write_file(dir / "rings.csv", csv);
  // Dense layers alone, and with a batch_norm (whose running statistics the model file and the checkpoint hold).
  for (const std::string middle : {"", R"({"type": "batch_norm", "momentum": 0.2},)"}) {
    SCOPED_TRACE(middle.empty() ? "dense layers" : "with a batch_norm");
    backprop::testing::write_file(dir / "net.json",
                                  R"({"input": 2, "layers": [{"units": 12, "activation": "tanh"},)" + middle +
                                      R"({"units": 2, "activation": "softmax"}], "loss": "softmax_ce",
                                      "optimizer": {"type": "adam", "learning_rate": 0.01}, "seed": 5,
                                      "training": {"epochs": 4, "batch_size": 16}})");
    std::filesystem::remove(dir / "run.ckpt");
    const std::string train = "train " + shell_word(dir / "net.json") + " --data " + shell_word(dir / "rings.csv");
    const auto with_device = [&](const char* device, const std::string& arguments) {
      ::setenv("BACKPROP_DEVICE", device, 1);
      const auto result = run_backprop(arguments);
      ::setenv("BACKPROP_DEVICE", "cpu", 1);
      return result;
    };
    const auto cpu = with_device("cpu", train + " --out " + shell_word(dir / "cpu.model"));
    ASSERT_EQ(cpu.exit_code, 0) << cpu.out;
    const auto device = with_device("emulated", train + " --checkpoint " + shell_word(dir / "run.ckpt") +
                                                    " --checkpoint-every 30 --out " + shell_word(dir / "device.model"));
    ASSERT_EQ(device.exit_code, 0) << device.out;
    EXPECT_THAT(device.out, ::testing::HasSubstr("device emulated (host memory)"));
    const auto resumed = with_device("emulated", train + " --resume " + shell_word(dir / "run.ckpt") + " --out " +
                                                     shell_word(dir / "resumed.model"));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
    EXPECT_EQ(backprop::testing::read_text(dir / "resumed.model"), backprop::testing::read_text(dir / "device.model"));
    const auto loss_of = [&](const std::string& model, const char* device_name) {
      const auto result = with_device(device_name, "eval " + shell_word(dir / model) + " --data " +
                                                       shell_word(dir / "rings.csv") + " --json");
      EXPECT_EQ(result.exit_code, 0) << result.out;
      return nlohmann::json::parse(result.out.substr(result.out.find('{')))["loss"].get<double>();
    };
    const double cpu_loss = loss_of("cpu.model", "cpu");
    EXPECT_NEAR(loss_of("device.model", "cpu"), cpu_loss, 1e-4);
    EXPECT_NEAR(loss_of("device.model", "emulated"), loss_of("device.model", "cpu"), 1e-6);
  }
  ::unsetenv("BACKPROP_DEVICE");
}

// `bench` times passes on the device when one is chosen (here the emulated one): one JSON entry per batch.
TEST(DeviceCommand, BenchTimesForwardPassesOnTheDevice) {
  using backprop::testing::shell_word;
  ::setenv("BACKPROP_DEVICE", "emulated", 1);
  const auto result = backprop::testing::run_backprop(
      "bench " + shell_word(backprop::testing::source_path("examples/xor.json")) + " --batch 4 --repeat 3 --json");
  ::unsetenv("BACKPROP_DEVICE");
  ASSERT_EQ(result.exit_code, 0) << result.out;
  const auto results = nlohmann::json::parse(result.out);
  ASSERT_EQ(results.size(), 1u) << result.out;
  EXPECT_EQ(results[0]["batch"], 4);
  EXPECT_EQ(results[0]["passes"], 3);
  EXPECT_GT(results[0]["latency_us"].get<double>(), 0.0);
}

}  // namespace
}  // namespace backprop
