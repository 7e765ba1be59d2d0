// The dense layer: forward and backward side by side.
//
// Forward:   z = a_prev . W + b          (B, OUT) = (B, IN) . (IN, OUT) + (OUT)
//            a = f(z)
// Backward, given dz = dL/dz (B, OUT):
//            dL/dW      = a_prev^T . dz  (IN, OUT) = (IN, B) . (B, OUT)
//            dL/db      = sum over rows of dz
//            dL/da_prev = dz . W^T       (B, IN) = (B, OUT) . (OUT, IN)
// since z[r, o] = sum_i a_prev[r, i] W[i, o] + b[o] is linear in each of W, b and a_prev.
#include "backprop/nn/dense.hpp"

#include "backprop/kernels/kernels.hpp"
#include "dense_row.hpp"
#include <atomic>
#include <cmath>
#include <string>
#include <utility>

#include "backprop/base/error.hpp"
#include "backprop/base/random.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/network.hpp"
#include "base/clones.hpp"
#include "kernels/cpu/finite.hpp"
#include "kernels/math.hpp"
#include "nn/layer_spec_part.hpp"
#include "nn/layer_walk.hpp"

namespace backprop {

using kernels::Transpose;

namespace detail {

template <typename T>
void dense_forward_row_cloned(T* z, const T* input, const T* weights, const T* bias, int in, int out) {
  clones::run<&dense_forward_row<T>>(z, input, weights, bias, in, out);
}

template <typename T>
void dense_backward_row_cloned(T* grad_weights, T* grad_bias, T* grad_input, const T* input, const T* dz,
                               const T* weights, int in, int out) {
  clones::run<&dense_backward_row<T>>(grad_weights, grad_bias, grad_input, input, dz, weights, in, out);
}

template void dense_forward_row_cloned<float>(float*, const float*, const float*, const float*, int, int);
template void dense_forward_row_cloned<double>(double*, const double*, const double*, const double*, int, int);
template void dense_backward_row_cloned<float>(float*, float*, float*, const float*, const float*, const float*, int,
                                               int);
template void dense_backward_row_cloned<double>(double*, double*, double*, const double*, const double*,
                                                const double*, int, int);

}  // namespace detail

using detail::dense_backward_row_cloned;
using detail::dense_forward_row_cloned;

// Layers up to this many weights take the row path at batch 1; above it the BLAS's blocking pays.
constexpr long kRowPathWeights = 1L << 20;

// The batch path of dense_forward, out of line like dense_backward_batch.
template <typename T>
[[gnu::noinline]] void dense_forward_batch(T* z, T* a, const T* input, const T* weights, const T* bias,
                                           const DenseLayer& layer, int batch) {
  const int out = layer.out;
  const T slope = static_cast<T>(layer.slope);
  // z = input . W, then on each block of z as the product finishes it: z += b and a = f(z) (softmax, a
  // function of whole rows, after the product).
  const bool row_wise = layer.activation == Activation::softmax;
  const auto bias_and_activation = [&](const kernels::Block& block) {
    const T* bias_block = bias + block.first_column;
    for (int r = block.first_row; r < block.first_row + block.rows; ++r) {
      T* __restrict z_row = z + static_cast<std::size_t>(r) * out + block.first_column;
      for (int c = 0; c < block.columns; ++c) z_row[c] += bias_block[c];
    }
    if (row_wise) return;
    // A block of whole rows is one stretch of z: one call, where a table's small layers paid a call a row.
    int rows = block.rows, columns = block.columns;
    if (columns == out) {
      columns *= rows;
      rows = 1;
    }
    for (int r = 0; r < rows; ++r) {
      const std::size_t offset = static_cast<std::size_t>(block.first_row + r) * out + block.first_column;
      activation_forward(a + offset, z + offset, layer.activation, slope, 1, columns);
    }
  };
  kernels::gemm(Transpose::no, Transpose::no, batch, out, layer.in, T(1), input, layer.in, weights, out, T(0), z, out,
                bias_and_activation);
  if (row_wise) activation_forward(a, z, layer.activation, slope, batch, out);
}

template <typename T>
void dense_forward(T* z, T* a, const T* input, const T* weights, const T* bias, const DenseLayer& layer, int batch) {
  if (batch != 1 || static_cast<long>(layer.in) * layer.out > kRowPathWeights)
    return dense_forward_batch(z, a, input, weights, bias, layer, batch);
  dense_forward_row_cloned(z, input, weights, bias, layer.in, layer.out);
  activation_forward(a, z, layer.activation, static_cast<T>(layer.slope), batch, layer.out);
}

// A block (rows, cols) of grad, the input gradient (B, IN) with row stride `stride`, becomes dL/dz of the
// layer below. Element-wise activations only (the caller keeps softmax for whole rows).
template <typename T>
void apply_chain(T* grad, const InputChain<T>& chain, std::size_t offset, int rows, int cols, int stride) {
  // Whole rows are one stretch: one pass, where a table's small layers paid a call a row.
  if (cols == stride) {
    cols *= rows;
    rows = 1;
  }
  for (int r = 0; r < rows; ++r) {
    const std::size_t o = offset + static_cast<std::size_t>(r) * stride;
    T* g = grad + o;
    // d(a * mask)/da = mask: the gradient reaches only the kept units, scaled like them.
    if (chain.mask != nullptr)
      for (int c = 0; c < cols; ++c) g[c] *= chain.mask[o + c];
    activation_backward(g, chain.z + o, chain.a + o, g, chain.activation, chain.slope, 1, cols);
  }
}

// The same over the whole of grad (B, IN), softmax included.
template <typename T>
void apply_chain(T* grad, const InputChain<T>& chain, int batch, int in) {
  if (chain.activation != Activation::softmax) return apply_chain(grad, chain, 0, batch, in, in);
  if (chain.mask != nullptr)
    for (std::size_t i = 0; i < static_cast<std::size_t>(batch) * in; ++i) grad[i] *= chain.mask[i];
  activation_backward(grad, chain.z, chain.a, grad, chain.activation, chain.slope, batch, in);
}

template <typename T>
void apply_input_chain(T* grad, const InputChain<T>& chain, int batch, int in) {
  apply_chain(grad, chain, batch, in);
}
template void apply_input_chain<float>(float*, const InputChain<float>&, int, int);
template void apply_input_chain<double>(double*, const InputChain<double>&, int, int);

// rows (rows, columns; row stride `stride`) of a weight gradient computed on u = x / s become those of
// (x - m) / s: each row i loses shift[i] * grad_bias (fold_input_shift in dense.hpp).
template <typename T>
void unshift_rows_loop(T* __restrict grad_weights, const T* __restrict grad_bias, const T* __restrict shift,
                       int rows, int columns, int stride) {
  for (int i = 0; i < rows; ++i) {
    const T s = shift[i];
    if (s == T(0)) continue;  // takes exactly nothing off
    T* __restrict row = grad_weights + static_cast<std::size_t>(i) * stride;
    for (int o = 0; o < columns; ++o) row[o] -= s * grad_bias[o];
  }
}

template <typename T>
void unshift_rows(T* grad_weights, const T* grad_bias, const T* shift, int rows, int columns, int stride) {
  clones::run<&unshift_rows_loop<T>>(grad_weights, grad_bias, shift, rows, columns, stride);
}

// The batch path of dense_backward: the products on the pool, with the element-wise work in their blocks.
// Kept out of line so that the one-row path stays small (docs/performance.md, "Measurements behind the code").
template <typename T>
[[gnu::noinline]] bool dense_backward_batch(T* grad_weights, T* grad_bias, T* grad_input, const T* input,
                                            const T* dz, const T* weights, const DenseLayer& layer, int batch,
                                            const InputChain<T>* chain, const T* shift) {
  const int in = layer.in;
  const int out = layer.out;
  // grad_weights = input^T . dz; the blocks of its first rows also sum their columns of dz into grad_bias
  // (each column summed in row order, as kernels::column_sums does). Each block then looks for a value that is
  // not finite in what it wrote, while that is still in cache: the step's check before its update costs no
  // pass over the gradient arena of its own.
  // With an input shift (fold_input_shift) every block also takes shift^T grad_bias off its rows, so the bias
  // gradient is summed first, by the same column_sums.
  std::atomic<bool> finite{true};
  if (shift != nullptr) kernels::column_sums(grad_bias, dz, batch, out, out);
  const auto bias_sums = [&](const kernels::Block& block) {
    T* bias_block = grad_bias + block.first_column;
    if (block.first_row == 0 && shift == nullptr)
      kernels::column_sums(bias_block, dz + block.first_column, batch, block.columns, out);
    if (shift != nullptr)
      unshift_rows(grad_weights + static_cast<std::size_t>(block.first_row) * out + block.first_column, bias_block,
                   shift + block.first_row, block.rows, block.columns, out);
    const kernels::Bits<T> largest = std::max(
        kernels::largest_magnitude(grad_weights + static_cast<std::size_t>(block.first_row) * out + block.first_column,
                                   block.rows, block.columns, out),
        block.first_row == 0 ? kernels::largest_magnitude(bias_block, static_cast<std::size_t>(block.columns))
                             : kernels::Bits<T>(0));
    if (largest >= kernels::kInfinityBits<T>) finite.store(false, std::memory_order_relaxed);
  };
  const kernels::BlockTask bias_task = bias_sums;
  // grad_input = dz . W^T, each block then through the layer below's mask and f' (softmax, whose
  // derivative couples a whole row, afterwards; it is only ever the last layer, so never happens here).
  const bool by_blocks = chain != nullptr && chain->activation != Activation::softmax;
  const auto chain_block = [&](const kernels::Block& block) {
    if (by_blocks)
      apply_chain(grad_input, *chain, static_cast<std::size_t>(block.first_row) * in + block.first_column,
                  block.rows, block.columns, in);
  };
  const kernels::BlockTask chain_task = chain_block;
  // The two products read dz and write different buffers: one job on the pool, one wait.
  const kernels::GemmCall<T> products[] = {
      {Transpose::yes, Transpose::no, in, out, batch, T(1), input, in, dz, out, T(0), grad_weights, out, &bias_task},
      {Transpose::no, Transpose::yes, batch, in, out, T(1), dz, out, weights, out, T(0), grad_input, in, &chain_task}};
  kernels::gemm_together(products, grad_input != nullptr ? 2 : 1);
  if (chain != nullptr && !by_blocks) apply_chain(grad_input, *chain, batch, in);
  return finite.load();
}

template <typename T>
bool dense_backward(T* grad_weights, T* grad_bias, T* grad_input, const T* input, const T* dz, const T* weights,
                    const DenseLayer& layer, int batch, const InputChain<T>* chain, const T* shift) {
  if (grad_input == nullptr) chain = nullptr;
  if (batch != 1 || static_cast<long>(layer.in) * layer.out > kRowPathWeights)
    return dense_backward_batch(grad_weights, grad_bias, grad_input, input, dz, weights, layer, batch, chain, shift);
  dense_backward_row_cloned(grad_weights, grad_bias, grad_input, input, dz, weights, layer.in, layer.out);
  if (shift != nullptr) unshift_rows(grad_weights, grad_bias, shift, layer.in, layer.out, layer.out);
  const bool finite = std::max(kernels::largest_magnitude(grad_weights, static_cast<std::size_t>(layer.in) * layer.out),
                               kernels::largest_magnitude(grad_bias, static_cast<std::size_t>(layer.out))) <
                      kernels::kInfinityBits<T>;
  if (chain == nullptr) return finite;
  if (chain->mask != nullptr)
    for (int i = 0; i < layer.in; ++i) grad_input[i] *= chain->mask[i];
  activation_backward(grad_input, chain->z, chain->a, grad_input, chain->activation, chain->slope, 1, layer.in);
  return finite;
}

template <typename T>
void fold_input_shift_loop(T* __restrict folded_bias, const T* __restrict bias, const T* __restrict weights,
                           const T* __restrict shift, int in, int out) {
  for (int o = 0; o < out; ++o) folded_bias[o] = T(0);
  for (int i = 0; i < in; ++i) {
    const T s = shift[i];
    if (s == T(0)) continue;  // adds exactly zero
    const T* __restrict row = weights + static_cast<std::size_t>(i) * out;
    for (int o = 0; o < out; ++o) folded_bias[o] += s * row[o];
  }
  for (int o = 0; o < out; ++o) folded_bias[o] = bias[o] - folded_bias[o];
}

template <typename T>
void fold_input_shift(T* folded_bias, const T* bias, const T* weights, const T* shift, int in, int out) {
  clones::run<&fold_input_shift_loop<T>>(folded_bias, bias, weights, shift, in, out);
}

// The dense layer's cases of the general CPU step (CpuLayer<K>, nn/layer_walk.hpp), layer l of network: its first
// values (the spec's, else the initializer's draws from random, through drawn, and zero biases); its forward into
// the workspace (with the first layer's folded input shift, and its dropout when the workspace's is active, masks
// drawn from *dropout); its backward into the gradient arena.
template <typename T>
void CpuLayer<LayerKind::dense>::initialize(Network<T>& network, std::size_t l, Random& random,
                                            std::vector<double>& drawn) {
  const LayerSpec& layer_spec = network.spec().layers[l];
  const DenseLayer& layer = network.layer(l);
  const std::vector<double>* weights = &layer_spec.weights;
  if (weights->empty()) {
    // In double, so that a float and a double network of one spec start from the same values.
    initialize_weights(drawn, layer_spec.initializer.value_or(network.spec().initializer), layer_spec.activation,
                       layer.in, layer.out, random);
    weights = &drawn;
  }
  starting_values(network.weights(l), *weights, 0.0);
  starting_values(network.bias(l), layer_spec.bias, 0.0);
}

// count units' dropout: each one's mask from its draw (Random::bits53) against p's (bits53_below), and the
// activation through it. Compiled for each CPU level: the baseline's SSE2 has no 64-bit compare to vectorise it.
template <typename T>
void dropout_loop(T* __restrict mask, T* __restrict dropped, const T* __restrict a, const std::uint64_t* __restrict draws,
                  std::size_t count, std::uint64_t p_bits, T keep_scale) {
  for (std::size_t i = 0; i < count; ++i) {
    mask[i] = math::dropout_mask(draws[i], p_bits, keep_scale);
    dropped[i] = a[i] * mask[i];
  }
}

template <typename T>
void CpuLayer<LayerKind::dense>::forward(const Network<T>& network, Workspace<T>& workspace, std::size_t l,
                                         const T* input, int batch, Random* dropout, bool) {
  const DenseLayer& layer = network.layer(l);
  const T* weights = network.weights(l).data();
  const T* bias = network.bias(l).data();
  if (l == 0 && workspace.input_shift() != nullptr) {
    fold_input_shift(workspace.folded_bias(), bias, weights, workspace.input_shift(), layer.in, layer.out);
    bias = workspace.folded_bias();
  }
  dense_forward(workspace.z(l), workspace.a(l), input, weights, bias, layer, batch);
  if (!workspace.dropout_active(l)) return;
  const double p = network.spec().layers[l].dropout;
  const T keep_scale = math::dropout_keep_scale<T>(p);
  const std::size_t n = static_cast<std::size_t>(batch) * layer.out;
  T* mask = workspace.mask(l);
  T* dropped = workspace.dropped(l);
  const T* a = workspace.a(l);
  // Each unit's uniform() as its integer k, compared with p's (Random::bits53_below): the same masks as the
  // doubles gave, drawn a block at a time.
  const std::uint64_t p_bits = Random::bits53_below(p);
  std::uint64_t draws[256];
  for (std::size_t first = 0; first < n; first += std::size(draws)) {
    const std::size_t count = std::min(std::size(draws), n - first);
    dropout->bits53(draws, count);
    clones::run<&dropout_loop<T>>(mask + first, dropped + first, a + first, draws, count, p_bits, keep_scale);
  }
}

template <typename T>
bool CpuLayer<LayerKind::dense>::backward(Network<T>& network, Workspace<T>& workspace, std::size_t l,
                                          const LayerBelow<T>& below, int batch) {
  return dense_backward(network.weight_gradients(l).data(), network.bias_gradients(l).data(), below.grad_input,
                        below.input, std::as_const(workspace).delta(l), std::as_const(network).weights(l).data(),
                        network.layer(l), batch, below.chain_or_null(), l == 0 ? workspace.input_shift() : nullptr);
}

#define BACKPROP_DENSE_LAYER(T)                                                                                 \
  template void CpuLayer<LayerKind::dense>::initialize<T>(Network<T>&, std::size_t, Random&, std::vector<double>&); \
  template void CpuLayer<LayerKind::dense>::forward<T>(const Network<T>&, Workspace<T>&, std::size_t, const T*, int,  \
                                                       Random*, bool);                                               \
  template bool CpuLayer<LayerKind::dense>::backward<T>(Network<T>&, Workspace<T>&, std::size_t, const LayerBelow<T>&, \
                                                        int);
BACKPROP_DENSE_LAYER(float)
BACKPROP_DENSE_LAYER(double)
#undef BACKPROP_DENSE_LAYER
template void fold_input_shift<float>(float*, const float*, const float*, const float*, int, int);
template void fold_input_shift<double>(double*, const double*, const double*, const double*, int, int);
template void dense_forward<float>(float*, float*, const float*, const float*, const float*, const DenseLayer&, int);
template void dense_forward<double>(double*, double*, const double*, const double*, const double*, const DenseLayer&,
                                    int);
template bool dense_backward<float>(float*, float*, float*, const float*, const float*, const float*,
                                    const DenseLayer&, int, const InputChain<float>*, const float*);
template bool dense_backward<double>(double*, double*, double*, const double*, const double*, const double*,
                                     const DenseLayer&, int, const InputChain<double>*, const double*);

// A dense entry's part of the network's description (nn/layer_spec_part.hpp): weights (IN, OUT) and bias (OUT).
std::vector<LayerArray> detail::LayerSpecPart<LayerKind::dense>::arrays(const LayerSpec& layer, int in) {
  const auto out = static_cast<std::size_t>(layer.units);
  return {{weights_of, static_cast<std::size_t>(in) * out, "weights", true, out}, {bias_of, out, "bias", true}};
}

std::vector<LayerField> detail::LayerSpecPart<LayerKind::dense>::fields(const NetworkSpec& spec, std::size_t l) {
  const LayerSpec& layer = spec.layers[l];
  std::vector<LayerField> fields{{"units", layer.units}, {"activation", to_string(layer.activation)}};
  if (layer.activation == Activation::leaky_relu) fields.push_back({"slope", layer.slope});
  fields.push_back({"dropout", layer.dropout});
  return fields;
}

void detail::LayerSpecPart<LayerKind::dense>::validate(const NetworkSpec& spec, std::size_t l,
                                                       const std::string& where) {
  const LayerSpec& layer = spec.layers[l];
  if (layer.activation == Activation::softmax && l + 1 != spec.layers.size())
    throw_bad_input(where + ".activation: softmax is allowed only in the last layer");
  // One unit's softmax is exp(z) / exp(z) = 1 whatever z: its gradient is 0 and no loss can learn from it.
  if (layer.activation == Activation::softmax && layer.units == 1)
    throw_bad_input(where + ".units: expected at least 2 units for softmax (one unit's softmax is always 1, so "
                            "nothing can be learnt; for two classes use one sigmoid unit with bce), got 1");
  if (!std::isfinite(layer.slope)) throw_bad_input(where + ".slope: expected a finite number");
  if (!(layer.dropout >= 0.0 && layer.dropout < 1.0))
    throw_bad_input(where + ".dropout: expected a probability in [0, 1)");
  if (layer.initializer && !(layer.initializer->scale > 0.0 && std::isfinite(layer.initializer->scale)))
    throw_bad_input(where + ".initializer.scale: expected a positive number");
  const std::size_t in = static_cast<std::size_t>(spec.layer_input(l));
  const std::size_t out = static_cast<std::size_t>(layer.units);
  if (!layer.weights.empty() && layer.weights.size() != in * out)
    throw_bad_input(where + ".weights: expected " + std::to_string(in) + " rows of " + std::to_string(out) +
                    " numbers (IN x OUT)");
  if (!layer.bias.empty() && layer.bias.size() != out)
    throw_bad_input(where + ".bias: expected " + std::to_string(out) + " numbers, got " +
                    std::to_string(layer.bias.size()));
  if (!all_finite(layer.weights)) throw_bad_input(where + ".weights: expected finite numbers");
  if (!all_finite(layer.bias)) throw_bad_input(where + ".bias: expected finite numbers");
}

}  // namespace backprop
