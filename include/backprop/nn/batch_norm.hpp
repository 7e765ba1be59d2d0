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
#pragma once

#include <cstddef>
#include <vector>

#include "backprop/nn/dense.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {

// Where a batch_norm keeps what its backward reads: xhat (B, F) and s = 1 / sqrt(var + eps) (F).
template <typename T>
struct BatchNormSaved {
  T* xhat = nullptr;
  T* inv_std = nullptr;
};

// y (B, F) from x (B, F) with the batch's statistics, updating running_mean and running_var (F each).
template <typename T>
void batch_norm_forward_training(T* y, BatchNormSaved<T> saved, const T* x, const T* scale, const T* shift,
                                 T* running_mean, T* running_var, const DenseLayer& layer, int batch);
// y (B, F) from x (B, F) with the running statistics.
template <typename T>
void batch_norm_forward_evaluation(T* y, const T* x, const T* scale, const T* shift, const T* running_mean,
                                   const T* running_var, const DenseLayer& layer, int batch);
// The gradients of scale and shift (OVERWRITTEN), and grad_input = dL/dx (B, F) passed through the chain of the
// entry below (its dropout mask and activation: the layer below's dL/dz), unless grad_input is null (first
// entry). Returns whether the scale's and shift's gradients are finite.
template <typename T>
bool batch_norm_backward(T* grad_scale, T* grad_shift, T* grad_input, const T* dy, BatchNormSaved<const T> saved,
                         const T* scale, const DenseLayer& layer, int batch, const InputChain<T>* chain);

// The same function in evaluation without batch_norm entries: each is an affine map x s + t per feature
// (s = scale / sqrt(running_var + eps), t = shift - running_mean s), folded into the dense layer after it:
// W'[i][o] = s_i W[i][o], b'[o] = b[o] + sum_i t_i W[i][o] (for an export with dense layers only; equal up to
// float rounding). spec's entries must hold their parameters. from[k]: the entry of spec whose input the
// folded layer k reads (a batch_norm's, where one was folded into it).
NetworkSpec fold_batch_norms(const NetworkSpec& spec, std::vector<std::size_t>* from = nullptr);

}  // namespace backprop
