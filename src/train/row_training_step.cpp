// The fused one-row step as a training Step (step.hpp): at batch size 1 it gathers the row, its target and
// its label and hands them to RowStep (nn/row_step.hpp), which computes what CpuStep computes, bit for bit.
// Float rows without scaling, and regression targets, are read where they lie; the others are converted
// into row_x_ and row_y_.
#include <vector>

#include "backprop/nn/row_step.hpp"
#include "train/step.hpp"

namespace backprop {
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
        row_x_(static_cast<std::size_t>(data.features)),
        row_y_(static_cast<std::size_t>(outputs_)) {
    const std::size_t first_row = 0;
    data.gather_targets(row_y_.data(), &first_row, 1, outputs_);  // checks the targets' shape once, here
  }

  void begin_epoch(std::span<const std::size_t> order, const MetricSums& sums) override {
    order_ = order.data();
    sums_ = sums;
    divergence_.reset();
  }

  bool run(std::size_t first, std::size_t /*count: 1*/, long step, double learning_rate) override {
    const std::size_t* index = order_ + first;
    const std::size_t r = *index;
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
    const RowStep::Result row = row_step_.step(x, y, learning_rate);
    add_rows(sums_, row_step_.output(), y, classification_ ? &data_.labels[r] : nullptr, 1, outputs_, row.loss,
             classification_);
    if (!row.finite) divergence_ = Divergence{step, divergence_cause(network_, row.loss)};
    return row.finite;
  }

  MetricSums sums() override { return sums_; }
  std::optional<Divergence> divergence() override { return divergence_; }
  Metrics evaluate(const Dataset& data) override { return backprop::evaluate(network_, data, scaling_); }

 private:
  Network<float>& network_;
  RowStep row_step_;
  const Dataset& data_;
  const Scaling& scaling_;
  bool classification_;
  int outputs_;
  bool rows_in_place_, targets_in_place_;
  std::vector<float> row_x_, row_y_;  // (IN), (OUT): a row converted, its target
  const std::size_t* order_ = nullptr;
  MetricSums sums_;
  std::optional<Divergence> divergence_;
};

}  // namespace

std::unique_ptr<Step> make_row_training_step(Network<float>& network, Optimizer<float>& optimizer,
                                             const Dataset& data, const Scaling& scaling) {
  return std::make_unique<RowTrainingStep>(network, optimizer, data, scaling);
}

}  // namespace backprop
