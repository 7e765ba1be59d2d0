// A dense layer on a device (DevicePart<dense>, device_network.hpp): nn/dense.cpp's forward and backward as the
// backend's products and element-wise launches. Its workspace parts: z = input . W + b, a = f(z); with dropout in
// training, mask and dropped = a * mask (the input of the layer above); delta = dL/dz (written by the loss or by
// the layer above's part, chained through f' by DeviceNetwork).
#include <cstdint>

#include "device/device_network.hpp"

namespace backprop {

using kernels::Transpose;

void DevicePart<LayerKind::dense>::forward(const DeviceLayerPass& pass) {
  const DenseLayer& layer = pass.layer;
  // z = input . W (beta 0), then z += b and a = f(z) in one pass.
  pass.backend.gemm(Transpose::no, Transpose::no, pass.batch, layer.out, layer.in, 1.0f, pass.input, layer.in,
                    pass.weights, layer.out, 0.0f, pass.z, layer.out);
  pass.backend.bias_activation(pass.z, pass.a, pass.bias, pass.batch, layer.out, layer.activation,
                               device_slope(layer));
  if (pass.training && pass.dropout > 0) {
    // A different seed per layer: the layer number mixed into the step's seed.
    const std::uint64_t seed = pass.dropout_seed ^ (0xD1B54A32D192ED03ull * (pass.index + 1));
    pass.backend.dropout(pass.mask, pass.dropped, pass.a, static_cast<std::size_t>(pass.batch) * layer.out,
                         static_cast<float>(pass.dropout), seed);
  }
}

// dW = input^T . delta, db = column sums of delta, d input = delta . W^T (dense.cpp).
void DevicePart<LayerKind::dense>::backward(const DeviceLayerPass& pass) {
  const DenseLayer& layer = pass.layer;
  pass.backend.gemm(Transpose::yes, Transpose::no, layer.in, layer.out, pass.batch, 1.0f, pass.input, layer.in,
                    pass.delta, layer.out, 0.0f, pass.grad_weights, layer.out);
  pass.backend.column_sums(pass.grad_bias, pass.delta, pass.batch, layer.out);
  if (pass.grad_input != nullptr)
    pass.backend.gemm(Transpose::no, Transpose::yes, pass.batch, layer.in, layer.out, 1.0f, pass.delta, layer.out,
                      pass.weights, layer.out, 0.0f, pass.grad_input, layer.in);
}

}  // namespace backprop
