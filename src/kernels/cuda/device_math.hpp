// What the device kernels do per element and per row beyond the formulas of kernels/math.hpp, written once
// for both backends of kernels/device.hpp: the CUDA kernels (backend.cu) call these functions from their
// threads, the emulator (emulated.cpp) from plain loops. So the emulator, which the tests run everywhere,
// checks the math and the indexing; what only a GPU run checks is the launch geometry and the reductions
// (backend.cu). Here: the dropout hash, the gather of DeviceRows, one row's loss with its metrics, the
// dispatch of an UpdateRule to math.hpp's one-parameter updates. A layer kind's own are in its own header
// (embedding_kernels.hpp: an embedding's lookup and scatter-add).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "kernels/math.hpp"
#include "kernels/device.hpp"

namespace backprop::kernels::device_math {

// A uniform draw in [0, 1) from (seed, index): splitmix64's finaliser over their combination, top 24 bits.
BACKPROP_HD float uniform_hash(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t x = seed + 0x9E3779B97F4A7C15ull * (index + 1);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<float>(x >> 40) * (1.0f / 16777216.0f);
}

// Feature f of data row r as network input, as gather_rows: math::byte_feature for uint8 data, then the
// scaling.
BACKPROP_HD float input_value(const DeviceRows& rows, std::size_t r, int f) {
  const std::size_t i = r * static_cast<std::size_t>(rows.features) + static_cast<std::size_t>(f);
  const float x = rows.features_u8 != nullptr ? math::byte_feature(rows.features_u8[i]) : rows.features_f32[i];
  if (rows.offset == nullptr) return x;
  return math::scaled_feature(x, rows.offset[f], rows.scale[f]);
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

// The loss of one row (z, a, y of cols values: math::add_loss_row's sum, which loss_total turns into the
// batch's loss; scaled here to the row's own loss) and its metrics (math::add_row_metrics), as one row's
// MetricSums; when dz is not null, also dL/dz of the batch loss (math::loss_gradient_row). label >= 0: a
// class label; < 0: regression. weight: the row's (1 without row weights), which multiplies its loss; scale:
// its share of the batch's gradient, 1 / B or math::weighted_row_scale.
BACKPROP_HD MetricSums loss_row(float* dz, const float* z, const float* a, const float* y, int label, int cols,
                                LossKind loss, double label_smoothing, Activation output, float slope, float scale,
                                double weight) {
  MetricSums sums;
  sums.loss = weight * math::loss_total(loss, math::add_loss_row(0.0, loss, label_smoothing, z, a, y, cols), 1);
  if (dz != nullptr) math::loss_gradient_row(dz, loss, label_smoothing, z, a, y, cols, output, slope, scale);
  math::add_row_metrics(sums, a, y, label, cols);
  return sums;
}

// Row r's weight and share of the gradient: with row weights (not null) weights[r] and
// math::weighted_row_scale over the batch's denominator, else 1 and 1 / B.
struct RowShare {
  double weight;
  float scale;
};
BACKPROP_HD RowShare row_share(const float* weights, int r, double denominator, float inverse_batch) {
  if (weights == nullptr) return {1.0, inverse_batch};
  return {static_cast<double>(weights[r]), math::weighted_row_scale<float>(weights[r], denominator)};
}

// The batch's loss from the sum of loss_row's over its rows: their mean, or with row weights the weighted
// mean over denominator, in which case batch.loss becomes that mean times the rows (what the CPU's add_rows
// adds to the epoch's sums). A batch whose rows all weigh 0 has loss 0.
BACKPROP_HD double batch_loss(MetricSums& batch, int rows, bool weighted, double denominator) {
  if (!weighted) return batch.loss / rows;
  const double mean = denominator > 0 ? batch.loss / denominator : 0.0;
  batch.loss = mean * rows;
  return mean;
}

// clip_factor from the squared norm, as clip_gradient_norm: math::clip_factor when below 1 and max_norm > 0.
BACKPROP_HD float clip_factor(double squared_norm, float max_norm) {
  if (!(max_norm > 0.0f)) return 1.0f;
  const double factor = math::clip_factor(sqrt(squared_norm), static_cast<double>(max_norm));
  return factor < 1.0 ? static_cast<float>(factor) : 1.0f;
}

// Value i of the state buffer the rule keeps as `state`, or null where it keeps none.
BACKPROP_HD float* state_at(const OptimizerArenas& arenas, OptimizerState state, std::size_t i) {
  float* arena = arenas.arena[static_cast<int>(state)];
  return arena != nullptr ? arena + i : nullptr;
}

// Parameter i's update by the rule (nn/optimizer.cpp's loops, element i): p, and its values in the state
// arenas the rule keeps, updated in place.
BACKPROP_HD void update_parameter(const UpdateRule& rule, float& p, float gradient, const OptimizerArenas& state,
                                  std::size_t i) {
  float* momentum_buffer = state_at(state, OptimizerState::momentum_buffer, i);
  switch (rule.kind) {
    case OptimizerKind::sgd: math::sgd(p, gradient, rule.learning_rate, rule.weight_decay); break;
    case OptimizerKind::momentum:
      math::momentum<false>(p, *momentum_buffer, gradient, rule.learning_rate, rule.weight_decay, rule.momentum);
      break;
    case OptimizerKind::nesterov:
      math::momentum<true>(p, *momentum_buffer, gradient, rule.learning_rate, rule.weight_decay, rule.momentum);
      break;
    case OptimizerKind::adam:
      math::adam(p, *state_at(state, OptimizerState::exp_avg, i), *state_at(state, OptimizerState::exp_avg_sq, i),
                 gradient, rule.adam());
      break;
    case OptimizerKind::adamw:
      math::adamw(p, *state_at(state, OptimizerState::exp_avg, i), *state_at(state, OptimizerState::exp_avg_sq, i),
                  gradient, rule.decay_factor, rule.adam());
      break;
    case OptimizerKind::rmsprop: {
      float& square_avg = *state_at(state, OptimizerState::square_avg, i);
      float* grad_avg = state_at(state, OptimizerState::grad_avg, i);
      const math::RmspropStep<float> rmsprop = rule.rmsprop();
      if (grad_avg != nullptr && momentum_buffer != nullptr)
        math::rmsprop<true, true>(p, square_avg, grad_avg, momentum_buffer, gradient, rmsprop);
      else if (grad_avg != nullptr)
        math::rmsprop<true, false>(p, square_avg, grad_avg, momentum_buffer, gradient, rmsprop);
      else if (momentum_buffer != nullptr)
        math::rmsprop<false, true>(p, square_avg, grad_avg, momentum_buffer, gradient, rmsprop);
      else
        math::rmsprop<false, false>(p, square_avg, grad_avg, momentum_buffer, gradient, rmsprop);
      break;
    }
  }
}

// A quiet NaN on either side (numeric_limits is not a device function without --expt-relaxed-constexpr).
BACKPROP_HD float quiet_nan() {
#if defined(__CUDA_ARCH__)
  return __int_as_float(0x7fc00000);
#else
  return std::numeric_limits<float>::quiet_NaN();
#endif
}

}  // namespace backprop::kernels::device_math
