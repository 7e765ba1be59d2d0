// Optimizers over the parameter arena, and gradient clipping by global norm.
//
// The update rules are torch.optim's (PyTorch 1.13, the single-tensor path), stated below per element (the
// code of each, one parameter at a time, is src/kernels/math.hpp's, which the CPU loops, the fused one-row
// step and the device backends all call), so that the same OptimizerSpec gives the same numbers as torch.
// g is the gradient, p the parameter, lr the learning rate of this step, wd the weight decay, t the step
// count (1 on the first step).
//
//   L2 weight decay (all but adamw):  g <- g + wd * p                before the rule
//   sgd:       p <- p - lr * g
//   momentum:  buf <- mu * buf + g;        p <- p - lr * buf       (dampening 0)
//   nesterov:  buf <- mu * buf + g;        p <- p - lr * (g + mu * buf)
//   adam:      m <- b1 * m + (1 - b1) * g;  v <- b2 * v + (1 - b2) * g * g
//              p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//   adamw:     p <- p * (1 - lr * wd)  (decoupled decay, no L2 term), then the adam rule
//   rmsprop:   v <- alpha * v + (1 - alpha) * g * g
//              centered: a <- alpha * a + (1 - alpha) * g;  d = sqrt(v - a * a) + eps;  otherwise d = sqrt(v) + eps
//              momentum mu > 0: buf <- mu * buf + g / d;  p <- p - lr * buf;   mu = 0: p <- p - lr * g / d
//
// torch sets the momentum buffer to g on the first step; with dampening 0 that is exactly mu * 0 + g, so
// the buffer starts at zero and the first step needs no case of its own. Weight decay applies to every
// parameter, biases included, as torch's does when all parameters are in one group.
//
// State: one arena of the parameter arena's shape per moment the type needs (optimizer state lives beside
// the parameters, element for element), so every update is one flat loop without branches, and a
// checkpoint writes state() as it writes the parameters.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "backprop/base/aligned.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {

template <typename T>
class Optimizer {
 public:
  // Validates the spec (throws Error(bad_input)) and allocates zeroed state for parameter_count values.
  Optimizer(const OptimizerSpec& spec, std::size_t parameter_count);

  // One update of parameters (N) from gradients (N), N = parameter_count, with this step's learning rate
  // (the schedule's, which overrides spec.learning_rate). Increments step_count() first, as torch does.
  // Returns whether every updated parameter is finite (false: the update overflowed, or took in a gradient that
  // was not finite), found in the same pass. Throws Error(runtime) if a span's size is not parameter_count.
  bool step(std::span<T> parameters, std::span<const T> gradients, double learning_rate);

  OptimizerKind kind() const { return kind_; }
  const OptimizerSpec& spec() const { return spec_; }
  std::size_t parameter_count() const { return parameter_count_; }

  // Steps taken so far (adam's bias correction depends on it); set when resuming from a checkpoint.
  long step_count() const { return step_count_; }
  void set_step_count(long step_count) { step_count_ = step_count; }

  // The state arenas, each (N), in the order of the rule's states() (base/kinds.hpp's optimizer_states:
  //   sgd: none; momentum, nesterov: momentum_buffer; adam, adamw: exp_avg, exp_avg_sq;
  //   rmsprop: square_avg, then grad_avg if centered, then momentum_buffer if momentum > 0),
  // named by state_names(); a checkpoint stores them in this order.
  std::vector<std::span<T>> state();
  std::vector<std::span<const T>> state() const;
  OptimizerStates states() const { return states_; }
  std::vector<std::string_view> state_names() const;

  // Back to the state of a new optimizer: zero moments, step count 0.
  void reset();

 private:
  OptimizerSpec spec_;
  OptimizerKind kind_;
  std::size_t parameter_count_;
  long step_count_ = 0;
  OptimizerStates states_;
  std::array<AlignedVector<T>, kOptimizerStateCount> buffers_;  // by OptimizerState; (N) where states_ has it

  // Values per piece of the arena updated on one thread (a multiple of 16: pieces stay 64-byte aligned).
  static constexpr std::size_t kUpdateGrain = 1 << 15;
  // The update of values [first, first + n) of the arena; p and g point at value first. Returns whether every
  // updated value is finite.
  bool update(T* p, const T* g, std::size_t first, std::size_t n, double learning_rate);
};

// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_: norm = sqrt(sum of g^2) over the
// whole gradient arena (accumulated in double), and if max_norm / (norm + 1e-6) < 1 every gradient is
// multiplied by that factor (so a norm just below max_norm is scaled very slightly, as in torch).
// Returns the norm before clipping; a non-finite norm leaves the gradients as they are, for the caller
// to report as divergence.
template <typename T>
double clip_gradient_norm(std::span<T> gradients, double max_norm);

}  // namespace backprop
