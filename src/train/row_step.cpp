// The fused one-row training step (row_step.hpp), and the training Step that runs it (RowTrainingStep). Each
// part names the general-path function whose arithmetic it repeats; the pieces they share (the row products
// of dense_row.hpp, the formulas of kernels/math.hpp: activations, the loss of a row, the sgd update;
// activation_forward and activation_backward for layers of 8 units or more) are the same code.
#include "train/row_step.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/loss.hpp"
#include "kernels/cpu/finite.hpp"
#include "kernels/math.hpp"
#include "nn/dense_row.hpp"
#include "nn/layer_walk.hpp"
#include "train/step.hpp"

namespace backprop {
namespace {

// The fused update saves each parameter as it updates it, into a second arena, so it is kept to arenas this
// small (64 KB); a larger network's step is mostly arithmetic, and the separate update costs little beside it.
constexpr std::size_t kFusedUpdateValues = 16384;

using kernels::magnitude_bits;
constexpr std::uint32_t kInfinityBits = kernels::kInfinityBits<float>;

// A layer of Out < 8 units, forward: dense_forward_row's copy for the width, then f one value at a time
// (math::activate; softmax never comes here: it is a function of the whole row). This and backward_fixed are
// always inlined into RowStep::run: as calls they cost the seed network's step several percent.
template <int Out>
inline __attribute__((always_inline)) void forward_fixed(float* __restrict z, float* __restrict a,
                                                        const float* __restrict input, const float* __restrict weights,
                                                        const float* __restrict bias, int in, Activation f,
                                                        float slope) {
  detail::dense_forward_row_body(z, input, weights, bias, in, Out);
  math::with_activation(f, [&](auto kind) {  // one copy per activation: no switch per value
    for (int o = 0; o < Out; ++o) a[o] = math::activate<decltype(kind)::value>(z[o], slope);
  });
}

// A layer of Out < 8 units, backward: dense_backward_row's values (the input gradient from the
// weights before the update, then through the layer below's f'), and with Update each weight's and bias's
// math::sgd as soon as its gradient is known, the gradient still in a register.
template <int Out, bool Update>
inline __attribute__((always_inline)) void backward_fixed(
    float* __restrict grad_weights, float* __restrict grad_bias, float* __restrict grad_input,
    const float* __restrict input, const float* __restrict dz, float* __restrict weights, float* __restrict bias,
    float* __restrict saved_weights, float* __restrict saved_bias, int in, const DenseLayer* below,
    const float* __restrict z_below, float learning_rate, float weight_decay, std::uint32_t& largest) {
  float d[Out];
  for (int o = 0; o < Out; ++o) d[o] = dz[o];
  if (grad_input != nullptr) {
    const float slope = static_cast<float>(below->slope);
    math::with_activation(below->activation, [&](auto kind) {  // one copy per activation
      for (int i = 0; i < in; ++i) {
        const float* w = weights + static_cast<std::size_t>(i) * Out;
        float sum = 0;
        for (int o = 0; o < Out; ++o) sum = math::multiply_add(d[o], w[o], sum);
        // input is the layer below's a
        grad_input[i] = math::derivative<decltype(kind)::value>(sum, z_below[i], input[i], slope);
      }
    });
  }
  for (int i = 0; i < in; ++i) {
    const float x = input[i];
    float* g = grad_weights + static_cast<std::size_t>(i) * Out;
    float* w = weights + static_cast<std::size_t>(i) * Out;
    for (int o = 0; o < Out; ++o) {
      const float gradient = x * d[o];
      g[o] = gradient;
      if constexpr (Update) {
        saved_weights[static_cast<std::size_t>(i) * Out + o] = w[o];
        math::sgd(w[o], gradient, learning_rate, weight_decay);
        largest = std::max(largest, magnitude_bits(w[o]));
      }
    }
  }
  for (int o = 0; o < Out; ++o) {
    grad_bias[o] = d[o];
    if constexpr (Update) {
      saved_bias[o] = bias[o];
      math::sgd(bias[o], d[o], learning_rate, weight_decay);
      largest = std::max(largest, magnitude_bits(bias[o]));
    }
  }
}

// p <- math::sgd(p, g) over n values, the values before into saved, and the largest magnitude of the updated
// p: not finite when a gradient was not (inf or NaN passes into p) or when the update overflowed.
inline void sgd_update(float* __restrict p, float* __restrict saved, const float* __restrict g, int n,
                       float learning_rate, float weight_decay, std::uint32_t& largest) {
  for (int i = 0; i < n; ++i) {
    saved[i] = p[i];
    math::sgd(p[i], g[i], learning_rate, weight_decay);
    largest = std::max(largest, magnitude_bits(p[i]));
  }
}

}  // namespace

bool RowStep::applies(const Network<float>& network) {
  if (network.spec().training.clip_grad_norm > 0) return false;
  // The kinds run() runs: dense layers; the others are its NotReached cases.
  auto runs = one_kind_cases<LayerKind::dense>([](std::size_t) { return true; }, [](std::size_t) { return false; });
  for (std::size_t l = 0; l < network.layer_count(); ++l)
    if (network.spec().layers[l].dropout > 0.0 || !layer_case(network.layer(l), l, runs)) return false;
  return true;
}

RowStep::RowStep(Network<float>& network, Optimizer<float>& optimizer)
    : network_(network),
      optimizer_(optimizer),
      fused_update_(optimizer.kind() == OptimizerKind::sgd && network.parameters().size() <= kFusedUpdateValues),
      weight_decay_(static_cast<float>(optimizer.spec().weight_decay_or_default())) {
  std::size_t total = 0;
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    layers_.push_back(network.layer(l));
    offsets_.push_back(total);
    total += (static_cast<std::size_t>(network.layer(l).out) + 15) / 16 * 16;  // each layer's values aligned
  }
  z_.assign(total, 0.0f);
  a_.assign(total, 0.0f);
  delta_.assign(total, 0.0f);
  if (fused_update_) saved_.assign(network.parameters().size(), 0.0f);
}

template <bool Update, bool Weighted>
float RowStep::run(const float* x, const float* y, float learning_rate, float weight, bool& finite) {
  float* parameters = network_.parameters().data();
  float* gradients = network_.gradients().data();
  const std::size_t layers = layers_.size();

  // Network::forward without dropout, through the walk of nn/layer_walk.hpp: dense_forward's row path, layer by
  // layer.
  // The cases always inlined, as forward_fixed and backward_fixed are: as calls they cost the seed network's step
  // several percent (docs/performance.md).
  forward_layers(layers_, one_kind_cases<LayerKind::dense>(
      [&](std::size_t l) __attribute__((always_inline)) {
        const DenseLayer& layer = layers_[l];
        const float* input = l == 0 ? x : a_.data() + offsets_[l - 1];
        float* z = z_.data() + offsets_[l];
        float* a = a_.data() + offsets_[l];
        const float* w = parameters + layer.weights_offset;
        const float* b = parameters + layer.bias_offset;
        const Activation f = layer.activation;
        const float slope = static_cast<float>(layer.slope);
        switch (f == Activation::softmax ? 0 : layer.out) {
          case 1: return forward_fixed<1>(z, a, input, w, b, layer.in, f, slope);
          case 2: return forward_fixed<2>(z, a, input, w, b, layer.in, f, slope);
          case 3: return forward_fixed<3>(z, a, input, w, b, layer.in, f, slope);
          case 4: return forward_fixed<4>(z, a, input, w, b, layer.in, f, slope);
          case 5: return forward_fixed<5>(z, a, input, w, b, layer.in, f, slope);
          case 6: return forward_fixed<6>(z, a, input, w, b, layer.in, f, slope);
          case 7: return forward_fixed<7>(z, a, input, w, b, layer.in, f, slope);
          default:
            detail::dense_forward_row_cloned(z, input, w, b, layer.in, layer.out);
            activation_forward(a, z, layer.activation, static_cast<float>(layer.slope), 1, layer.out);
        }
      },
      NotReached<void>{}));

  // Network::loss_value, then Network::backward: dense_backward's row path and the chain through the layer
  // below's derivative; with Update, the layer's sgd update right after (its input gradient is taken first,
  // from the weights before the update, as in the general path).
  const std::size_t last = layers - 1;
  const float* z_out = z_.data() + offsets_[last];
  const float* a_out = a_.data() + offsets_[last];
  const LossKind loss_kind = network_.spec().loss;
  const double smoothing = network_.label_smoothing();
  const DenseLayer& output = layers_[last];
  // loss_value and loss_backward for one row (B = 1), inline: their formulas, kernels/math.hpp's.
  float loss = 0, scale = 1.0f;
  if constexpr (Weighted) {
    // nn/loss.cpp's weighted batch of one row, operation for operation: its sum (0 + w l), the weighted mean's
    // denominator (w for softmax_ce, the batch's 1 otherwise) and the gradient's scale w / denominator.
    const double sum = 0.0 + weight * math::add_loss_row(0.0, loss_kind, smoothing, z_out, a_out, y, output.out);
    const double denominator = math::weighted_loss_denominator(loss_kind, 0.0 + weight, 1);
    loss = denominator > 0 ? static_cast<float>(math::loss_total(loss_kind, sum, 1) * 1 / denominator) : 0.0f;
    scale = math::weighted_row_scale<float>(weight, denominator);
  } else {
    loss = static_cast<float>(
        math::loss_total(loss_kind, math::add_loss_row(0.0, loss_kind, smoothing, z_out, a_out, y, output.out), 1));
  }
  math::loss_gradient_row(delta_.data() + offsets_[last], loss_kind, smoothing, z_out, a_out, y, output.out,
                          output.activation, static_cast<float>(output.slope), scale);
  std::uint32_t largest = 0;
  backward_layers(layers_, one_kind_cases<LayerKind::dense>(
      [&](std::size_t l) __attribute__((always_inline)) {
        const DenseLayer& layer = layers_[l];
        float* grad_input = l == 0 ? nullptr : delta_.data() + offsets_[l - 1];
        const float* layer_input = l == 0 ? x : a_.data() + offsets_[l - 1];
        const DenseLayer* below = l == 0 ? nullptr : &layers_[l - 1];
        const float* z_below = l == 0 ? nullptr : z_.data() + offsets_[l - 1];
        float* gw = gradients + layer.weights_offset;
        float* gb = gradients + layer.bias_offset;
        float* w = parameters + layer.weights_offset;
        float* b = parameters + layer.bias_offset;
        const float* dz = delta_.data() + offsets_[l];
        float* sw = Update ? saved_.data() + layer.weights_offset : nullptr;  // the values before the update
        float* sb = Update ? saved_.data() + layer.bias_offset : nullptr;
        const int in = layer.in;
#define BACKPROP_FIXED(OUT)                                                                                    \
  case OUT:                                                                                                     \
    backward_fixed<OUT, Update>(gw, gb, grad_input, layer_input, dz, w, b, sw, sb, in, below, z_below,         \
                                learning_rate, weight_decay_, largest);                                         \
    return true;
        switch (layer.out) {
          BACKPROP_FIXED(1)
          BACKPROP_FIXED(2)
          BACKPROP_FIXED(3)
          BACKPROP_FIXED(4)
          BACKPROP_FIXED(5)
          BACKPROP_FIXED(6)
          BACKPROP_FIXED(7)
          default: break;
        }
#undef BACKPROP_FIXED
        detail::dense_backward_row_cloned(gw, gb, grad_input, layer_input, dz, w, in, layer.out);
        if (l > 0)
          activation_backward(grad_input, z_below, layer_input, grad_input, below->activation,
                              static_cast<float>(below->slope), 1, in);
        if constexpr (Update) {
          sgd_update(w, sw, gw, in * layer.out, learning_rate, weight_decay_, largest);
          sgd_update(b, sb, gb, layer.out, learning_rate, weight_decay_, largest);
        }
        return true;  // finiteness is the step's, from largest and the loss, below
      },
      NotReached<bool>{}));
  if constexpr (Update) {
    finite = largest < kInfinityBits && std::isfinite(loss);
    // Every layer was updated: each takes back its values when the loss or a gradient was not finite (an
    // update that overflowed from finite ones stays, as in the general step).
    if (!finite && !(std::isfinite(loss) && kernels::all_finite(gradients, network_.gradients().size()))) {
      for (const DenseLayer& layer : layers_) {
        std::copy_n(saved_.data() + layer.weights_offset, static_cast<std::size_t>(layer.in) * layer.out,
                    parameters + layer.weights_offset);
        std::copy_n(saved_.data() + layer.bias_offset, layer.out, parameters + layer.bias_offset);
      }
    }
  }
  return loss;
}

RowStep::Result RowStep::step(const float* x, const float* y, double learning_rate, const float* weight) {
  return weight == nullptr ? step_with<false>(x, y, learning_rate, 0.0f) : step_with<true>(x, y, learning_rate, *weight);
}

template <bool Weighted>
RowStep::Result RowStep::step_with(const float* x, const float* y, double learning_rate, float weight) {
  Result result;
  if (fused_update_) {
    // Optimizer::step's conversion of the rate to float; the step is counted as it counts it.
    result.loss = run<true, Weighted>(x, y, static_cast<float>(learning_rate), weight, result.finite);
    if (result.finite) optimizer_.set_step_count(optimizer_.step_count() + 1);
    return result;
  }
  bool unused = false;
  result.loss = run<false, Weighted>(x, y, 0.0f, weight, unused);
  const auto gradients = network_.gradients();
  result.finite = std::isfinite(result.loss) && kernels::all_finite(gradients.data(), gradients.size());
  if (result.finite) result.finite = optimizer_.step(network_.parameters(), gradients, learning_rate);
  return result;
}

// ---- The one-row step as a training Step (step.hpp): at batch size 1 it gathers the row, its target and its
// label and hands them to RowStep. Float rows without scaling, and regression targets, are read where they
// lie; the others are converted into row_x_ and row_y_.
namespace {

class RowTrainingStep final : public Step {
 public:
  RowTrainingStep(Network<float>& network, Optimizer<float>& optimizer, const Dataset& data, const Scaling& scaling)
      : network_(network),
        row_step_(network, optimizer),
        data_(data),
        scaling_(scaling),
        classification_(data.task == TaskKind::classification),
        outputs_(network.output_size()),
        rows_in_place_(data.features_u8.empty() && scaling.empty()),
        targets_in_place_(!classification_),
        weighted_(!data.weights.empty()),
        row_x_(static_cast<std::size_t>(data.features)),
        row_y_(static_cast<std::size_t>(outputs_)) {
    const std::size_t first_row = 0;
    data.gather_targets(row_y_.data(), &first_row, 1, outputs_);  // checks the targets' shape once, here
    host_sums_ = &sums_;
  }

  void begin_epoch(std::span<const std::size_t> order, const MetricSums& sums) override {
    order_ = order.data();
    order_size_ = order.size();
    sums_ = sums;
    divergence_.reset();
  }

  bool run(std::size_t first, std::size_t /*count: 1*/, long step, double learning_rate) override {
    const std::size_t* index = order_ + first;
    const std::size_t r = *index;
    if (first + kAhead < order_size_) data_.prefetch_row(index[kAhead]);
    const float* x = data_.features_f32.data() + r * static_cast<std::size_t>(data_.features);
    if (!rows_in_place_) {
      data_.gather_rows(row_x_.data(), index, 1, scaling_);
      x = row_x_.data();
    }
    const float* y = data_.targets.data() + r * static_cast<std::size_t>(outputs_);
    if (!targets_in_place_) {
      data_.gather_targets(row_y_.data(), index, 1, outputs_);
      y = row_y_.data();
    }
    const RowStep::Result row = row_step_.step(x, y, learning_rate, weighted_ ? &data_.weights[r] : nullptr);
    add_rows(sums_, row_step_.output(), y, classification_ ? &data_.labels[r] : nullptr, 1, outputs_, row.loss,
             classification_);
    if (!row.finite)
      divergence_ = Divergence{step, divergence_cause(network_, row.loss,
                                                      [&](std::size_t l) { return row_step_.layer_output(l); })};
    return row.finite;
  }

  MetricSums sums() override { return sums_; }
  std::optional<Divergence> divergence() override { return divergence_; }
  Metrics evaluate(const Dataset& data) override { return validation_.evaluate(network_, data, scaling_); }

 private:
  Network<float>& network_;
  ValidationPass validation_;
  RowStep row_step_;
  const Dataset& data_;
  const Scaling& scaling_;
  bool classification_;
  int outputs_;
  bool rows_in_place_, targets_in_place_;
  bool weighted_;                     // the rows have weights (Dataset::weights)
  std::vector<float> row_x_, row_y_;  // (IN), (OUT): a row converted, its target
  const std::size_t* order_ = nullptr;
  std::size_t order_size_ = 0;
  // How many steps ahead a row is asked for: a step of the seed network is several times shorter than a row's
  // trip from memory (the measurements: docs/performance.md, "The one-row step asks for the row 16 steps ahead").
  static constexpr std::size_t kAhead = 16;
  MetricSums sums_;
  std::optional<Divergence> divergence_;
};

}  // namespace

std::unique_ptr<Step> make_row_training_step(Network<float>& network, Optimizer<float>& optimizer,
                                             const Dataset& data, const Scaling& scaling) {
  return std::make_unique<RowTrainingStep>(network, optimizer, data, scaling);
}

}  // namespace backprop
