// The batch_norm entry: forward (training and evaluation) and backward side by side; the math is in
// nn/batch_norm.hpp, its formulas in kernels/math.hpp (one column at a time, shared with the device backends).
// Rows are summed in order in double (a batch_norm's width is a hidden layer's: these loops are small beside the
// products around them), and nothing is allocated: a training step stays allocation-free.
#include "backprop/nn/batch_norm.hpp"

#include <cmath>
#include <vector>

#include "kernels/math.hpp"

namespace backprop {

template <typename T>
void batch_norm_forward_training(T* y, BatchNormSaved<T> saved, const T* x, const T* scale, const T* shift,
                                 T* running_mean, T* running_var, const DenseLayer& layer, int batch) {
  const int features = layer.out;
  for (int j = 0; j < features; ++j)
    math::batch_norm_training_column(y + j, saved.xhat + j, saved.inv_std[j], running_mean[j], running_var[j], x + j,
                                     scale[j], shift[j], batch, features, layer.momentum, layer.eps);
}

template <typename T>
void batch_norm_forward_evaluation(T* y, const T* x, const T* scale, const T* shift, const T* running_mean,
                                   const T* running_var, const DenseLayer& layer, int batch) {
  const auto features = static_cast<std::size_t>(layer.out);
  for (std::size_t j = 0; j < features; ++j) {
    const T inv_std = math::batch_norm_inverse_std(running_var[j], layer.eps);
    for (std::size_t i = j; i < static_cast<std::size_t>(batch) * features; i += features)
      y[i] = math::batch_norm_evaluation(x[i], scale[j], shift[j], running_mean[j], inv_std);
  }
}

template <typename T>
bool batch_norm_backward(T* grad_scale, T* grad_shift, T* grad_input, const T* dy, BatchNormSaved<const T> saved,
                         const T* scale, const DenseLayer& layer, int batch, const InputChain<T>* chain) {
  const int features = layer.out;
  bool finite = true;
  for (int j = 0; j < features; ++j)
    finite &= math::batch_norm_backward_column(grad_scale[j], grad_shift[j], grad_input ? grad_input + j : nullptr,
                                               dy + j, saved.xhat + j, saved.inv_std[j], scale[j], batch, features);
  if (grad_input != nullptr && chain != nullptr) apply_input_chain(grad_input, *chain, batch, layer.in);
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
