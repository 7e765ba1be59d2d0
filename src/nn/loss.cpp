#include "backprop/nn/loss.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace backprop {

template <typename T>
T loss_value(LossKind loss, const T* z, const T* a, const T* y, int batch, int outputs) {
  const std::size_t n = static_cast<std::size_t>(batch) * outputs;
  // Sum in double whatever T is: the loss is a printed metric, and a float sum over a large batch
  // loses digits for nothing.
  double sum = 0;
  switch (loss) {
    case LossKind::mse:
      for (std::size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(a[i]) - y[i];
        sum += d * d;
      }
      return static_cast<T>(sum / (2.0 * batch));
    case LossKind::bce:
      for (std::size_t i = 0; i < n; ++i) {
        const double zi = z[i];
        sum += std::max(zi, 0.0) - zi * y[i] + std::log1p(std::exp(-std::abs(zi)));
      }
      return static_cast<T>(sum / batch);
    case LossKind::softmax_ce:
      for (int r = 0; r < batch; ++r) {
        const T* zr = z + static_cast<std::size_t>(r) * outputs;
        const T* yr = y + static_cast<std::size_t>(r) * outputs;
        const double max = *std::max_element(zr, zr + outputs);
        double exp_sum = 0;
        for (int o = 0; o < outputs; ++o) exp_sum += std::exp(zr[o] - max);
        const double log_sum_exp = max + std::log(exp_sum);
        for (int o = 0; o < outputs; ++o) sum += yr[o] * (log_sum_exp - zr[o]);
      }
      return static_cast<T>(sum / batch);
  }
  return T(0);
}

template <typename T>
void loss_backward(T* dz, LossKind loss, const T* z, const T* a, const T* y, const DenseLayer& output_layer,
                   int batch) {
  const std::size_t n = static_cast<std::size_t>(batch) * output_layer.out;
  const T inverse_batch = T(1) / static_cast<T>(batch);
  if (loss == LossKind::softmax_ce) {
    // dL/dz_o = (a_o sum_j y_j - y_o) / B, which is (a - y) / B when the row of y sums to 1 (one-hot).
    const int outputs = output_layer.out;
    for (int r = 0; r < batch; ++r) {
      const std::size_t o = static_cast<std::size_t>(r) * outputs;
      T y_sum = 0;
      for (int c = 0; c < outputs; ++c) y_sum += y[o + c];
      for (int c = 0; c < outputs; ++c) dz[o + c] = (a[o + c] * y_sum - y[o + c]) * inverse_batch;
    }
    return;
  }
  for (std::size_t i = 0; i < n; ++i) dz[i] = (a[i] - y[i]) * inverse_batch;
  // bce: (a - y) / B is already dL/dz. mse: it is dL/da; chain through f'.
  if (loss == LossKind::mse) {
    activation_backward(dz, z, a, dz, output_layer.activation, static_cast<T>(output_layer.slope), batch,
                        output_layer.out);
  }
}

template float loss_value<float>(LossKind, const float*, const float*, const float*, int, int);
template double loss_value<double>(LossKind, const double*, const double*, const double*, int, int);
template void loss_backward<float>(float*, LossKind, const float*, const float*, const float*, const DenseLayer&,
                                   int);
template void loss_backward<double>(double*, LossKind, const double*, const double*, const double*,
                                    const DenseLayer&, int);

}  // namespace backprop
