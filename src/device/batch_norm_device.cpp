// A batch_norm on a device (DevicePart<batch_norm>, device_network.hpp): nn/batch_norm.cpp's normalization as one
// launch each way. Its workspace parts (nn/network.hpp's Workspace alike): z holds xhat, a its output y, delta
// dL/dy, and mask (a batch_norm has no dropout) 1 / sqrt(var + eps) in its first OUT values. Training uses the
// batch's statistics and moves the running ones (statistics: running mean (OUT), then running variance (OUT));
// evaluation uses the running ones.
#include "device/device_network.hpp"
#include "kernels/cuda/batch_norm_kernels.hpp"

namespace backprop {

void DevicePart<LayerKind::batch_norm>::forward(const DeviceLayerPass& pass) {
  const DenseLayer& layer = pass.layer;
  auto& launches = kernels::layer_kernels<LayerKind::batch_norm>(pass.backend);
  float* mean = pass.statistics;
  float* variance = mean + layer.out;
  if (pass.training)
    launches.training(pass.a, pass.z, pass.mask, mean, variance, pass.input, pass.weights, pass.bias, pass.batch,
                      layer.out, layer.batch_norm.momentum, layer.batch_norm.eps);
  else
    launches.evaluation(pass.a, pass.input, pass.weights, pass.bias, mean, variance, pass.batch, layer.out,
                        layer.batch_norm.eps);
}

void DevicePart<LayerKind::batch_norm>::backward(const DeviceLayerPass& pass) {
  kernels::layer_kernels<LayerKind::batch_norm>(pass.backend)
      .backward(pass.grad_weights, pass.grad_bias, pass.grad_input, pass.delta, pass.z, pass.mask, pass.weights,
                pass.batch, pass.layer.out);
}

}  // namespace backprop
