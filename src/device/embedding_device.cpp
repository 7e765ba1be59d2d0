// An embedding on a device (DevicePart<embedding>, device_network.hpp): nn/embedding.cpp's lookup and its
// scatter-add, one launch each way (two backward for an entry above another). No activation, no dropout
// (its checks, LayerSpecPart<K>::validate). Its workspace parts: a its output y, delta dL/dy. The codes were checked
// on the host before the first gather (DeviceDataset::check_codes).
#include "device/device_network.hpp"
#include "kernels/cuda/embedding_kernels.hpp"

namespace backprop {

void DevicePart<LayerKind::embedding>::forward(const DeviceLayerPass& pass) {
  const DenseLayer& layer = pass.layer;
  kernels::layer_kernels<LayerKind::embedding>(pass.backend)
      .forward(pass.a, pass.input, pass.weights, pass.batch, layer.in, layer.embedding.column, layer.dim(),
               layer.embedding.categories);
}

void DevicePart<LayerKind::embedding>::backward(const DeviceLayerPass& pass) {
  const DenseLayer& layer = pass.layer;
  kernels::layer_kernels<LayerKind::embedding>(pass.backend)
      .backward(pass.grad_weights, pass.grad_input, pass.input, pass.delta, pass.batch, layer.in,
                layer.embedding.column, layer.dim(), layer.embedding.categories);
}

}  // namespace backprop
