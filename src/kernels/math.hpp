// Every per-element formula of the library, written once: the activations and their derivatives, one row's
// loss and dL/dz, each optimizer's update of one parameter, the predicted class of a row, the scaling of one
// feature (a layer kind's own formulas, shared by its CPU file and the device, are in its own header beside this
// one: batch_norm_math.hpp, embedding_math.hpp). The CPU loops (kernels/cpu/elementwise.cpp, nn/loss.cpp,
// nn/optimizer.cpp), the fused one-row step (train/row_step.cpp), the data set's gather (data/dataset.cpp), the
// emulated device (kernels/cuda/emulated.cpp) and the CUDA kernels (kernels/cuda/backend.cu) all call these
// functions, so a formula cannot differ between them. Internal (not installed); compiles as C++20 with g++ and as C++17 under nvcc, where
// every function is __host__ __device__.
//
// The operation order of each formula is part of it: the CPU results are bit-for-bit those of the loops
// these functions came from (tests/test_row_step.cpp holds the one-row step to the general path's bits), so
// where a sum of a product must round once or twice the code says so with multiply_add instead of leaving
// it to the compiler's contraction of a * b + c, which depends on the code around an inlined copy.
//
// T is the scalar type of the math (float in training, double for the trace and the gradient check); losses
// are summed in double whatever T is.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "backprop/base/metric_sums.hpp"
#include "backprop/base/kinds.hpp"

#if defined(__CUDACC__)
#define BACKPROP_HD __host__ __device__ inline
#define BACKPROP_HD_ALWAYS_INLINE __host__ __device__ __forceinline__
#else
#define BACKPROP_HD inline
#define BACKPROP_HD_ALWAYS_INLINE inline __attribute__((always_inline))
#endif

namespace backprop::math {

// a * b + c rounded once where the processor has a fused multiply-add (every GPU; a CPU built with FMA),
// else twice. The one-row step and the general path compute the same sums in different surroundings and
// must round them alike.
template <typename T>
BACKPROP_HD_ALWAYS_INLINE T multiply_add(T a, T b, T c) {
#if defined(__CUDA_ARCH__) || defined(__FMA__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// ---- Activations, one value: a = f(z), and dL/dz = dL/da * f'(z), from a where that is cheaper (sigmoid,
// tanh), else from z.

// sigmoid(z) = 1 / (1 + e^-z). For very negative z, e^-z overflows to infinity and 1 / infinity is exactly 0,
// so the plain formula has no NaN and needs no branch (which keeps a loop of it vectorisable).
template <typename T>
BACKPROP_HD T sigmoid(T z) {
  return T(1) / (T(1) + std::exp(-z));
}

// sigmoid'(z) = a (1 - a)
template <typename T>
BACKPROP_HD T sigmoid_backward(T da, T a) {
  return da * a * (T(1) - a);
}

template <typename T>
BACKPROP_HD T tanh(T z) {
  return std::tanh(z);
}

// tanh'(z) = 1 - a^2, as one rounding.
template <typename T>
BACKPROP_HD T tanh_backward(T da, T a) {
  return da * multiply_add(-a, a, T(1));
}

// take_a ? a : b with both computed and the bits of one kept, no branch: GCC turns a ?: whose other side
// multiplies into a branch (the product might trap) unless it has AVX-512's masks, and a loop with a branch is not
// vectorised, so relu's loops ran one value at a time, mispredicting on every sign, on AVX2 and baseline CPUs.
template <typename T>
BACKPROP_HD T select_bits(bool take_a, T a, T b) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  static_assert(sizeof(T) == sizeof(Bits));
  Bits bits_a, bits_b;
  memcpy(&bits_a, &a, sizeof a);
  memcpy(&bits_b, &b, sizeof b);
  const Bits mask = Bits(0) - static_cast<Bits>(take_a);
  const Bits bits = (bits_a & mask) | (bits_b & ~mask);
  T out;
  memcpy(&out, &bits, sizeof out);
  return out;
}

// z for z > 0, slope z otherwise; slope 0 is relu.
template <typename T>
BACKPROP_HD T leaky_relu(T z, T slope) {
  return select_bits(z > T(0), z, slope * z);
}

// f'(z) = 1 for z > 0, slope otherwise (the derivative at 0 is taken as the slope, as PyTorch does).
template <typename T>
BACKPROP_HD T leaky_relu_backward(T da, T z, T slope) {
  return select_bits(z > T(0), da, slope * da);
}

// silu(z) = z sigmoid(z) (torch.nn.SiLU).
template <typename T>
BACKPROP_HD T silu(T z) {
  return z * sigmoid(z);
}

// silu'(z) = s (1 + z (1 - s)), s = sigmoid(z) from z again (a = z s gives s only where z is not 0), as
// torch's silu_backward writes it: da s, times the bracket, the bracket's sum rounded once.
template <typename T>
BACKPROP_HD T silu_backward(T da, T z) {
  const T s = sigmoid(z);
  return da * s * multiply_add(z, T(1) - s, T(1));
}

// The one switch over the activations: calls body(kind) with kind a std::integral_constant<Activation, F>,
// so that a loop written once over kind.value is compiled once per activation with its formula inlined (the
// CPU's loops, kernels/cpu/elementwise.cpp). A new activation is one more case here and one more branch in
// activate and derivative below (the compiler refuses a switch that misses a kind: -Werror=switch).
template <typename Body>
BACKPROP_HD_ALWAYS_INLINE auto with_activation(Activation f, Body&& body) {
  switch (f) {
    case Activation::sigmoid: return body(std::integral_constant<Activation, Activation::sigmoid>{});
    case Activation::tanh: return body(std::integral_constant<Activation, Activation::tanh>{});
    case Activation::relu: return body(std::integral_constant<Activation, Activation::relu>{});
    case Activation::leaky_relu: return body(std::integral_constant<Activation, Activation::leaky_relu>{});
    case Activation::softmax: return body(std::integral_constant<Activation, Activation::softmax>{});
    case Activation::silu: return body(std::integral_constant<Activation, Activation::silu>{});
    case Activation::identity: break;
  }
  return body(std::integral_constant<Activation, Activation::identity>{});
}

// f(z) for the element-wise activations; softmax is a function of the row (softmax_row), here identity.
template <Activation F, typename T>
BACKPROP_HD_ALWAYS_INLINE T activate(T z, T slope) {
  if constexpr (F == Activation::sigmoid) return sigmoid(z);
  else if constexpr (F == Activation::tanh) return tanh(z);
  else if constexpr (F == Activation::relu) return leaky_relu(z, T(0));
  else if constexpr (F == Activation::leaky_relu) return leaky_relu(z, slope);
  else if constexpr (F == Activation::silu) return silu(z);
  else {
    static_assert(F == Activation::identity || F == Activation::softmax, "activate: a kind without its formula");
    return z;
  }
}

// dL/dz from dL/da for the element-wise activations, from a where that is cheaper (sigmoid, tanh), else from
// z; softmax is softmax_backward_row's, here identity.
template <Activation F, typename T>
BACKPROP_HD_ALWAYS_INLINE T derivative(T da, T z, T a, T slope) {
  if constexpr (F == Activation::sigmoid) return sigmoid_backward(da, a);
  else if constexpr (F == Activation::tanh) return tanh_backward(da, a);
  else if constexpr (F == Activation::relu) return leaky_relu_backward(da, z, T(0));
  else if constexpr (F == Activation::leaky_relu) return leaky_relu_backward(da, z, slope);
  else if constexpr (F == Activation::silu) return silu_backward(da, z);
  else {
    static_assert(F == Activation::identity || F == Activation::softmax, "derivative: a kind without its formula");
    return da;
  }
}

// The same with the activation known only at run time (one value: the one-row step, the device kernels).
template <typename T>
BACKPROP_HD T activate(Activation f, T z, T slope) {
  return with_activation(f, [&](auto kind) { return activate<decltype(kind)::value>(z, slope); });
}
template <typename T>
BACKPROP_HD T derivative(Activation f, T da, T z, T a, T slope) {
  return with_activation(f, [&](auto kind) { return derivative<decltype(kind)::value>(da, z, a, slope); });
}

// a_i = e^(z_i - max) / sum_j e^(z_j - max) over one row of cols values: the row maximum subtracted first, so
// no e^z overflows. The maximum is std::max_element's (the first largest; a NaN first stays).
template <typename T>
BACKPROP_HD void softmax_row(T* a, const T* z, int cols) {
  T max = z[0];
  for (int c = 1; c < cols; ++c)
    if (max < z[c]) max = z[c];
  T sum = 0;
  for (int c = 0; c < cols; ++c) {
    a[c] = std::exp(z[c] - max);
    sum += a[c];
  }
  for (int c = 0; c < cols; ++c) a[c] /= sum;
}

// dz_i = a_i (da_i - sum_j da_j a_j): the softmax Jacobian times da, one row. dz may alias da.
template <typename T>
BACKPROP_HD void softmax_backward_row(T* dz, const T* da, const T* a, int cols) {
  T dot = 0;
  for (int c = 0; c < cols; ++c) dot += da[c] * a[c];
  for (int c = 0; c < cols; ++c) dz[c] = a[c] * (da[c] - dot);
}

// ---- Losses, one row of cols outputs (z, a = f(z), target y). Every loss sums over the outputs and
// averages over the batch of B rows (docs/contracts.md, "Losses").

// Label smoothing (softmax_ce only; torch.nn.CrossEntropyLoss(label_smoothing=eps)): the row's target y is
// replaced by q = (1 - eps) y + eps / K over its K = cols classes, in the loss and in dL/dz alike. eps = 0
// runs the unsmoothed lines below as they are, so that a run without smoothing keeps every bit it had.
// One target's q from keep = 1 - eps and share = eps / K, rounded alike wherever it is computed:
template <typename T>
BACKPROP_HD_ALWAYS_INLINE T smoothed_target(T y, T keep, T share) {
  return multiply_add(keep, y, share);
}

// sum + one row's terms of the loss's sum, in double:
//   mse:        sum (a - y)^2                               (the loss is 1/(2B) of the total: loss_total)
//   bce:        sum max(z, 0) - z y + log(1 + e^-|z|)       (from z: stable for any z; max as std::max's)
//   softmax_ce: sum q (logsumexp(z) - z), logsumexp(z) = max + log sum e^(z - max); q = y when eps = 0
// Taking the running sum, rather than returning the row's own, keeps the CPU's one sum over the batch.
template <typename T>
BACKPROP_HD double add_loss_row(double sum, LossKind loss, double label_smoothing, const T* z, const T* a, const T* y,
                                int cols) {
  switch (loss) {
    case LossKind::mse:
      for (int c = 0; c < cols; ++c) {
        const double d = static_cast<double>(a[c]) - y[c];
        sum += d * d;
      }
      return sum;
    case LossKind::bce:
      for (int c = 0; c < cols; ++c) {
        const double zc = z[c];
        sum += (zc < 0.0 ? 0.0 : zc) - zc * y[c] + std::log1p(std::exp(-std::abs(zc)));
      }
      return sum;
    case LossKind::softmax_ce: {
      T largest = z[0];
      for (int c = 1; c < cols; ++c)
        if (largest < z[c]) largest = z[c];
      const double max = largest;
      double exp_sum = 0;
      for (int c = 0; c < cols; ++c) exp_sum += std::exp(z[c] - max);
      const double log_sum_exp = max + std::log(exp_sum);
      if (label_smoothing == 0.0) {
        for (int c = 0; c < cols; ++c) sum += y[c] * (log_sum_exp - z[c]);
        return sum;
      }
      const double keep = 1.0 - label_smoothing, share = label_smoothing / cols;
      for (int c = 0; c < cols; ++c) sum += smoothed_target<double>(y[c], keep, share) * (log_sum_exp - z[c]);
      return sum;
    }
  }
  return sum;
}

// The loss of a batch of `rows` rows from the total of add_loss_row over them (mse's 1/2 is here).
BACKPROP_HD double loss_total(LossKind loss, double sum, int rows) {
  switch (loss) {
    case LossKind::mse: return sum / (2.0 * rows);
    case LossKind::bce:
    case LossKind::softmax_ce: break;
  }
  return sum / rows;
}

// Row weights (class_weight, sample weights): the weighted mean of PyTorch's reduction='mean', each row's loss
// and its dL/dz scaled by weight / denominator. The denominator is the rows' total weight for softmax_ce
// (CrossEntropyLoss(weight=) divides by the weights' sum) and the row count for bce and mse (BCELoss(weight=)
// and MSELoss average over the elements). Every step (nn/loss.cpp, the one-row step, the device's) takes both
// from here.
BACKPROP_HD double weighted_loss_denominator(LossKind loss, double weight_total, int rows) {
  return loss == LossKind::softmax_ce ? weight_total : static_cast<double>(rows);
}
// A row's scale in loss_gradient_row (its inverse_batch): a batch whose rows all weigh 0 adds nothing.
template <typename T>
BACKPROP_HD T weighted_row_scale(double weight, double denominator) {
  return denominator > 0 ? static_cast<T>(weight / denominator) : T(0);
}

// dz = dL/dz of one row, for the loss averaged over the batch (inverse_batch = 1/B):
//   softmax_ce: dz = (a sum(q) - q) / B, which is (a - q) / B when y is one-hot (q = y when eps = 0)
//   bce:        dz = (a - y) / B            (with a sigmoid output: its derivative cancels)
//   mse:        dz = (a - y) / B * f'(z)    (dL/da chained through the output activation f, softmax too)
// (softmax_ce: dL/dz_j = sum_k q_k (softmax_j - [j = k]) = a_j sum(q) - q_j.)
template <typename T>
BACKPROP_HD void loss_gradient_row(T* dz, LossKind loss, double label_smoothing, const T* z, const T* a, const T* y,
                                   int cols, Activation output, T slope, T inverse_batch) {
  if (loss == LossKind::softmax_ce && label_smoothing == 0.0) {
    T y_sum = 0;
    for (int c = 0; c < cols; ++c) y_sum += y[c];
    for (int c = 0; c < cols; ++c) dz[c] = (a[c] * y_sum - y[c]) * inverse_batch;
    return;
  }
  if (loss == LossKind::softmax_ce) {
    const T keep = static_cast<T>(1.0 - label_smoothing), share = static_cast<T>(label_smoothing / cols);
    T q_sum = 0;
    for (int c = 0; c < cols; ++c) q_sum += smoothed_target(y[c], keep, share);
    for (int c = 0; c < cols; ++c) dz[c] = (a[c] * q_sum - smoothed_target(y[c], keep, share)) * inverse_batch;
    return;
  }
  for (int c = 0; c < cols; ++c) dz[c] = (a[c] - y[c]) * inverse_batch;
  if (loss != LossKind::mse) return;
  if (output == Activation::softmax) {
    softmax_backward_row(dz, dz, a, cols);
  } else {
    for (int c = 0; c < cols; ++c) dz[c] = derivative(output, dz[c], z[c], a[c], slope);
  }
}

// The class a row of outputs predicts: the first largest output (std::max_element's), or for one (sigmoid)
// output a > 0.5.
BACKPROP_HD int predicted_class(const float* a, int cols) {
  if (cols == 1) return a[0] > 0.5f ? 1 : 0;
  int best = 0;
  for (int c = 1; c < cols; ++c)
    if (a[best] < a[c]) best = c;
  return best;
}

// A row's metrics added to sums: with label >= 0 (classification) whether its predicted class is the label,
// else (regression) its squared and absolute errors over the cols outputs; the row counted.
BACKPROP_HD void add_row_metrics(MetricSums& sums, const float* a, const float* y, int label, int cols) {
  sums.rows += 1;
  if (label >= 0) {
    if (predicted_class(a, cols) == label) sums.correct += 1;
    return;
  }
  for (int c = 0; c < cols; ++c) {
    const double d = static_cast<double>(a[c]) - y[c];
    sums.squared_error += d * d;
    sums.absolute_error += fabs(d);
  }
  sums.values += cols;
}

// ---- Optimizers: one parameter's update (the rules of nn/optimizer.hpp, torch.optim's), its state by name.
// g is the gradient, p the parameter, lr the learning rate, wd the L2 weight decay (0 for adamw). The order
// of operations follows torch's (x.mul_(a).add_(y, alpha=b) is x * a + b * y), so that double agrees with
// torch's float64 to rounding.

// sgd: p <- p - lr * (g + wd * p), each step one rounding.
template <typename T>
BACKPROP_HD_ALWAYS_INLINE void sgd(T& parameter, T gradient, T learning_rate, T weight_decay) {
  const T g = multiply_add(weight_decay, parameter, gradient);
  parameter = multiply_add(-learning_rate, g, parameter);
}

// momentum: buf <- mu * buf + g;  p <- p - lr * buf
// nesterov: buf <- mu * buf + g;  p <- p - lr * (g + mu * buf)
template <bool nesterov, typename T>
BACKPROP_HD void momentum(T& parameter, T& momentum_buffer, T gradient, T learning_rate, T weight_decay, T mu) {
  const T g = gradient + weight_decay * parameter;
  const T buffer = momentum_buffer * mu + g;
  momentum_buffer = buffer;
  if constexpr (nesterov)
    parameter -= learning_rate * (g + mu * buffer);
  else
    parameter -= learning_rate * buffer;
}

// adam: m <- b1 * m + (1 - b1) * g;  v <- b2 * v + (1 - b2) * g * g
//       p <- p - step_size * m / (sqrt(v) / sqrt_bias_correction2 + eps),
//       step_size = lr / (1 - b1^t), sqrt_bias_correction2 = sqrt(1 - b2^t)  (computed once per step, in double)
// adamw: p <- p * decay_factor (decay_factor = 1 - lr * wd, decoupled from g) first, then adam with wd = 0.
template <typename T>
struct AdamStep {
  T step_size, weight_decay, beta1, beta2, sqrt_bias_correction2, epsilon;
};

template <typename T>
BACKPROP_HD void adam(T& parameter, T& exp_avg, T& exp_avg_sq, T gradient, const AdamStep<T>& step) {
  const T g = gradient + step.weight_decay * parameter;
  const T m = exp_avg * step.beta1 + (T(1) - step.beta1) * g;
  const T v = exp_avg_sq * step.beta2 + (T(1) - step.beta2) * g * g;
  exp_avg = m;
  exp_avg_sq = v;
  parameter -= step.step_size * (m / (std::sqrt(v) / step.sqrt_bias_correction2 + step.epsilon));
}

template <typename T>
BACKPROP_HD void adamw(T& parameter, T& exp_avg, T& exp_avg_sq, T gradient, T decay_factor, const AdamStep<T>& step) {
  parameter *= decay_factor;
  adam(parameter, exp_avg, exp_avg_sq, gradient, step);
}

// rmsprop:  v <- alpha * v + (1 - alpha) * g * g
//   centered: a <- alpha * a + (1 - alpha) * g;  d = sqrt(v - a * a) + eps;  else d = sqrt(v) + eps
//   with momentum: buf <- mu * buf + g / d;  p <- p - lr * buf;   else p <- p - lr * g / d
// grad_avg is used (and may be null otherwise) when centered, momentum_buffer when with_momentum.
template <typename T>
struct RmspropStep {
  T learning_rate, weight_decay, alpha, epsilon, momentum;
};

template <bool centered, bool with_momentum, typename T>
BACKPROP_HD void rmsprop(T& parameter, T& square_avg, T* grad_avg, T* momentum_buffer, T gradient,
                         const RmspropStep<T>& step) {
  const T g = gradient + step.weight_decay * parameter;
  const T one_minus_alpha = T(1) - step.alpha;
  const T v = square_avg * step.alpha + one_minus_alpha * g * g;
  square_avg = v;
  T denominator;
  if constexpr (centered) {
    const T a = *grad_avg * step.alpha + one_minus_alpha * g;
    *grad_avg = a;
    denominator = std::sqrt(v - a * a) + step.epsilon;
  } else {
    denominator = std::sqrt(v) + step.epsilon;
  }
  if constexpr (with_momentum) {
    const T buffer = *momentum_buffer * step.momentum + g / denominator;
    *momentum_buffer = buffer;
    parameter -= step.learning_rate * buffer;
  } else {
    parameter -= step.learning_rate * (g / denominator);
  }
}

// The coefficients of one step of a rule, in T, for the CPU's loops (nn/optimizer.cpp) and the device's
// update (kernels/device.hpp's UpdateRule) alike; nn/optimizer_step.hpp's optimizer_step computes them, once.
template <typename T>
struct OptimizerStep {
  OptimizerKind kind = OptimizerKind::sgd;
  T learning_rate = 0;
  T weight_decay = 0;  // the L2 term added to the gradient (0 for adamw)
  T decay_factor = 1;  // adamw: p <- p * (1 - lr * wd) first
  T momentum = 0;
  T beta1 = 0, beta2 = 0, step_size = 0, sqrt_bias_correction2 = 1;  // adam, adamw
  T alpha = 0;            // rmsprop
  T epsilon = 0;
  bool centered = false;  // rmsprop

  BACKPROP_HD AdamStep<T> adam() const {
    return {step_size, weight_decay, beta1, beta2, sqrt_bias_correction2, epsilon};
  }
  BACKPROP_HD RmspropStep<T> rmsprop() const { return {learning_rate, weight_decay, alpha, epsilon, momentum}; }
};

// torch's clip_grad_norm_ factor, max_norm / (norm + 1e-6) (the 1e-6 guards a zero norm); the gradients are
// multiplied by it when it is below 1.
BACKPROP_HD double clip_factor(double norm, double max_norm) {
  return max_norm / (norm + 1e-6);
}

// ---- Dropout (inverted): a unit is dropped (mask 0) where its uniform draw in [0, 1) is below p, else kept and
// scaled by 1 / (1 - p), so that the layer's expected output is unchanged; the backward pass multiplies by the
// same mask. The CPU (nn/dense.cpp, its draws compared as integers: Random::bits53_below) and both device
// backends (float draws) call these.
template <typename T>
BACKPROP_HD T dropout_keep_scale(double p) {
  return static_cast<T>(1.0 / (1.0 - p));
}

template <typename T, typename Draw>
BACKPROP_HD T dropout_mask(Draw draw, Draw p, T keep_scale) {
  return draw < p ? T(0) : keep_scale;
}

// ---- Data: one feature value as a network input.

// A uint8 feature (IDX images, uint8 NPY) reads as value / 255, in float.
BACKPROP_HD float byte_feature(std::uint8_t value) {
  return static_cast<float>(value) / 255.0f;
}

// The scaling (data/scaling.hpp) of one feature, x' = (x - offset) / scale, computed in double.
BACKPROP_HD float scaled_feature(float x, double offset, double scale) {
  return static_cast<float>((static_cast<double>(x) - offset) / scale);
}

}  // namespace backprop::math
