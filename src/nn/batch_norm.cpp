// The batch_norm entry: forward (training and evaluation) and backward side by side; the math is in
// nn/batch_norm.hpp. Rows are summed in order in double (a batch_norm's width is a hidden layer's: these loops
// are small beside the products around them).
#include "backprop/nn/batch_norm.hpp"

#include <cmath>
#include <vector>

namespace backprop {

template <typename T>
void batch_norm_forward_training(T* y, BatchNormSaved<T> saved, const T* x, const T* scale, const T* shift,
                                 T* running_mean, T* running_var, const DenseLayer& layer, int batch) {
  const auto features = static_cast<std::size_t>(layer.out);
  const auto rows = static_cast<std::size_t>(batch);
  std::vector<double> mean(features, 0.0), variance(features, 0.0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < features; ++j) mean[j] += static_cast<double>(x[r * features + j]);
  for (std::size_t j = 0; j < features; ++j) mean[j] /= static_cast<double>(rows);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < features; ++j) {
      const double d = static_cast<double>(x[r * features + j]) - mean[j];
      variance[j] += d * d;
    }
  const double momentum = layer.momentum;
  for (std::size_t j = 0; j < features; ++j) {
    variance[j] /= static_cast<double>(rows);
    saved.inv_std[j] = static_cast<T>(1.0 / std::sqrt(variance[j] + layer.eps));
    running_mean[j] = static_cast<T>((1.0 - momentum) * running_mean[j] + momentum * mean[j]);
    const double unbiased = variance[j] * static_cast<double>(rows) / static_cast<double>(rows - 1);
    running_var[j] = static_cast<T>((1.0 - momentum) * running_var[j] + momentum * unbiased);
  }
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < features; ++j) {
      const std::size_t i = r * features + j;
      saved.xhat[i] = static_cast<T>((static_cast<double>(x[i]) - mean[j]) * saved.inv_std[j]);
      y[i] = scale[j] * saved.xhat[i] + shift[j];
    }
}

template <typename T>
void batch_norm_forward_evaluation(T* y, const T* x, const T* scale, const T* shift, const T* running_mean,
                                   const T* running_var, const DenseLayer& layer, int batch) {
  const auto features = static_cast<std::size_t>(layer.out);
  std::vector<T> inv_std(features);
  for (std::size_t j = 0; j < features; ++j)
    inv_std[j] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(running_var[j]) + layer.eps));
  for (std::size_t r = 0; r < static_cast<std::size_t>(batch); ++r)
    for (std::size_t j = 0; j < features; ++j) {
      const std::size_t i = r * features + j;
      y[i] = scale[j] * ((x[i] - running_mean[j]) * inv_std[j]) + shift[j];
    }
}

template <typename T>
bool batch_norm_backward(T* grad_scale, T* grad_shift, T* grad_input, const T* dy, BatchNormSaved<const T> saved,
                         const T* scale, const DenseLayer& layer, int batch, const InputChain<T>* chain) {
  const auto features = static_cast<std::size_t>(layer.out);
  const auto rows = static_cast<std::size_t>(batch);
  std::vector<double> sum_dy(features, 0.0), sum_dy_xhat(features, 0.0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < features; ++j) {
      const std::size_t i = r * features + j;
      sum_dy[j] += static_cast<double>(dy[i]);
      sum_dy_xhat[j] += static_cast<double>(dy[i]) * static_cast<double>(saved.xhat[i]);
    }
  bool finite = true;
  for (std::size_t j = 0; j < features; ++j) {
    grad_shift[j] = static_cast<T>(sum_dy[j]);
    grad_scale[j] = static_cast<T>(sum_dy_xhat[j]);
    finite &= std::isfinite(grad_shift[j]) && std::isfinite(grad_scale[j]);
  }
  if (grad_input == nullptr) return finite;
  const double n = static_cast<double>(rows);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < features; ++j) {
      const std::size_t i = r * features + j;
      const double factor = static_cast<double>(scale[j]) * static_cast<double>(saved.inv_std[j]) / n;
      grad_input[i] = static_cast<T>(factor * (n * static_cast<double>(dy[i]) - sum_dy[j] -
                                               static_cast<double>(saved.xhat[i]) * sum_dy_xhat[j]));
    }
  if (chain != nullptr) apply_input_chain(grad_input, *chain, batch, layer.in);
  return finite;
}

NetworkSpec fold_batch_norms(const NetworkSpec& spec, std::vector<std::size_t>* from) {
  NetworkSpec folded = spec;
  folded.layers.clear();
  if (from != nullptr) from->clear();
  std::vector<double> s, t;  // the pending affine map, empty when none
  std::size_t pending_from = 0;
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    const LayerSpec& layer = spec.layers[l];
    const auto width = static_cast<std::size_t>(layer.units);
    if (layer.kind == LayerKind::batch_norm) {
      if (s.empty()) {
        s.assign(width, 1.0);
        t.assign(width, 0.0);
        pending_from = l;
      }
      for (std::size_t j = 0; j < width; ++j) {
        const double factor = layer.weights[j] / std::sqrt(layer.running_var[j] + layer.eps);
        s[j] *= factor;
        t[j] = t[j] * factor + layer.bias[j] - layer.running_mean[j] * factor;
      }
      continue;
    }
    LayerSpec dense = layer;
    if (from != nullptr) from->push_back(s.empty() ? l : pending_from);
    for (std::size_t i = 0; i < s.size(); ++i)
      for (std::size_t o = 0; o < width; ++o) {
        dense.bias[o] += t[i] * layer.weights[i * width + o];
        dense.weights[i * width + o] *= s[i];
      }
    s.clear();
    t.clear();
    folded.layers.push_back(std::move(dense));
  }
  return folded;
}

#define BACKPROP_BATCH_NORM(T)                                                                                      \
  template void batch_norm_forward_training<T>(T*, BatchNormSaved<T>, const T*, const T*, const T*, T*, T*,      \
                                               const DenseLayer&, int);                                          \
  template void batch_norm_forward_evaluation<T>(T*, const T*, const T*, const T*, const T*, const T*,           \
                                                 const DenseLayer&, int);                                        \
  template bool batch_norm_backward<T>(T*, T*, T*, const T*, BatchNormSaved<const T>, const T*, const DenseLayer&, \
                                       int, const InputChain<T>*);
BACKPROP_BATCH_NORM(float)
BACKPROP_BATCH_NORM(double)
#undef BACKPROP_BATCH_NORM

}  // namespace backprop
