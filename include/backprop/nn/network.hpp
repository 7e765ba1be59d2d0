// A feedforward network of dense layers over a parameter arena.
//
// Memory (docs/performance.md, "Design"): every W and b of every layer lives in one contiguous aligned arena, in layer
// order W1 b1 W2 b2 ...; the gradients live in a second arena of the same layout, so an optimizer is
// one loop and a checkpoint one write. Activations and deltas of a batch live in a Workspace sized for
// the largest batch; a training step allocates nothing.
//
// The math is written once with the scalar type T as a template parameter and compiled for float
// (training, inference) and double (trace, gradient check).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "backprop/base/aligned.hpp"
#include "backprop/nn/batch_norm.hpp"
#include "backprop/nn/dense.hpp"
#include "backprop/nn/embedding.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {

class Random;
template <typename T>
class Network;

// Per-layer z, a and delta = dL/dz, each (max_batch, OUT), in one buffer; for a layer with dropout also
// its mask (0 or 1/(1-p)) and its dropped output a * mask, which is what the next layer reads in training;
// for a batch_norm (whose delta is dL/dy), z holds xhat and 1 / sqrt(var + eps) (OUT) follows delta.
template <typename T>
class Workspace {
 public:
  Workspace(const Network<T>& network, int max_batch);

  // The rows the next layer reads: the dropped output during a training forward with dropout, else a.
  const T* layer_output(std::size_t layer) const { return dropout_active(layer) ? dropped(layer) : a(layer); }
  bool dropout_active(std::size_t layer) const { return dropout_active_ && has_dropout_[layer]; }
  T* mask(std::size_t layer) { return delta(layer) + sizes_[layer]; }
  T* dropped(std::size_t layer) { return mask(layer) + sizes_[layer]; }
  const T* mask(std::size_t layer) const { return delta(layer) + sizes_[layer]; }
  const T* dropped(std::size_t layer) const { return mask(layer) + sizes_[layer]; }
  // A batch_norm's saved values of a training forward: xhat in z, 1 / sqrt(var + eps) after delta.
  BatchNormSaved<T> batch_norm_saved(std::size_t layer) { return {z(layer), delta(layer) + sizes_[layer]}; }
  BatchNormSaved<const T> batch_norm_saved(std::size_t layer) const {
    return {z(layer), delta(layer) + sizes_[layer]};
  }
  void set_dropout_active(bool active) { dropout_active_ = active; }
  // The first dense layer's inputs come as x / s with the offset m / s folded into the layer
  // (fold_input_shift in dense.hpp): forward() and backward() then take u = x / s in place of (x - m) / s.
  // Set by the training step that standardizes this way (train/cpu_step.cpp); empty: off.
  void set_input_shift(std::span<const T> shift) {
    input_shift_.assign(shift.begin(), shift.end());
    folded_bias_.assign(shift.empty() ? 0 : first_out_, T(0));
  }
  const T* input_shift() const { return input_shift_.empty() ? nullptr : input_shift_.data(); }
  T* folded_bias() { return folded_bias_.data(); }

  int max_batch() const { return max_batch_; }
  T* z(std::size_t layer) { return buffer_.data() + offsets_[layer]; }
  T* a(std::size_t layer) { return z(layer) + sizes_[layer]; }
  T* delta(std::size_t layer) { return a(layer) + sizes_[layer]; }
  const T* z(std::size_t layer) const { return buffer_.data() + offsets_[layer]; }
  const T* a(std::size_t layer) const { return z(layer) + sizes_[layer]; }
  const T* delta(std::size_t layer) const { return a(layer) + sizes_[layer]; }

 private:
  int max_batch_;
  bool dropout_active_ = false;
  std::vector<bool> has_dropout_;
  std::vector<std::size_t> offsets_;  // start of layer l's z; a, delta (, mask, dropped) follow
  std::vector<std::size_t> sizes_;    // max_batch * OUT_l
  AlignedVector<T> buffer_;
  int first_out_ = 0;
  AlignedVector<T> input_shift_;  // (IN of the first layer) m / s, or empty
  AlignedVector<T> folded_bias_;  // (OUT of the first layer) b - shift W of the last forward
};

template <typename T>
class Network {
 public:
  // Validates the spec (throws Error(bad_input)), then fills the parameters: the explicit weights and
  // biases of the spec where given, otherwise the initializer's draws from the spec's seed (drawn in
  // double, so that a float and a double network of one spec start from the same values) and zero biases.
  explicit Network(const NetworkSpec& spec);

  const NetworkSpec& spec() const { return spec_; }
  std::size_t layer_count() const { return layers_.size(); }
  const DenseLayer& layer(std::size_t l) const { return layers_[l]; }
  int input_size() const { return spec_.input; }
  int output_size() const { return layers_.back().out; }
  LossKind loss() const { return spec_.loss; }
  // The recipe's label smoothing (spec().training.label_smoothing; 0 but for softmax_ce): part of the loss
  // that loss_value() and backward() compute, the training objective.
  double label_smoothing() const { return spec_.training.label_smoothing; }

  std::span<T> parameters() { return parameters_; }
  std::span<const T> parameters() const { return parameters_; }
  std::span<T> gradients() { return gradients_; }
  std::span<const T> gradients() const { return gradients_; }
  std::span<T> weights(std::size_t l) { return view(parameters_, layers_[l].weights_offset, weight_count(l)); }
  std::span<T> bias(std::size_t l) { return view(parameters_, layers_[l].bias_offset, layers_[l].bias_count()); }
  std::span<T> weight_gradients(std::size_t l) { return view(gradients_, layers_[l].weights_offset, weight_count(l)); }
  std::span<T> bias_gradients(std::size_t l) { return view(gradients_, layers_[l].bias_offset, layers_[l].bias_count()); }
  std::span<const T> weights(std::size_t l) const {
    return cview(parameters_, layers_[l].weights_offset, weight_count(l));
  }
  std::span<const T> bias(std::size_t l) const { return cview(parameters_, layers_[l].bias_offset, layers_[l].bias_count()); }
  // The batch_norms' running statistics (not trained: no gradient, no optimizer), layer by layer the running
  // mean then the running variance. A training forward updates them, as torch's does.
  std::span<T> statistics() { return statistics_; }
  std::span<const T> statistics() const { return statistics_; }
  // Entry l's running mean and running variance (OUT each; a batch_norm's) in statistics(). Const: a training
  // forward, which computes outputs, updates them.
  std::span<T> running_mean(std::size_t l) const {
    return {statistics_.data() + layers_[l].statistics_offset, static_cast<std::size_t>(layers_[l].out)};
  }
  std::span<T> running_var(std::size_t l) const {
    return {running_mean(l).data() + layers_[l].out, static_cast<std::size_t>(layers_[l].out)};
  }

  // Forward pass of batch rows of x (B, IN): fills workspace z and a of every layer. With dropout (training),
  // every hidden layer with dropout p then keeps each output with probability 1 - p and scales it by
  // 1 / (1 - p) (inverted dropout), with masks drawn from *dropout; the following backward() goes through
  // the same masks; every batch_norm normalizes with the batch's statistics and updates its running ones.
  // Without (null), evaluation: no dropout, batch_norms use their running statistics.
  void forward(Workspace<T>& workspace, const T* x, int batch, Random* dropout = nullptr) const {
    forward(workspace, x, batch, dropout, dropout != nullptr);
  }
  // The same, in training mode (batch statistics) or not whatever dropout is: a gradient check or a trace
  // follows training's function without drawing dropout masks.
  void forward(Workspace<T>& workspace, const T* x, int batch, Random* dropout, bool training) const;
  // The loss of the last forward pass against targets y (B, OUT): the training objective, with the
  // recipe's label smoothing.
  // weights (B): the rows' weights in the loss (nn/loss.hpp; null: none).
  T loss_value(const Workspace<T>& workspace, const T* y, int batch, const T* weights = nullptr) const {
    return loss_value(workspace, y, batch, label_smoothing(), weights);
  }
  // The same with this label smoothing instead (0: the plain loss, as a model's evaluation reports it).
  T loss_value(const Workspace<T>& workspace, const T* y, int batch, double label_smoothing,
               const T* weights = nullptr) const;
  // Backward pass after forward() on the same x: fills workspace delta of every layer and OVERWRITES the
  // gradient arena with dL/dparameters (of the training objective: with the recipe's label smoothing and
  // the rows' weights). Returns whether every gradient is finite (found as it is written: no pass of its own).
  bool backward(Workspace<T>& workspace, const T* x, const T* y, int batch, const T* weights = nullptr);
  // The output layer's activations after forward(): (B, OUT).
  const T* output(const Workspace<T>& workspace) const { return workspace.a(layers_.size() - 1); }

  // Data-parallel training (dist/gradient_reducer.cpp) computes each batch in shares: then every batch_norm's
  // training statistics are the whole batch's, summed over the shares through sync (nn/batch_norm.hpp's
  // BatchNormSync). Null (the default): a forward's rows are the batch.
  void set_batch_norm_sync(BatchNormSync* sync) { batch_norm_sync_ = sync; }
  BatchNormSync* batch_norm_sync() const { return batch_norm_sync_; }

  // The spec with the current parameters written into it (what a model file or an export holds).
  NetworkSpec spec_with_parameters() const;

 private:
  std::size_t weight_count(std::size_t l) const { return layers_[l].weight_count(); }
  void initialize();
  static std::span<T> view(AlignedVector<T>& arena, std::size_t offset, std::size_t count) {
    return std::span<T>(arena.data() + offset, count);
  }
  static std::span<const T> cview(const AlignedVector<T>& arena, std::size_t offset, std::size_t count) {
    return std::span<const T>(arena.data() + offset, count);
  }

  NetworkSpec spec_;
  std::vector<DenseLayer> layers_;
  AlignedVector<T> parameters_;
  AlignedVector<T> gradients_;
  mutable AlignedVector<T> statistics_;  // a training forward (const: it computes outputs) updates them
  BatchNormSync* batch_norm_sync_ = nullptr;
};

}  // namespace backprop
