// Losses. Every loss sums over the outputs and averages over the B rows of the batch. The code of each
// formula, one row at a time, is src/kernels/math.hpp's (add_loss_row, loss_gradient_row).
//   mse        L = 1/(2B) sum_r sum_o (a - y)^2                    dL/da = (a - y) / B
//   bce        L = 1/B sum -(y log a + (1 - y) log(1 - a)), a = sigmoid(z), computed from z:
//              per element max(z, 0) - z y + log(1 + e^-|z|)       dL/dz = (a - y) / B
//   softmax_ce L = 1/B sum_r sum_o -y log a, a = softmax(z), computed from z:
//              per row sum_o y_o (logsumexp(z) - z_o)              dL/dz = (a - y) / B  (rows of y sum to 1)
//              with label smoothing eps (training.label_smoothing, softmax_ce only): y replaced by
//              q = (1 - eps) y + eps / OUT, torch.nn.CrossEntropyLoss(label_smoothing=eps); dL/dz = (a - q) / B
// bce and softmax_ce are fused with their output activation: the output delta comes straight from z and
// a, which is both exact and free of the overflow of log(a) when a rounds to 0 or 1.
#pragma once

#include "backprop/nn/dense.hpp"

namespace backprop {

// Row weights w (B) (class and sample weights, training.class_weight; null: every row 1, the formulas above
// exactly): each row's loss and gradient multiplied by its weight, over the weighted mean's denominator as
// torch defines it: softmax_ce sum_r w_r l_r / sum_r w_r (CrossEntropyLoss(weight=) for class weights), bce
// and mse 1/B sum_r w_r l_r (BCELoss(weight=) with a weight per row; mse keeps its 1/2).

// The loss of a batch, from the output layer's saved z and a (B, OUT) and the targets y (B, OUT);
// label_smoothing in [0, 1), 0 but for softmax_ce.
template <typename T>
T loss_value(LossKind loss, double label_smoothing, const T* z, const T* a, const T* y, int batch, int outputs,
             const T* weights = nullptr);

// dz (B, OUT) = dL/dz of the output layer.
template <typename T>
void loss_backward(T* dz, LossKind loss, double label_smoothing, const T* z, const T* a, const T* y,
                   const DenseLayer& output_layer, int batch, const T* weights = nullptr);

}  // namespace backprop
