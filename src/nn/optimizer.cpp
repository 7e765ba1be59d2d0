#include "backprop/nn/optimizer.hpp"

#include "backprop/kernels/kernels.hpp"

#include <cmath>
#include <string>

#include "backprop/error.hpp"

namespace backprop {
namespace {

// The update loops, one per rule, each one pass over the whole arena (N values). The coefficients arrive
// already in T and the order of operations follows torch's (x.mul_(a).add_(y, alpha=b) is x * a + b * y),
// so that double agrees with torch's float64 to rounding. The rules are stated in optimizer.hpp.

// sgd: p <- p - lr * (g + wd * p)
template <typename T>
void sgd_loop(T* parameters, const T* gradients, std::size_t n, T learning_rate, T weight_decay) {
  for (std::size_t i = 0; i < n; ++i) parameters[i] = sgd_rule(parameters[i], gradients[i], learning_rate, weight_decay);
}

// momentum: buf <- mu * buf + g;  p <- p - lr * buf
// nesterov: buf <- mu * buf + g;  p <- p - lr * (g + mu * buf)
template <bool nesterov, typename T>
void momentum_loop(T* parameters, T* momentum_buffer, const T* gradients, std::size_t n, T learning_rate,
                   T weight_decay, T momentum) {
  for (std::size_t i = 0; i < n; ++i) {
    const T g = gradients[i] + weight_decay * parameters[i];
    const T buffer = momentum_buffer[i] * momentum + g;
    momentum_buffer[i] = buffer;
    if constexpr (nesterov)
      parameters[i] -= learning_rate * (g + momentum * buffer);
    else
      parameters[i] -= learning_rate * buffer;
  }
}

// adam (and adamw after its decoupled decay, with weight_decay 0 here):
//   m <- b1 * m + (1 - b1) * g;  v <- b2 * v + (1 - b2) * g * g
//   p <- p - step_size * m / (sqrt(v) / sqrt_bias_correction2 + eps),
//   step_size = lr / (1 - b1^t), sqrt_bias_correction2 = sqrt(1 - b2^t)
template <typename T>
void adam_loop(T* parameters, T* exp_avg, T* exp_avg_sq, const T* gradients, std::size_t n, T step_size,
               T weight_decay, T beta1, T beta2, T sqrt_bias_correction2, T epsilon) {
  const T one_minus_beta1 = T(1) - beta1;
  const T one_minus_beta2 = T(1) - beta2;
  for (std::size_t i = 0; i < n; ++i) {
    const T g = gradients[i] + weight_decay * parameters[i];
    const T m = exp_avg[i] * beta1 + one_minus_beta1 * g;
    const T v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    parameters[i] -= step_size * (m / (std::sqrt(v) / sqrt_bias_correction2 + epsilon));
  }
}

// p <- p * (1 - lr * wd): adamw's decoupled weight decay, before its adam rule.
template <typename T>
void scale_loop(T* parameters, std::size_t n, T factor) {
  for (std::size_t i = 0; i < n; ++i) parameters[i] *= factor;
}

// rmsprop:  v <- alpha * v + (1 - alpha) * g * g
//   centered: a <- alpha * a + (1 - alpha) * g;  d = sqrt(v - a * a) + eps;  else d = sqrt(v) + eps
//   with momentum: buf <- mu * buf + g / d;  p <- p - lr * buf;   else p <- p - lr * g / d
template <bool centered, bool with_momentum, typename T>
void rmsprop_loop(T* parameters, T* square_avg, T* grad_avg, T* momentum_buffer, const T* gradients, std::size_t n,
                  T learning_rate, T weight_decay, T alpha, T epsilon, T momentum) {
  const T one_minus_alpha = T(1) - alpha;
  for (std::size_t i = 0; i < n; ++i) {
    const T g = gradients[i] + weight_decay * parameters[i];
    const T v = square_avg[i] * alpha + one_minus_alpha * g * g;
    square_avg[i] = v;
    T denominator;
    if constexpr (centered) {
      const T a = grad_avg[i] * alpha + one_minus_alpha * g;
      grad_avg[i] = a;
      denominator = std::sqrt(v - a * a) + epsilon;
    } else {
      denominator = std::sqrt(v) + epsilon;
    }
    if constexpr (with_momentum) {
      const T buffer = momentum_buffer[i] * momentum + g / denominator;
      momentum_buffer[i] = buffer;
      parameters[i] -= learning_rate * buffer;
    } else {
      parameters[i] -= learning_rate * (g / denominator);
    }
  }
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
void Optimizer<T>::step(std::span<T> parameters, std::span<const T> gradients, double learning_rate) {
  if (parameters.size() != parameter_count_ || gradients.size() != parameter_count_)
    throw_runtime_error("optimizer step: expected " + std::to_string(parameter_count_) +
                        " parameters and gradients, got " + std::to_string(parameters.size()) + " and " +
                        std::to_string(gradients.size()));
  ++step_count_;
  // The arena is cut into pieces updated on the thread pool; every rule is element-wise, so the pieces
  // never change a result.
  kernels::parallel_ranges(parameter_count_, kUpdateGrain, [&](std::size_t first, std::size_t count) {
    update(parameters.data() + first, gradients.data() + first, first, count, learning_rate);
  });
}

template <typename T>
void Optimizer<T>::update(T* p, const T* g, std::size_t first, std::size_t n, double learning_rate) {
  const T lr = static_cast<T>(learning_rate);
  // adamw's decay is decoupled from the gradient; every other type adds the L2 term to it.
  const T l2 = static_cast<T>(kind_ == OptimizerKind::adamw ? 0.0 : weight_decay_);
  const T momentum = static_cast<T>(momentum_);
  const T epsilon = static_cast<T>(spec_.epsilon);
  switch (kind_) {
    case OptimizerKind::sgd:
      sgd_loop(p, g, n, lr, l2);
      break;
    case OptimizerKind::momentum:
      momentum_loop<false>(p, state_[0].data() + first, g, n, lr, l2, momentum);
      break;
    case OptimizerKind::nesterov:
      momentum_loop<true>(p, state_[0].data() + first, g, n, lr, l2, momentum);
      break;
    case OptimizerKind::adamw:
      scale_loop(p, n, static_cast<T>(1.0 - learning_rate * weight_decay_));
      [[fallthrough]];
    case OptimizerKind::adam: {
      // Bias corrections in double, as torch computes them in Python floats.
      const double t = static_cast<double>(step_count_);
      const double step_size = learning_rate / (1.0 - std::pow(spec_.beta1, t));
      const double sqrt_bias_correction2 = std::sqrt(1.0 - std::pow(spec_.beta2, t));
      adam_loop(p, state_[0].data() + first, state_[1].data() + first, g, n, static_cast<T>(step_size), l2,
                static_cast<T>(spec_.beta1), static_cast<T>(spec_.beta2), static_cast<T>(sqrt_bias_correction2),
                epsilon);
      break;
    }
    case OptimizerKind::rmsprop: {
      const T alpha = static_cast<T>(spec_.alpha);
      T* square_avg = state_[0].data() + first;
      T* grad_avg = spec_.centered ? state_[1].data() + first : nullptr;
      T* momentum_buffer = momentum_ > 0 ? state_.back().data() + first : nullptr;
      if (spec_.centered && momentum_ > 0)
        rmsprop_loop<true, true>(p, square_avg, grad_avg, momentum_buffer, g, n, lr, l2, alpha, epsilon, momentum);
      else if (spec_.centered)
        rmsprop_loop<true, false>(p, square_avg, grad_avg, momentum_buffer, g, n, lr, l2, alpha, epsilon, momentum);
      else if (momentum_ > 0)
        rmsprop_loop<false, true>(p, square_avg, grad_avg, momentum_buffer, g, n, lr, l2, alpha, epsilon, momentum);
      else
        rmsprop_loop<false, false>(p, square_avg, grad_avg, momentum_buffer, g, n, lr, l2, alpha, epsilon, momentum);
      break;
    }
  }
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
  // torch's rule, including its 1e-6 guard against a zero norm; false for a NaN norm.
  const double factor = max_norm / (norm + 1e-6);
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
