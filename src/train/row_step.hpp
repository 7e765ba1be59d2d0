// The fused one-row training step. Training one sample at a time (batch size 1, the tutorial's per-sample
// SGD) on a small network spends more time in calls than in arithmetic: the seed network's 4-2-3-1 step is
// about 100 floating-point operations, and the general CPU step (cpu_step.cpp: Network::forward,
// loss_value, backward, the finiteness check and Optimizer::step, through dense_forward, activation_forward
// and the kernels) makes some forty calls for it. RowStep does the same step for one row with every
// layer's loops in one function and, for plain SGD, the update folded into the backward pass: the same
// formulas in the same order, so the loss, the output, the gradient and the parameters are bit-identical to
// the general step's (tests/test_row_step.cpp). make_step (step.hpp) chooses it whenever it applies
// (applies(), batch size 1, one process, not --deterministic, on the CPU; row weights or none); what it gains through train()
// is measured by bench/row_step.cpp (docs/performance.md). Internal to the library.
#pragma once

#include "backprop/base/aligned.hpp"
#include "backprop/nn/dense.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/optimizer.hpp"

namespace backprop {

class RowStep {
 public:
  // Whether the step is the general path's for this network and recipe: no layer has dropout (the general
  // path draws masks for those) and no gradient clipping (it needs the whole gradient's norm first).
  static bool applies(const Network<float>& network);

  RowStep(Network<float>& network, Optimizer<float>& optimizer);

  struct Result {
    float loss = 0;       // Network::loss_value of the row
    // The loss, every gradient value and every updated parameter are finite. When the loss or a gradient is
    // not, nothing was updated; when only the update overflowed, its parameters stay (step.hpp's Step::run).
    bool finite = false;
  };
  // One training step on the row x (IN) with target y (OUT, as Dataset::gather_targets writes it): forward,
  // loss, backward into the network's gradient arena and, when the loss and the gradient are finite, the
  // optimizer's update with this learning rate. output() then holds the network's output for the row.
  // weight: the row's weight in the loss (Dataset::weights: class and sample weights), as loss_value and
  // loss_backward take a batch of one weighted row; null: unweighted (a copy of the step without it).
  Result step(const float* x, const float* y, double learning_rate, const float* weight = nullptr);
  const float* output() const { return a_.data() + offsets_.back(); }
  // Layer l's output for the last row (OUT_l values).
  std::span<const float> layer_output(std::size_t l) const {
    return {a_.data() + offsets_[l], static_cast<std::size_t>(layers_[l].out)};
  }

 private:
  // The forward, the loss and the backward; with Update, plain SGD's update of each layer as soon as its
  // gradient is known (each value saved as it is updated, and put back if any value turns out not finite).
  template <bool Update, bool Weighted>
  float run(const float* x, const float* y, float learning_rate, float weight, bool& finite);
  template <bool Weighted>
  Result step_with(const float* x, const float* y, double learning_rate, float weight);

  Network<float>& network_;
  Optimizer<float>& optimizer_;
  bool fused_update_;                // plain SGD on an arena small enough to save each step
  float weight_decay_;               // sgd's, as Optimizer::update converts it
  std::vector<DenseLayer> layers_;
  std::vector<std::size_t> offsets_;  // of each layer's values in z_, a_ and delta_
  AlignedVector<float> z_, a_, delta_;
  AlignedVector<float> saved_;        // the parameters before a fused update, laid out like the arena
};

}  // namespace backprop
