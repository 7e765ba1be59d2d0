// The batch_norm entry: forward (training and evaluation) and backward side by side; the math is in
// nn/batch_norm.hpp, its formulas in kernels/batch_norm_math.hpp (one column at a time, shared with the device
// backends).
// Rows are summed in order in double (a batch_norm's width is a hidden layer's: these loops are small beside the
// products around them), and nothing is allocated: a training step stays allocation-free.
#include "backprop/nn/batch_norm.hpp"

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/nn/network.hpp"
#include "kernels/batch_norm_math.hpp"
#include "nn/layer_spec_part.hpp"
#include "nn/layer_walk.hpp"

namespace backprop {

namespace {

// The CPU's blocks of columns (batch_norm_math.hpp's batch_norm_*_columns): a row's block is contiguous, so each
// pass over the rows reads memory in order and its loop over the block vectorizes; the sums of a block stay on the
// stack.
constexpr int kColumns = 64;

// Training's statistics over the whole batch of which these rows are a share: the sums of x (and the row
// count), then of (x - mean)^2, each added over the shares (sync) before the next step uses it.
template <typename T>
void batch_norm_forward_shared(T* y, BatchNormSaved<T> saved, const T* x, const T* scale, const T* shift,
                               T* running_mean, T* running_var, const DenseLayer& layer, int batch,
                               BatchSync& sync) {
  const int features = layer.out;
  const auto width = static_cast<std::size_t>(features);
  const std::span<double> sums = sync.scratch(2 * width + 1);
  const std::span<double> means = sums.first(width + 1), squares = sums.subspan(width + 1, width);
  math::batch_norm_column_sums(means.data(), x, batch, features, features);
  means[width] = batch;
  sync.sum(means);
  const double count = means[width];
  for (int j = 0; j < features; ++j) means[j] /= count;
  math::batch_norm_column_squares(squares.data(), means.data(), x, batch, features, features);
  sync.sum(squares);
  for (int j = 0; j < features; ++j) squares[j] /= count;
  math::batch_norm_normalize_columns(y, saved.xhat, saved.inv_std, running_mean, running_var, x, scale, shift, batch,
                                     features, features, means.data(), squares.data(), count, layer.batch_norm.momentum,
                                     layer.batch_norm.eps);
}

// The backward sums of the whole batch: this share's, in the batch's scale (times its weight), added over the
// shares with the row count; dL/dx back in the share's scale (the sums divided by the weight).
template <typename T>
bool batch_norm_backward_shared(T* grad_scale, T* grad_shift, T* grad_input, const T* dy,
                                BatchNormSaved<const T> saved, const T* scale, const DenseLayer& layer, int batch,
                                BatchSync& sync) {
  const int features = layer.out;
  const auto width = static_cast<std::size_t>(features);
  const std::span<double> sums = sync.scratch(2 * width + 1);
  double* sum_dy = sums.data();
  double* sum_dy_xhat = sums.data() + width;
  math::batch_norm_gradient_sums(sum_dy, sum_dy_xhat, dy, saved.xhat, batch, features, features);
  const double weight = sync.weight();
  const double unweight = weight > 0 ? 1.0 / weight : 0.0;
  bool finite = true;
  for (std::size_t j = 0; j < width; ++j) {
    grad_shift[j] = static_cast<T>(sum_dy[j]);
    grad_scale[j] = static_cast<T>(sum_dy_xhat[j]);
    finite &= std::isfinite(grad_shift[j]) && std::isfinite(grad_scale[j]);
    sum_dy[j] *= weight;
    sum_dy_xhat[j] *= weight;
  }
  sums[2 * width] = batch;
  sync.sum(sums);
  if (grad_input == nullptr) return finite;
  for (std::size_t j = 0; j < 2 * width; ++j) sums[j] *= unweight;
  math::batch_norm_input_gradient_columns(grad_input, dy, saved.xhat, saved.inv_std, scale, batch, features, features,
                                          sums[2 * width], sum_dy, sum_dy_xhat);
  return finite;
}

}  // namespace

template <typename T>
void batch_norm_statistics(double* mean, double* variance, const T* x, int features, int batch) {
  const double count = static_cast<double>(batch);
  math::batch_norm_column_sums(mean, x, batch, features, features);
  for (int j = 0; j < features; ++j) mean[j] /= count;
  math::batch_norm_column_squares(variance, mean, x, batch, features, features);
  for (int j = 0; j < features; ++j) variance[j] /= count;
}

template <typename T>
void batch_norm_forward_training(T* y, BatchNormSaved<T> saved, const T* x, const T* scale, const T* shift,
                                 T* running_mean, T* running_var, const DenseLayer& layer, int batch,
                                 BatchSync* sync) {
  if (sync != nullptr)
    return batch_norm_forward_shared(y, saved, x, scale, shift, running_mean, running_var, layer, batch, *sync);
  const int features = layer.out;
  for (int j = 0; j < features; j += kColumns)
    math::batch_norm_training_columns<kColumns>(y + j, saved.xhat + j, saved.inv_std + j, running_mean + j,
                                                running_var + j, x + j, scale + j, shift + j, batch, features,
                                                std::min(kColumns, features - j), layer.batch_norm.momentum,
                                                layer.batch_norm.eps);
}

template <typename T>
void batch_norm_forward_evaluation(T* y, const T* x, const T* scale, const T* shift, const T* running_mean,
                                   const T* running_var, const DenseLayer& layer, int batch) {
  const int features = layer.out;
  for (int j = 0; j < features; j += kColumns) {
    const int cols = std::min(kColumns, features - j);
    T inv_std[kColumns];
    for (int c = 0; c < cols; ++c) inv_std[c] = math::batch_norm_inverse_std(running_var[j + c], layer.batch_norm.eps);
    for (std::size_t o = static_cast<std::size_t>(j); o < static_cast<std::size_t>(batch) * features; o += features)
      for (int c = 0; c < cols; ++c)
        y[o + c] = math::batch_norm_evaluation(x[o + c], scale[j + c], shift[j + c], running_mean[j + c], inv_std[c]);
  }
}

template <typename T>
bool batch_norm_backward(T* grad_scale, T* grad_shift, T* grad_input, const T* dy, BatchNormSaved<const T> saved,
                         const T* scale, const DenseLayer& layer, int batch, const InputChain<T>* chain,
                         BatchSync* sync) {
  const int features = layer.out;
  bool finite = true;
  if (sync != nullptr)
    finite = batch_norm_backward_shared(grad_scale, grad_shift, grad_input, dy, saved, scale, layer, batch, *sync);
  else
    for (int j = 0; j < features; j += kColumns)
      finite &= math::batch_norm_backward_columns<kColumns>(
          grad_scale + j, grad_shift + j, grad_input ? grad_input + j : nullptr, dy + j, saved.xhat + j,
          saved.inv_std + j, scale + j, batch, features, std::min(kColumns, features - j));
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
        const double factor = layer.weights[j] / std::sqrt(layer.batch_norm.running_var[j] + layer.batch_norm.eps);
        s[j] *= factor;
        t[j] = t[j] * factor + layer.bias[j] - layer.batch_norm.running_mean[j] * factor;
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

// The batch_norm's cases of the general CPU step (CpuLayer<K>, nn/layer_walk.hpp), entry l of network: its first
// values (the spec's, else scale 1, shift 0, running mean 0, running variance 1; it draws nothing); its forward
// (training: the batch's statistics, through the network's BatchSync, updating the running ones; else the
// running ones; no dropout of its own); its backward after a training forward.
template <typename T>
void CpuLayer<LayerKind::batch_norm>::initialize(Network<T>& network, std::size_t l, Random&, std::vector<double>&) {
  const LayerSpec& layer_spec = network.spec().layers[l];
  starting_values(network.weights(l), layer_spec.weights, 1.0);
  starting_values(network.bias(l), layer_spec.bias, 0.0);
  starting_values(batch_norm_running_mean(network, l), layer_spec.batch_norm.running_mean, 0.0);
  starting_values(batch_norm_running_var(network, l), layer_spec.batch_norm.running_var, 1.0);
}

template <typename T>
void CpuLayer<LayerKind::batch_norm>::forward(const Network<T>& network, Workspace<T>& workspace, std::size_t l,
                                              const T* input, int batch, Random*, bool training) {
  const DenseLayer& layer = network.layer(l);
  const T* scale = network.weights(l).data();
  const T* shift = network.bias(l).data();
  T* mean = batch_norm_running_mean(network, l).data();
  T* variance = batch_norm_running_var(network, l).data();
  if (training)
    batch_norm_forward_training(workspace.a(l), batch_norm_saved(workspace, l), input, scale, shift, mean, variance,
                                layer, batch, network.batch_sync());
  else
    batch_norm_forward_evaluation(workspace.a(l), input, scale, shift, mean, variance, layer, batch);
}

template <typename T>
bool CpuLayer<LayerKind::batch_norm>::backward(Network<T>& network, Workspace<T>& workspace, std::size_t l,
                                               const LayerBelow<T>& below, int batch) {
  return batch_norm_backward(network.weight_gradients(l).data(), network.bias_gradients(l).data(), below.grad_input,
                             std::as_const(workspace).delta(l), batch_norm_saved(std::as_const(workspace), l),
                             std::as_const(network).weights(l).data(), network.layer(l), batch,
                             below.chain_or_null(), network.batch_sync());
}

#define BACKPROP_BATCH_NORM(T)                                                                                      \
  template void batch_norm_statistics<T>(double*, double*, const T*, int, int);                                   \
  template void batch_norm_forward_training<T>(T*, BatchNormSaved<T>, const T*, const T*, const T*, T*, T*,      \
                                               const DenseLayer&, int, BatchSync*);                              \
  template void batch_norm_forward_evaluation<T>(T*, const T*, const T*, const T*, const T*, const T*,           \
                                                 const DenseLayer&, int);                                        \
  template bool batch_norm_backward<T>(T*, T*, T*, const T*, BatchNormSaved<const T>, const T*, const DenseLayer&, \
                                       int, const InputChain<T>*, BatchSync*);                                   \
  template void CpuLayer<LayerKind::batch_norm>::initialize<T>(Network<T>&, std::size_t, Random&,                 \
                                                               std::vector<double>&);                              \
  template void CpuLayer<LayerKind::batch_norm>::forward<T>(const Network<T>&, Workspace<T>&, std::size_t, const T*, \
                                                            int, Random*, bool);                                     \
  template bool CpuLayer<LayerKind::batch_norm>::backward<T>(Network<T>&, Workspace<T>&, std::size_t,              \
                                                             const LayerBelow<T>&, int);
BACKPROP_BATCH_NORM(float)
BACKPROP_BATCH_NORM(double)
#undef BACKPROP_BATCH_NORM

// A batch_norm entry's part of the network's description (nn/layer_spec_part.hpp): scale, shift, running_mean,
// running_var (OUT each). What it normalizes fixes its units, and it has no weights of its own shape.
std::vector<LayerArray> detail::LayerSpecPart<LayerKind::batch_norm>::arrays(const LayerSpec& layer, int) {
  const auto out = static_cast<std::size_t>(layer.units);
  return {{weights_of, out, "scale", true},
          {bias_of, out, "shift", true},
          {[](LayerSpec& l) -> std::vector<double>& { return l.batch_norm.running_mean; }, out, "running_mean", false},
          {[](LayerSpec& l) -> std::vector<double>& { return l.batch_norm.running_var; }, out, "running_var", false}};
}

std::vector<LayerField> detail::LayerSpecPart<LayerKind::batch_norm>::fields(const NetworkSpec& spec, std::size_t l) {
  const LayerSpec& layer = spec.layers[l];
  return {{"type", to_string(layer.kind)},
          {"units", layer.units},
          {"momentum", layer.batch_norm.momentum},
          {"eps", layer.batch_norm.eps}};
}

void detail::LayerSpecPart<LayerKind::batch_norm>::validate(const NetworkSpec& spec, std::size_t l,
                                                            const std::string& where) {
  const LayerSpec& layer = spec.layers[l];
  if (l + 1 == spec.layers.size())
    throw_bad_input(where + ": batch_norm cannot be the last entry (the output layer is dense: the loss reads "
                            "its activation)");
  if (layer.units != spec.layer_input(l))
    throw_bad_input(where + ".units: expected " + std::to_string(spec.layer_input(l)) +
                    " (batch_norm keeps the width of what it normalizes), got " + std::to_string(layer.units));
  if (layer.activation != Activation::identity || layer.dropout != 0.0 || layer.initializer)
    throw_bad_input(where + ": batch_norm takes no activation, dropout or initializer");
  if (!(layer.batch_norm.momentum >= 0.0 && layer.batch_norm.momentum <= 1.0))
    throw_bad_input(where + ".momentum: expected a number in [0, 1]");
  if (!(layer.batch_norm.eps > 0.0 && fits_float(layer.batch_norm.eps)))
    throw_bad_input(where + ".eps: expected a positive number");
  for (const LayerArray& array : spec.arrays(l)) {
    const std::vector<double>& values = array.values(layer);
    if (!values.empty() && values.size() != array.size)
      throw_bad_input(where + "." + std::string(array.key) + ": expected " + std::to_string(array.size) +
                      " numbers, got " + std::to_string(values.size()));
    if (!all_finite(values)) throw_bad_input(where + "." + std::string(array.key) + ": expected finite numbers");
  }
  for (double v : layer.batch_norm.running_var)
    if (v < 0.0) throw_bad_input(where + ".running_var: expected numbers >= 0");
}

}  // namespace backprop
