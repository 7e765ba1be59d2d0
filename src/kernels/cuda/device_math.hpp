// The per-element and per-row math of the device kernels, written once for both backends of
// kernels/device.hpp: the CUDA kernels (backend.cu) call these functions from their threads, the emulator
// (emulated.cpp) from plain loops. So the emulator, which the tests run everywhere, checks the math and the
// indexing; what only a GPU run checks is the launch geometry and the reductions (backend.cu).
//
// The formulas are those of the CPU path (nn/activation.cpp, nn/loss.cpp, nn/optimizer.cpp,
// Dataset::gather_rows), in the same precision.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "backprop/kernels/device.hpp"

#if defined(__CUDACC__)
#define BACKPROP_HD __host__ __device__ inline
#else
#define BACKPROP_HD inline
#endif

namespace backprop::kernels::device_math {

// f(z) for the element-wise functions (not softmax).
BACKPROP_HD float activate(Function f, float z, float slope) {
  switch (f) {
    case Function::sigmoid: return 1.0f / (1.0f + expf(-z));
    case Function::tanh: return tanhf(z);
    case Function::leaky_relu: return z > 0.0f ? z : slope * z;
    default: return z;
  }
}

// dL/dz from dL/da for the element-wise functions (not softmax): sigmoid and tanh from a, the relus from z.
BACKPROP_HD float derivative(Function f, float da, float z, float a, float slope) {
  switch (f) {
    case Function::sigmoid: return da * a * (1.0f - a);
    case Function::tanh: return da * (1.0f - a * a);
    case Function::leaky_relu: return z > 0.0f ? da : slope * da;
    default: return da;
  }
}

// a = softmax(z) over one row of cols values (the row maximum subtracted first).
BACKPROP_HD void softmax_row(float* a, const float* z, int cols) {
  float max = z[0];
  for (int c = 1; c < cols; ++c) max = z[c] > max ? z[c] : max;
  float sum = 0.0f;
  for (int c = 0; c < cols; ++c) {
    a[c] = expf(z[c] - max);
    sum += a[c];
  }
  for (int c = 0; c < cols; ++c) a[c] /= sum;
}

// A uniform draw in [0, 1) from (seed, index): splitmix64's finaliser over their combination, top 24 bits.
BACKPROP_HD float uniform_hash(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t x = seed + 0x9E3779B97F4A7C15ull * (index + 1);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<float>(x >> 40) * (1.0f / 16777216.0f);
}

// Feature f of data row r as network input: value / 255 for uint8 data, then the scaling, as gather_rows.
BACKPROP_HD float input_value(const DeviceRows& rows, std::size_t r, int f) {
  const std::size_t i = r * static_cast<std::size_t>(rows.features) + static_cast<std::size_t>(f);
  const float x = rows.features_u8 != nullptr ? static_cast<float>(rows.features_u8[i]) / 255.0f : rows.features_f32[i];
  if (rows.offset == nullptr) return x;
  return static_cast<float>((static_cast<double>(x) - rows.offset[f]) / rows.scale[f]);
}

// Output o of data row r as target: one-hot of the label (or the 0/1 label itself for one output), or the
// regression target, as gather_targets.
BACKPROP_HD float target_value(const DeviceRows& rows, std::size_t r, int o) {
  if (rows.labels != nullptr) {
    if (rows.outputs == 1) return static_cast<float>(rows.labels[r]);
    return rows.labels[r] == o ? 1.0f : 0.0f;
  }
  return rows.targets[r * static_cast<std::size_t>(rows.outputs) + static_cast<std::size_t>(o)];
}

// The class a row of outputs predicts: argmax, or a > 0.5 for one output (trainer.cpp's predicted_class).
BACKPROP_HD int predicted_class(const float* a, int cols) {
  if (cols == 1) return a[0] > 0.5f ? 1 : 0;
  int best = 0;
  for (int c = 1; c < cols; ++c)
    if (a[c] > a[best]) best = c;
  return best;
}

// One row's share of DeviceSums.
struct RowSums {
  double loss = 0, correct = 0, squared_error = 0, absolute_error = 0;
};

// The loss of one row (z, a, y of cols values) and, when dz is not null, dL/dz of the batch loss (the row's
// loss divided by batch_rows), as nn/loss.cpp:
//   mse:        sum (a - y)^2 / 2;  dz = (a - y) / B chained through f' of the output function
//   bce:        sum max(z, 0) - z y + log(1 + e^-|z|)  (from z, stable);  dz = (a - y) / B
//   softmax_ce: sum y (logsumexp(z) - z);  dz = (a sum(y) - y) / B
// label >= 0 counts a correct prediction; with label < 0 (regression) the squared and absolute errors
// are summed instead.
BACKPROP_HD RowSums loss_row(float* dz, const float* z, const float* a, const float* y, int label, int cols,
                             LossFunction loss, Function output, float slope, float inverse_batch) {
  RowSums sums;
  if (loss == LossFunction::softmax_ce) {
    double max = z[0];
    for (int c = 1; c < cols; ++c) max = z[c] > max ? z[c] : max;
    double exp_sum = 0;
    for (int c = 0; c < cols; ++c) exp_sum += exp(static_cast<double>(z[c]) - max);
    const double log_sum_exp = max + log(exp_sum);
    float y_sum = 0.0f;
    for (int c = 0; c < cols; ++c) {
      sums.loss += static_cast<double>(y[c]) * (log_sum_exp - z[c]);
      y_sum += y[c];
    }
    if (dz != nullptr)
      for (int c = 0; c < cols; ++c) dz[c] = (a[c] * y_sum - y[c]) * inverse_batch;
  } else {
    for (int c = 0; c < cols; ++c) {
      if (loss == LossFunction::mse) {
        const double d = static_cast<double>(a[c]) - y[c];
        sums.loss += d * d / 2.0;
      } else {
        const double zc = z[c];
        sums.loss += (zc > 0.0 ? zc : 0.0) - zc * y[c] + log1p(exp(-fabs(zc)));
      }
      if (dz != nullptr) dz[c] = (a[c] - y[c]) * inverse_batch;
    }
    if (dz != nullptr && loss == LossFunction::mse) {
      if (output == Function::softmax) {
        float dot = 0.0f;
        for (int c = 0; c < cols; ++c) dot += dz[c] * a[c];
        for (int c = 0; c < cols; ++c) dz[c] = a[c] * (dz[c] - dot);
      } else {
        for (int c = 0; c < cols; ++c) dz[c] = derivative(output, dz[c], z[c], a[c], slope);
      }
    }
  }
  if (label >= 0) {
    sums.correct = predicted_class(a, cols) == label ? 1.0 : 0.0;
  } else {
    for (int c = 0; c < cols; ++c) {
      const double d = static_cast<double>(a[c]) - y[c];
      sums.squared_error += d * d;
      sums.absolute_error += fabs(d);
    }
  }
  return sums;
}

// clip_factor from the squared norm, as clip_gradient_norm: max_norm / (norm + 1e-6) when below 1.
BACKPROP_HD float clip_factor(double squared_norm, float max_norm) {
  if (!(max_norm > 0.0f)) return 1.0f;
  const double factor = static_cast<double>(max_norm) / (sqrt(squared_norm) + 1e-6);
  return factor < 1.0 ? static_cast<float>(factor) : 1.0f;
}

// One element of an optimizer step (nn/optimizer.cpp's loops, element i): p, and the state values the
// rule uses, updated in place.
BACKPROP_HD void update_element(const UpdateRule& rule, float& p, float gradient, float* s0, float* s1, float* s2) {
  switch (rule.kind) {
    case UpdateKind::sgd: {
      const float g = gradient + rule.weight_decay * p;
      p -= rule.learning_rate * g;
      break;
    }
    case UpdateKind::momentum:
    case UpdateKind::nesterov: {
      const float g = gradient + rule.weight_decay * p;
      const float buffer = *s0 * rule.momentum + g;
      *s0 = buffer;
      if (rule.kind == UpdateKind::nesterov)
        p -= rule.learning_rate * (g + rule.momentum * buffer);
      else
        p -= rule.learning_rate * buffer;
      break;
    }
    case UpdateKind::adamw:
    case UpdateKind::adam: {
      if (rule.kind == UpdateKind::adamw) p *= rule.decay_factor;
      const float g = gradient + rule.weight_decay * p;
      const float m = *s0 * rule.beta1 + (1.0f - rule.beta1) * g;
      const float v = *s1 * rule.beta2 + (1.0f - rule.beta2) * g * g;
      *s0 = m;
      *s1 = v;
      p -= rule.step_size * (m / (sqrtf(v) / rule.sqrt_bias_correction2 + rule.epsilon));
      break;
    }
    case UpdateKind::rmsprop: {
      const float g = gradient + rule.weight_decay * p;
      const float v = *s0 * rule.alpha + (1.0f - rule.alpha) * g * g;
      *s0 = v;
      float denominator;
      if (rule.centered) {
        const float average = *s1 * rule.alpha + (1.0f - rule.alpha) * g;
        *s1 = average;
        denominator = sqrtf(v - average * average) + rule.epsilon;
      } else {
        denominator = sqrtf(v) + rule.epsilon;
      }
      if (s2 != nullptr) {
        const float buffer = *s2 * rule.momentum + g / denominator;
        *s2 = buffer;
        p -= rule.learning_rate * buffer;
      } else {
        p -= rule.learning_rate * (g / denominator);
      }
      break;
    }
  }
}

}  // namespace backprop::kernels::device_math
