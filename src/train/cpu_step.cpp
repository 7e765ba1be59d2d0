// The general training step on the CPU (step.hpp): gather the batch's rows, Network::forward with dropout,
// loss_value, Network::backward into the gradient arena, the gradient reducer of distributed or exact
// training when there is one, clipping, the finiteness check, Optimizer::step, the parameters' check.
#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <vector>

#include "backprop/kernels/kernels.hpp"
#include "train/step.hpp"

namespace backprop {
namespace {

// The bounds of folded_scaling (step.hpp).
constexpr double kLeastZeroShare = 0.1;
constexpr double kMostFoldedShift = 4.0;
constexpr std::size_t kRowsLookedAt = 256;

double zero_share(const Dataset& data) {
  const auto width = static_cast<std::size_t>(data.features);
  const std::size_t looked = std::min(data.rows, kRowsLookedAt);
  std::size_t zeros = 0;
  for (std::size_t i = 0; i < looked; ++i) {
    const std::size_t r = i * data.rows / looked;  // spread over the data set
    for (std::size_t j = 0; j < width; ++j)
      zeros += data.features_u8.empty() ? data.features_f32[r * width + j] == 0.0f
                                        : data.features_u8[r * width + j] == 0;
  }
  return looked == 0 ? 0.0 : static_cast<double>(zeros) / static_cast<double>(looked * width);
}

}  // namespace

std::optional<FoldedScaling> folded_scaling(const Network<float>& network, const Dataset& data,
                                            const Scaling& scaling, int batch_size) {
  if (scaling.empty() || network.layer(0).kind != LayerKind::dense ||
      scaling.offset.size() != static_cast<std::size_t>(data.features) ||
      !kernels::zero_skip_shape(batch_size, network.layer(0).out, network.layer(0).in))
    return std::nullopt;
  FoldedScaling folded{scaling, std::vector<float>(scaling.offset.size())};
  bool offset = false;
  for (std::size_t j = 0; j < scaling.offset.size(); ++j) {
    const double shift = scaling.offset[j] / scaling.scale[j];
    if (!(std::abs(shift) <= kMostFoldedShift)) return std::nullopt;
    folded.shift[j] = static_cast<float>(shift);
    folded.gather.offset[j] = 0.0;
    offset = offset || shift != 0.0;
  }
  if (!offset || zero_share(data) < kLeastZeroShare) return std::nullopt;
  return folded;
}

namespace {

class CpuStep final : public Step, private GradientSource {
 public:
  CpuStep(Network<float>& network, Optimizer<float>& optimizer, const Dataset& data, const Scaling& scaling,
          int batch_size, std::unique_ptr<GradientReducer> reducer, Random& dropout_random)
      : network_(network),
        optimizer_(optimizer),
        data_(data),
        scaling_(scaling),
        reducer_(std::move(reducer)),
        dropout_random_(dropout_random),
        classification_(data.task == TaskKind::classification),
        outputs_(network.output_size()),
        clip_grad_norm_(network.spec().training.clip_grad_norm),
        workspace_(network, batch_size),
        x_(static_cast<std::size_t>(batch_size) * data.features),
        y_(static_cast<std::size_t>(batch_size) * network.output_size()),
        labels_(static_cast<std::size_t>(batch_size)) {
    host_sums_ = &sums_;
    if (auto folded = folded_scaling(network, data, scaling, batch_size)) {
      gather_scaling_ = std::move(folded->gather);
      workspace_.set_input_shift(folded->shift);
    }
  }

  void begin_epoch(std::span<const std::size_t> order, const MetricSums& sums) override {
    order_ = order;
    // Ranks > 0 leave a resumed epoch's sums (rank 0's, from the checkpoint) to rank 0, so they count once.
    sums_ = reducer_ && reducer_->rank() > 0 ? MetricSums{} : sums;
    divergence_.reset();
  }

  // The gradient arena holds the gradient of the whole batch, the same on every rank; the loss is this
  // rank's (a loss that is not finite on any rank makes the gradient not finite on all).
  bool run(std::size_t first, std::size_t count, long step, double learning_rate) override {
    const std::size_t* indices = order_.data() + first;
    // The next step's rows are asked of the cache once this step's are gathered (rows_gradient), so that they
    // arrive while the products run: a shuffled batch's rows are scattered over the data set, and gathering
    // them cold waited on memory for a measurable part of a step (docs/performance.md). Not under a reducer,
    // whose shares are cut otherwise.
    if (!reducer_ && first + count < order_.size())
      next_rows_ = order_.subspan(first + count, std::min(count, order_.size() - first - count));
    const double loss = reducer_ ? reducer_->reduce(*this, indices, count, step, dropout_random_)
                                 : rows_gradient(indices, count, dropout_random_);
    // Divergence is caught before the update, so the network keeps the last finite parameters: by the backward
    // pass itself (it looks at each block of the gradient as it writes it), or, where the arena is a sum over
    // processes, by a pass over it; with clipping, by the norm (its own pass).
    const auto gradients = network_.gradients();
    const bool finite = clip_grad_norm_ > 0 ? std::isfinite(clip_gradient_norm(gradients, clip_grad_norm_))
                        : reducer_      ? kernels::all_finite(gradients.data(), gradients.size())
                                        : backward_finite_;
    if (std::isfinite(loss) && finite) {
      if (optimizer_.step(network_.parameters(), gradients, learning_rate)) return true;
    }
    divergence_ = Divergence{step, divergence_cause(network_, loss, [&](std::size_t l) {
                               const std::size_t n = last_rows_ * network_.layer(l).out;
                               return std::span<const float>(workspace_.a(l), n);
                             })};
    return false;
  }

  MetricSums sums() override { return sums_; }
  MetricSums totals() override {
    MetricSums all = sums_;
    if (reducer_) reducer_->sum_over_ranks(all);
    return all;
  }
  std::optional<Divergence> divergence() override { return divergence_; }
  Metrics evaluate(const Dataset& data) override { return validation_.evaluate(network_, data, scaling_); }

 private:
  double rows_gradient(const std::size_t* indices, std::size_t count, Random& random) override {
    data_.gather_rows(x_.data(), indices, count, gather_scaling_ ? *gather_scaling_ : scaling_);
    data_.gather_targets(y_.data(), indices, count, outputs_);
    data_.prefetch_rows(next_rows_.data(), next_rows_.size());
    next_rows_ = {};
    if (classification_)
      for (std::size_t r = 0; r < count; ++r) labels_[r] = data_.labels[indices[r]];
    const int rows = static_cast<int>(count);
    last_rows_ = count;
    network_.forward(workspace_, x_.data(), rows, &random);
    const float* weights = nullptr;
    if (!data_.weights.empty()) {
      weights_.resize(count);
      for (std::size_t r = 0; r < count; ++r) weights_[r] = data_.weights[indices[r]];
      weights = weights_.data();
    }
    const double loss = network_.loss_value(workspace_, y_.data(), rows, weights);
    backward_finite_ = network_.backward(workspace_, x_.data(), y_.data(), rows, weights);
    add_rows(sums_, network_.output(workspace_), y_.data(), classification_ ? labels_.data() : nullptr, count,
             outputs_, loss, classification_);
    return loss;
  }

  double share(const std::size_t* indices, std::size_t count) const override {
    const LossKind loss = network_.spec().loss;
    if (data_.weights.empty()) return static_cast<double>(count);
    double total = 0;
    if (loss == LossKind::softmax_ce)  // the others' denominator is the row count
      for (std::size_t r = 0; r < count; ++r) total += data_.weights[indices[r]];
    return math::weighted_loss_denominator(loss, total, static_cast<int>(count));
  }

  Network<float>& network_;
  Optimizer<float>& optimizer_;
  const Dataset& data_;
  const Scaling& scaling_;
  std::optional<Scaling> gather_scaling_;  // x / s where the offset is folded into the first layer
  std::unique_ptr<GradientReducer> reducer_;  // null: one process, the plain sum
  Random& dropout_random_;
  bool classification_;
  int outputs_;
  double clip_grad_norm_;
  Workspace<float> workspace_;
  ValidationPass validation_;
  std::vector<float> x_;              // (B, IN) the rows being computed
  std::vector<float> y_;              // (B, OUT)
  std::vector<std::int32_t> labels_;  // (B)
  std::vector<float> weights_;        // (B) the rows' weights, when the data has them
  std::span<const std::size_t> order_;
  std::span<const std::size_t> next_rows_;  // to prefetch after this step's gather (run)
  std::size_t last_rows_ = 0;  // of the last forward pass in workspace_
  bool backward_finite_ = true;  // of the last backward pass
  MetricSums sums_;
  std::optional<Divergence> divergence_;
};

}  // namespace

std::unique_ptr<Step> make_cpu_step(Network<float>& network, Optimizer<float>& optimizer, const Dataset& data,
                                    const Scaling& scaling, int batch_size, std::unique_ptr<GradientReducer> reducer,
                                    Random& dropout_random) {
  return std::make_unique<CpuStep>(network, optimizer, data, scaling, batch_size, std::move(reducer),
                                   dropout_random);
}

}  // namespace backprop
