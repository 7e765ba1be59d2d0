#include "backprop/nn/optimizer.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>

#include "base/clones.hpp"
#include "kernels/cpu/finite.hpp"
#include "kernels/math.hpp"
#include "backprop/base/error.hpp"
#include "backprop/kernels/kernels.hpp"

namespace backprop {
namespace {

// The update loops, one per rule, each one pass over the whole arena (N values) calling the rule's
// one-parameter update (kernels/math.hpp, which states each rule; the device's update calls the same). The
// coefficients arrive already in T, by value (a reference could alias the arenas, and the loop would have to
// reload them after every store). Loops of inlined calls, so the compiler still vectorises them, once for each
// CPU level (base/clones.hpp). Each returns the largest magnitude of the parameters it wrote, so that
// the finiteness check of the update costs no pass of its own (kernels/cpu/finite.hpp).

using kernels::Bits;
using kernels::magnitude_bits;

template <typename T>
BACKPROP_CPU_CLONES Bits<T> sgd_loop(T* parameters, const T* gradients, std::size_t n, T learning_rate,
                                     T weight_decay) {
  Bits<T> largest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    math::sgd(parameters[i], gradients[i], learning_rate, weight_decay);
    largest = std::max(largest, magnitude_bits(parameters[i]));
  }
  return largest;
}

template <bool nesterov, typename T>
BACKPROP_CPU_CLONES Bits<T> momentum_loop(T* parameters, T* momentum_buffer, const T* gradients, std::size_t n,
                                          T learning_rate, T weight_decay, T momentum) {
  Bits<T> largest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    math::momentum<nesterov>(parameters[i], momentum_buffer[i], gradients[i], learning_rate, weight_decay, momentum);
    largest = std::max(largest, magnitude_bits(parameters[i]));
  }
  return largest;
}

// adam, and adamw (decay_factor = 1 - lr * wd applied first; step.weight_decay is 0 then).
template <bool decoupled, typename T>
BACKPROP_CPU_CLONES Bits<T> adam_loop(T* parameters, T* exp_avg, T* exp_avg_sq, const T* gradients, std::size_t n,
                                      T decay_factor, const math::AdamStep<T> step) {
  Bits<T> largest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if constexpr (decoupled)
      math::adamw(parameters[i], exp_avg[i], exp_avg_sq[i], gradients[i], decay_factor, step);
    else
      math::adam(parameters[i], exp_avg[i], exp_avg_sq[i], gradients[i], step);
    largest = std::max(largest, magnitude_bits(parameters[i]));
  }
  return largest;
}

// grad_avg is read only when centered, momentum_buffer only with_momentum (each may be null otherwise).
template <bool centered, bool with_momentum, typename T>
BACKPROP_CPU_CLONES Bits<T> rmsprop_loop(T* parameters, T* square_avg, T* grad_avg, T* momentum_buffer,
                                         const T* gradients, std::size_t n, const math::RmspropStep<T> step) {
  Bits<T> largest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    math::rmsprop<centered, with_momentum>(parameters[i], square_avg[i], centered ? &grad_avg[i] : nullptr,
                                           with_momentum ? &momentum_buffer[i] : nullptr, gradients[i], step);
    largest = std::max(largest, magnitude_bits(parameters[i]));
  }
  return largest;
}

}  // namespace

template <typename T>
Optimizer<T>::Optimizer(const OptimizerSpec& spec, std::size_t parameter_count)
    : spec_(spec), kind_(spec.kind()), parameter_count_(parameter_count) {
  validate(spec_);
  momentum_ = spec_.momentum_or_default();
  weight_decay_ = spec_.weight_decay_or_default();
  switch (kind_) {
    case OptimizerKind::sgd:
      break;
    case OptimizerKind::momentum:
    case OptimizerKind::nesterov:
      state_names_ = {"momentum_buffer"};
      break;
    case OptimizerKind::adam:
    case OptimizerKind::adamw:
      state_names_ = {"exp_avg", "exp_avg_sq"};
      break;
    case OptimizerKind::rmsprop:
      state_names_ = {"square_avg"};
      if (spec_.centered) state_names_.push_back("grad_avg");
      if (momentum_ > 0) state_names_.push_back("momentum_buffer");
      break;
  }
  state_.assign(state_names_.size(), AlignedVector<T>(parameter_count_, T(0)));
}

template <typename T>
void Optimizer<T>::reset() {
  for (auto& arena : state_) arena.assign(parameter_count_, T(0));
  step_count_ = 0;
}

template <typename T>
std::vector<std::span<T>> Optimizer<T>::state() {
  return std::vector<std::span<T>>(state_.begin(), state_.end());
}

template <typename T>
std::vector<std::span<const T>> Optimizer<T>::state() const {
  return std::vector<std::span<const T>>(state_.begin(), state_.end());
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
  const T lr = static_cast<T>(learning_rate);
  // adamw's decay is decoupled from the gradient; every other type adds the L2 term to it.
  const T l2 = static_cast<T>(kind_ == OptimizerKind::adamw ? 0.0 : weight_decay_);
  const T momentum = static_cast<T>(momentum_);
  const T epsilon = static_cast<T>(spec_.epsilon);
  switch (kind_) {
    case OptimizerKind::sgd:
      return finite(sgd_loop(p, g, n, lr, l2));
    case OptimizerKind::momentum:
      return finite(momentum_loop<false>(p, state_[0].data() + first, g, n, lr, l2, momentum));
    case OptimizerKind::nesterov:
      return finite(momentum_loop<true>(p, state_[0].data() + first, g, n, lr, l2, momentum));
    case OptimizerKind::adam:
    case OptimizerKind::adamw: {
      // Bias corrections in double, as torch computes them in Python floats.
      const double t = static_cast<double>(step_count_);
      const double step_size = learning_rate / (1.0 - std::pow(spec_.beta1, t));
      const double sqrt_bias_correction2 = std::sqrt(1.0 - std::pow(spec_.beta2, t));
      const math::AdamStep<T> step{static_cast<T>(step_size), l2, static_cast<T>(spec_.beta1),
                                   static_cast<T>(spec_.beta2), static_cast<T>(sqrt_bias_correction2), epsilon};
      T* exp_avg = state_[0].data() + first;
      T* exp_avg_sq = state_[1].data() + first;
      if (kind_ == OptimizerKind::adamw)
        return finite(adam_loop<true>(p, exp_avg, exp_avg_sq, g, n,
                                      static_cast<T>(1.0 - learning_rate * weight_decay_), step));
      return finite(adam_loop<false>(p, exp_avg, exp_avg_sq, g, n, T(1), step));
    }
    case OptimizerKind::rmsprop: {
      const math::RmspropStep<T> step{lr, l2, static_cast<T>(spec_.alpha), epsilon, momentum};
      T* square_avg = state_[0].data() + first;
      T* grad_avg = spec_.centered ? state_[1].data() + first : nullptr;
      T* momentum_buffer = momentum_ > 0 ? state_.back().data() + first : nullptr;
      if (spec_.centered && momentum_ > 0)
        return finite(rmsprop_loop<true, true>(p, square_avg, grad_avg, momentum_buffer, g, n, step));
      if (spec_.centered)
        return finite(rmsprop_loop<true, false>(p, square_avg, grad_avg, momentum_buffer, g, n, step));
      if (momentum_ > 0)
        return finite(rmsprop_loop<false, true>(p, square_avg, grad_avg, momentum_buffer, g, n, step));
      return finite(rmsprop_loop<false, false>(p, square_avg, grad_avg, momentum_buffer, g, n, step));
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
template double clip_gradient_norm<float>(std::span<float>, double);
template double clip_gradient_norm<double>(std::span<double>, double);

}  // namespace backprop
