#include "backprop/nn/optimizer.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>

#include "base/clones.hpp"
#include "kernels/cpu/finite.hpp"
#include "kernels/cpu/write_ahead.hpp"
#include "kernels/math.hpp"
#include "nn/optimizer_step.hpp"
#include "backprop/base/error.hpp"
#include "backprop/kernels/kernels.hpp"

namespace backprop {
namespace {

// The update loops, one per rule, each one pass over the whole arena (N values) calling the rule's
// one-parameter update (kernels/math.hpp, which states each rule; the device's update calls the same). The
// coefficients arrive already in T, by value (a reference could alias the arenas, and the loop would have to
// reload them after every store). Loops of inlined calls, so the compiler still vectorises them, once for each
// CPU level (base/clones.hpp, clones::run). Each returns the largest magnitude of the parameters it wrote, so that
// the finiteness check of the update costs no pass of its own (kernels/cpu/finite.hpp). Each writes the parameters
// block by block, asking for their lines ahead (kernels/cpu/write_ahead.hpp): both cores read them in the forward
// pass.

using kernels::Bits;
using kernels::magnitude_bits;

template <typename T>
Bits<T> sgd_loop(T* parameters, const T* gradients, std::size_t n, T learning_rate, T weight_decay) {
  return kernels::writing_ahead<T, Bits<T>>(parameters, n, [&](std::size_t first, std::size_t count) {
    Bits<T> largest = 0;
    for (std::size_t i = first; i < first + count; ++i) {
      math::sgd(parameters[i], gradients[i], learning_rate, weight_decay);
      largest = std::max(largest, magnitude_bits(parameters[i]));
    }
    return largest;
  });
}

template <bool nesterov, typename T>
Bits<T> momentum_loop(T* parameters, T* momentum_buffer, const T* gradients, std::size_t n,
                      T learning_rate, T weight_decay, T momentum) {
  return kernels::writing_ahead<T, Bits<T>>(parameters, n, [&](std::size_t first, std::size_t count) {
    Bits<T> largest = 0;
    for (std::size_t i = first; i < first + count; ++i) {
      math::momentum<nesterov>(parameters[i], momentum_buffer[i], gradients[i], learning_rate, weight_decay,
                               momentum);
      largest = std::max(largest, magnitude_bits(parameters[i]));
    }
    return largest;
  });
}

// adam, and adamw (decay_factor = 1 - lr * wd applied first; step.weight_decay is 0 then).
template <bool decoupled, typename T>
Bits<T> adam_loop(T* parameters, T* exp_avg, T* exp_avg_sq, const T* gradients, std::size_t n,
                  T decay_factor, const math::AdamStep<T> step) {
  return kernels::writing_ahead<T, Bits<T>>(parameters, n, [&](std::size_t first, std::size_t count) {
    Bits<T> largest = 0;
    for (std::size_t i = first; i < first + count; ++i) {
      if constexpr (decoupled)
        math::adamw(parameters[i], exp_avg[i], exp_avg_sq[i], gradients[i], decay_factor, step);
      else
        math::adam(parameters[i], exp_avg[i], exp_avg_sq[i], gradients[i], step);
      largest = std::max(largest, magnitude_bits(parameters[i]));
    }
    return largest;
  });
}

// grad_avg is read only when centered, momentum_buffer only with_momentum (each may be null otherwise).
template <bool centered, bool with_momentum, typename T>
Bits<T> rmsprop_loop(T* parameters, T* square_avg, T* grad_avg, T* momentum_buffer,
                     const T* gradients, std::size_t n, const math::RmspropStep<T> step) {
  return kernels::writing_ahead<T, Bits<T>>(parameters, n, [&](std::size_t first, std::size_t count) {
    Bits<T> largest = 0;
    for (std::size_t i = first; i < first + count; ++i) {
      math::rmsprop<centered, with_momentum>(parameters[i], square_avg[i], centered ? &grad_avg[i] : nullptr,
                                             with_momentum ? &momentum_buffer[i] : nullptr, gradients[i], step);
      largest = std::max(largest, magnitude_bits(parameters[i]));
    }
    return largest;
  });
}

}  // namespace

template <typename T>
math::OptimizerStep<T> optimizer_step(const OptimizerSpec& spec, double learning_rate, long step_count) {
  const double weight_decay = spec.weight_decay_or_default();
  math::OptimizerStep<T> step;
  step.kind = spec.type;
  step.learning_rate = static_cast<T>(learning_rate);
  step.weight_decay = static_cast<T>(decoupled_weight_decay(spec.type) ? 0.0 : weight_decay);
  step.decay_factor = static_cast<T>(1.0 - learning_rate * weight_decay);
  step.momentum = static_cast<T>(spec.momentum_or_default());
  step.beta1 = static_cast<T>(spec.beta1);
  step.beta2 = static_cast<T>(spec.beta2);
  // adam's bias corrections in double, as torch computes them in Python floats.
  const double t = static_cast<double>(step_count);
  step.step_size = static_cast<T>(learning_rate / (1.0 - std::pow(spec.beta1, t)));
  step.sqrt_bias_correction2 = static_cast<T>(std::sqrt(1.0 - std::pow(spec.beta2, t)));
  step.alpha = static_cast<T>(spec.alpha);
  step.epsilon = static_cast<T>(spec.epsilon);
  step.centered = spec.centered;
  return step;
}

template <typename T>
Optimizer<T>::Optimizer(const OptimizerSpec& spec, std::size_t parameter_count)
    : spec_(spec),
      kind_(spec.type),
      parameter_count_(parameter_count),
      states_(optimizer_states(spec.type, spec.centered, spec.momentum_or_default() > 0)) {
  validate(spec_);
  reset();
}

template <typename T>
void Optimizer<T>::reset() {
  for (int i = 0; i < states_.count; ++i)
    buffers_[static_cast<int>(states_.buffers[i])].assign(parameter_count_, T(0));
  step_count_ = 0;
}

template <typename T>
std::vector<std::span<T>> Optimizer<T>::state() {
  std::vector<std::span<T>> arenas;
  for (int i = 0; i < states_.count; ++i) arenas.emplace_back(buffers_[static_cast<int>(states_.buffers[i])]);
  return arenas;
}

template <typename T>
std::vector<std::span<const T>> Optimizer<T>::state() const {
  std::vector<std::span<const T>> arenas;
  for (int i = 0; i < states_.count; ++i) arenas.emplace_back(buffers_[static_cast<int>(states_.buffers[i])]);
  return arenas;
}

template <typename T>
std::vector<std::string_view> Optimizer<T>::state_names() const {
  std::vector<std::string_view> names;
  for (int i = 0; i < states_.count; ++i) names.emplace_back(kOptimizerStateNames[static_cast<int>(states_.buffers[i])]);
  return names;
}

template <typename T>
bool Optimizer<T>::step(std::span<T> parameters, std::span<const T> gradients, double learning_rate) {
  if (parameters.size() != parameter_count_ || gradients.size() != parameter_count_)
    throw_runtime_error("optimizer step: expected " + std::to_string(parameter_count_) +
                        " parameters and gradients, got " + std::to_string(parameters.size()) + " and " +
                        std::to_string(gradients.size()));
  ++step_count_;
  // The arena is cut into pieces updated on the thread pool; every rule is element-wise, so the pieces
  // never change a result.
  std::atomic<bool> finite{true};
  kernels::parallel_ranges(parameter_count_, kUpdateGrain, [&](std::size_t first, std::size_t count) {
    if (!update(parameters.data() + first, gradients.data() + first, first, count, learning_rate))
      finite.store(false, std::memory_order_relaxed);
  });
  return finite.load();
}

template <typename T>
bool Optimizer<T>::update(T* p, const T* g, std::size_t first, std::size_t n, double learning_rate) {
  const auto finite = [](Bits<T> largest) { return largest < kernels::kInfinityBits<T>; };
  const math::OptimizerStep<T> step = optimizer_step<T>(spec_, learning_rate, step_count_);
  // The piece [first, first + n) of a state buffer, or null where the rule keeps none.
  auto buffer = [&](OptimizerState state) -> T* {
    AlignedVector<T>& arena = buffers_[static_cast<int>(state)];
    return arena.empty() ? nullptr : arena.data() + first;
  };
  const T lr = step.learning_rate, l2 = step.weight_decay, momentum = step.momentum;
  switch (step.kind) {
    case OptimizerKind::sgd:
      return finite(clones::run<&sgd_loop<T>>(p, g, n, lr, l2));
    case OptimizerKind::momentum:
      return finite(
          clones::run<&momentum_loop<false, T>>(p, buffer(OptimizerState::momentum_buffer), g, n, lr, l2, momentum));
    case OptimizerKind::nesterov:
      return finite(
          clones::run<&momentum_loop<true, T>>(p, buffer(OptimizerState::momentum_buffer), g, n, lr, l2, momentum));
    case OptimizerKind::adam:
      return finite(clones::run<&adam_loop<false, T>>(p, buffer(OptimizerState::exp_avg),
                                                      buffer(OptimizerState::exp_avg_sq), g, n, T(1), step.adam()));
    case OptimizerKind::adamw:
      return finite(clones::run<&adam_loop<true, T>>(p, buffer(OptimizerState::exp_avg),
                                                     buffer(OptimizerState::exp_avg_sq), g, n, step.decay_factor,
                                                     step.adam()));
    case OptimizerKind::rmsprop: {
      T* square_avg = buffer(OptimizerState::square_avg);
      T* grad_avg = buffer(OptimizerState::grad_avg);
      T* momentum_buffer = buffer(OptimizerState::momentum_buffer);
      const math::RmspropStep<T> rule = step.rmsprop();
      if (grad_avg != nullptr && momentum_buffer != nullptr)
        return finite(clones::run<&rmsprop_loop<true, true, T>>(p, square_avg, grad_avg, momentum_buffer, g, n, rule));
      if (grad_avg != nullptr)
        return finite(clones::run<&rmsprop_loop<true, false, T>>(p, square_avg, grad_avg, momentum_buffer, g, n, rule));
      if (momentum_buffer != nullptr)
        return finite(clones::run<&rmsprop_loop<false, true, T>>(p, square_avg, grad_avg, momentum_buffer, g, n, rule));
      return finite(clones::run<&rmsprop_loop<false, false, T>>(p, square_avg, grad_avg, momentum_buffer, g, n, rule));
    }
  }
  return false;  // no such kind: never reached
}

template <typename T>
double clip_gradient_norm(std::span<T> gradients, double max_norm) {
  // Eight partial sums in a fixed order: independent chains the compiler vectorises (one chain is
  // latency-bound), and the same result on every run and thread count.
  constexpr std::size_t kLanes = 8;
  double lanes[kLanes] = {};
  const std::size_t n = gradients.size();
  const std::size_t whole = n / kLanes * kLanes;
  for (std::size_t i = 0; i < whole; i += kLanes)
    for (std::size_t j = 0; j < kLanes; ++j)
      lanes[j] += static_cast<double>(gradients[i + j]) * static_cast<double>(gradients[i + j]);
  for (std::size_t i = whole; i < n; ++i) lanes[i - whole] += static_cast<double>(gradients[i]) * gradients[i];
  double sum_of_squares = 0.0;
  for (double lane : lanes) sum_of_squares += lane;
  const double norm = std::sqrt(sum_of_squares);
  // torch's rule (math::clip_factor); false for a NaN norm.
  const double factor = math::clip_factor(norm, max_norm);
  if (std::isfinite(norm) && factor < 1.0) {
    const T scale = static_cast<T>(factor);
    for (T& g : gradients) g *= scale;
  }
  return norm;
}

template class Optimizer<float>;
template class Optimizer<double>;
template math::OptimizerStep<float> optimizer_step<float>(const OptimizerSpec&, double, long);
template math::OptimizerStep<double> optimizer_step<double>(const OptimizerSpec&, double, long);
template double clip_gradient_norm<float>(std::span<float>, double);
template double clip_gradient_norm<double>(std::span<double>, double);

}  // namespace backprop
