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
#include "backprop/nn/dense.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {

class Random;
template <typename T>
class Network;

// A batch computed in shares, one per process (data-parallel training under mpirun, dist/gradient_reducer.cpp):
// the sums over the shares of one batch that a kind whose rows depend on each other takes, so that each share
// computes with the whole batch's (its kind's header says which). Each share's deltas are the gradient of its own
// loss, which counts in the batch's loss with weight() (its rows' part of the batch: dist/gradient_reducer.hpp).
class BatchSync {
 public:
  // values = their sum over the shares, in place, the same on every share; collective.
  virtual void sum(std::span<double> values) = 0;
  virtual double weight() const = 0;
  // Scratch of n doubles (n <= 2 * the widest entry + 1), kept by the sync so a step allocates nothing.
  virtual std::span<double> scratch(std::size_t n) = 0;

 protected:
  ~BatchSync() = default;
};

// Per-layer z, a and delta = dL/dz, each (max_batch, OUT), in one buffer; for a layer with dropout also
// its mask (0 or 1/(1-p)) and its dropped output a * mask, which is what the next layer reads in training;
// then the values its kind saves for the backward beyond these (saved; its LayerSettings<K>::saved_count).
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
  // The values a training forward of the layer's kind saves for its backward beyond z, a and delta (what they
  // are is the kind's own: its file reads them); empty for a kind that saves none.
  std::span<T> saved(std::size_t layer) { return {z(layer) + saved_offsets_[layer], saved_counts_[layer]}; }
  std::span<const T> saved(std::size_t layer) const {
    return {z(layer) + saved_offsets_[layer], saved_counts_[layer]};
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
  std::vector<std::size_t> offsets_;  // start of layer l's z; a, delta (, mask, dropped), saved follow
  std::vector<std::size_t> sizes_;    // max_batch * OUT_l
  std::vector<std::size_t> saved_offsets_;  // layer l's saved values from its z
  std::vector<std::size_t> saved_counts_;   // their count (its kind's saved_count)
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
  // The entries' running statistics (not trained: no gradient, no optimizer), entry by entry its arrays that are
  // not trained (LayerArray::trained, layer_arrays), in their order. A training forward updates them, as torch's
  // does.
  std::span<T> statistics() { return statistics_; }
  std::span<const T> statistics() const { return statistics_; }
  // Entry l's running statistics in statistics() (empty for a kind that keeps none). Const: a training forward,
  // which computes outputs, updates them.
  std::span<T> statistics(std::size_t l) const {
    const std::size_t first = layers_[l].statistics_offset;
    const std::size_t end = l + 1 < layers_.size() ? layers_[l + 1].statistics_offset : statistics_.size();
    return {statistics_.data() + first, end - first};
  }

  // Forward pass of batch rows of x (B, IN): fills workspace z and a of every layer. With dropout (training),
  // every hidden layer with dropout p then keeps each output with probability 1 - p and scales it by
  // 1 / (1 - p) (inverted dropout), with masks drawn from *dropout; the following backward() goes through
  // the same masks; an entry that keeps running statistics computes with the batch's and updates its running
  // ones. Without (null), evaluation: no dropout, running statistics.
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

  // Data-parallel training (dist/gradient_reducer.cpp) computes each batch in shares: then a kind whose rows
  // depend on each other takes the whole batch's sums through sync.
  // Null (the default): a forward's rows are the batch.
  void set_batch_sync(BatchSync* sync) { batch_sync_ = sync; }
  BatchSync* batch_sync() const { return batch_sync_; }

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
  BatchSync* batch_sync_ = nullptr;
};

}  // namespace backprop
