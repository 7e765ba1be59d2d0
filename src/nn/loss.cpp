// The losses of loss.hpp over a batch: each row's formula is kernels/math.hpp's (add_loss_row,
// loss_gradient_row), shared with the fused one-row step and the device backends.
#include "backprop/nn/loss.hpp"

#include <algorithm>
#include <cstddef>

#include "backprop/kernels/kernels.hpp"

#include "kernels/math.hpp"

namespace backprop {

namespace {

// Rows per piece of the pool's work: two pieces at batch 128, at most kMostLossPieces. The pieces depend on the
// batch alone, never on the thread count.
constexpr int kLossRows = 64;
constexpr int kMostLossPieces = 64;

int loss_piece_rows(int batch) { return std::max(kLossRows, (batch + kMostLossPieces - 1) / kMostLossPieces); }

}  // namespace

template <typename T>
double weighted_denominator(LossKind loss, const T* weights, int batch) {
  double total = 0;
  if (loss == LossKind::softmax_ce)  // the others' denominator is the row count
    for (int r = 0; r < batch; ++r) total += weights[r];
  return math::weighted_loss_denominator(loss, total, batch);
}

template <typename T>
T loss_value(LossKind loss, double label_smoothing, const T* z, const T* a, const T* y, int batch, int outputs,
             const T* weights) {
  // Sum in double whatever T is: the loss is a printed metric, and a float sum over a large batch
  // loses digits for nothing. A running sum over each piece's rows in row order, the pieces' sums added in
  // order.
  const int rows = loss_piece_rows(batch);
  double sums[kMostLossPieces] = {};
  kernels::parallel_ranges(static_cast<std::size_t>(batch), static_cast<std::size_t>(rows),
                           [&](std::size_t first, std::size_t count) {
                             double sum = 0;
                             for (std::size_t r = first; r < first + count; ++r) {
                               const std::size_t o = r * outputs;
                               if (weights == nullptr)
                                 sum = math::add_loss_row(sum, loss, label_smoothing, z + o, a + o, y + o, outputs);
                               else
                                 sum += weights[r] *
                                        math::add_loss_row(0.0, loss, label_smoothing, z + o, a + o, y + o, outputs);
                             }
                             sums[first / rows] = sum;
                           });
  double sum = 0;
  for (int piece = 0; piece * rows < batch; ++piece) sum += sums[piece];
  if (weights == nullptr) return static_cast<T>(math::loss_total(loss, sum, batch));
  // loss_total's mse 1/2, over the denominator of the weighted mean instead of the rows; rows all of weight
  // 0 (a batch of them) add nothing.
  const double denominator = weighted_denominator(loss, weights, batch);
  return denominator > 0 ? static_cast<T>(math::loss_total(loss, sum, batch) * batch / denominator) : T(0);
}

template <typename T>
void loss_backward(T* dz, LossKind loss, double label_smoothing, const T* z, const T* a, const T* y,
                   const DenseLayer& output_layer, int batch, const T* weights) {
  const int outputs = output_layer.out;
  const T inverse_batch = T(1) / static_cast<T>(batch);
  const double denominator = weights == nullptr ? 0.0 : weighted_denominator(loss, weights, batch);
  const T slope = static_cast<T>(output_layer.slope);
  kernels::parallel_ranges(static_cast<std::size_t>(batch), static_cast<std::size_t>(loss_piece_rows(batch)),
                           [&](std::size_t first, std::size_t count) {
                             for (std::size_t r = first; r < first + count; ++r) {
                               const std::size_t o = r * outputs;
                               // A row's weight scales its gradient as it scales its loss.
                               const T scale = weights == nullptr
                                                   ? inverse_batch
                                                   : math::weighted_row_scale<T>(weights[r], denominator);
                               math::loss_gradient_row(dz + o, loss, label_smoothing, z + o, a + o, y + o, outputs,
                                                       output_layer.activation, slope, scale);
                             }
                           });
}

template float loss_value<float>(LossKind, double, const float*, const float*, const float*, int, int,
                                 const float*);
template double loss_value<double>(LossKind, double, const double*, const double*, const double*, int, int,
                                   const double*);
template void loss_backward<float>(float*, LossKind, double, const float*, const float*, const float*,
                                   const DenseLayer&, int, const float*);
template void loss_backward<double>(double*, LossKind, double, const double*, const double*, const double*,
                                    const DenseLayer&, int, const double*);

}  // namespace backprop
