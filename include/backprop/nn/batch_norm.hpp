// Batch normalization of a batch's rows, feature by feature: torch.nn.BatchNorm1d.
//
// Training (batch statistics, B >= 2 rows):
//   mean_j = 1/B sum_r x_rj,   var_j = 1/B sum_r (x_rj - mean_j)^2      (the biased variance)
//   xhat_rj = (x_rj - mean_j) / sqrt(var_j + eps),   y_rj = scale_j xhat_rj + shift_j
//   running_mean_j = (1 - momentum) running_mean_j + momentum mean_j
//   running_var_j  = (1 - momentum) running_var_j + momentum var_j B / (B - 1)   (the unbiased variance)
// Evaluation (running statistics): y_rj = scale_j (x_rj - running_mean_j) / sqrt(running_var_j + eps) + shift_j.
// Backward (training), given dy = dL/dy (B, F), with s_j = 1 / sqrt(var_j + eps):
//   dL/dshift_j = sum_r dy_rj,   dL/dscale_j = sum_r dy_rj xhat_rj
//   dL/dx_rj    = scale_j s_j / B (B dy_rj - dL/dshift_j - xhat_rj dL/dscale_j)
// since every x_rj enters mean_j and var_j too: the last two terms are those paths (Ioffe & Szegedy 2015).
// Sums over rows are taken in double, row by row in order: the same bits for any thread count.
// A batch computed in shares by several processes (data-parallel training under mpirun: the network's BatchSync,
// nn/network.hpp) normalizes with the statistics of the whole batch, as torch's SyncBatchNorm does: each share's
// sums over its rows are added over the shares (sum) between the steps above, so every share sees the batch's
// mean, variance and backward sums, and updates the running statistics alike. The backward sums are added in the
// batch's scale (each share's times its weight()) and its dL/dx returned in the share's.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "backprop/nn/dense.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {

// Where a batch_norm keeps what its backward reads: xhat (B, F) and s = 1 / sqrt(var + eps) (F).
template <typename T>
struct BatchNormSaved {
  T* xhat = nullptr;
  T* inv_std = nullptr;
};

// Entry l's in a network's workspace: xhat in its z, s in its saved values (LayerSettings' saved_count: F).
template <typename T>
BatchNormSaved<T> batch_norm_saved(Workspace<T>& workspace, std::size_t l) {
  return {workspace.z(l), workspace.saved(l).data()};
}
template <typename T>
BatchNormSaved<const T> batch_norm_saved(const Workspace<T>& workspace, std::size_t l) {
  return {workspace.z(l), workspace.saved(l).data()};
}
// Entry l's running mean and running variance (F each): its statistics in the network, in its arrays' order.
template <typename T>
std::span<T> batch_norm_running_mean(const Network<T>& network, std::size_t l) {
  return network.statistics(l).first(static_cast<std::size_t>(network.layer(l).out));
}
template <typename T>
std::span<T> batch_norm_running_var(const Network<T>& network, std::size_t l) {
  return network.statistics(l).last(static_cast<std::size_t>(network.layer(l).out));
}

// mean and variance (F each): the batch's mean and biased variance of x (B, F), feature by feature, as the
// training forward computes them without a sync (the trace shows them).
template <typename T>
void batch_norm_statistics(double* mean, double* variance, const T* x, int features, int batch);
// y (B, F) from x (B, F) with the batch's statistics, updating running_mean and running_var (F each); with a
// sync, the statistics of the whole batch of which these B rows are a share.
template <typename T>
void batch_norm_forward_training(T* y, BatchNormSaved<T> saved, const T* x, const T* scale, const T* shift,
                                 T* running_mean, T* running_var, const DenseLayer& layer, int batch,
                                 BatchSync* sync = nullptr);
// y (B, F) from x (B, F) with the running statistics.
template <typename T>
void batch_norm_forward_evaluation(T* y, const T* x, const T* scale, const T* shift, const T* running_mean,
                                   const T* running_var, const DenseLayer& layer, int batch);
// The gradients of scale and shift (OVERWRITTEN), and grad_input = dL/dx (B, F) passed through the chain of the
// entry below (its dropout mask and activation: the layer below's dL/dz), unless grad_input is null (first
// entry). Returns whether the scale's and shift's gradients are finite.
// With a sync: the scale's and shift's gradients are this share's part (the reducer adds the shares'), and
// grad_input uses the whole batch's sums.
template <typename T>
bool batch_norm_backward(T* grad_scale, T* grad_shift, T* grad_input, const T* dy, BatchNormSaved<const T> saved,
                         const T* scale, const DenseLayer& layer, int batch, const InputChain<T>* chain,
                         BatchSync* sync = nullptr);

// The same function in evaluation without batch_norm entries: each is an affine map x s + t per feature
// (s = scale / sqrt(running_var + eps), t = shift - running_mean s), folded into the dense layer after it:
// W'[i][o] = s_i W[i][o], b'[o] = b[o] + sum_i t_i W[i][o] (for an export with dense layers only; equal up to
// float rounding). spec's entries must hold their parameters. from[k]: the entry of spec whose input the
// folded layer k reads (a batch_norm's, where one was folded into it).
NetworkSpec fold_batch_norms(const NetworkSpec& spec, std::vector<std::size_t>* from = nullptr);

}  // namespace backprop
