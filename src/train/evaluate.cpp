// Passes without dropout over a data set (trainer.hpp): forward_batches, evaluate, confusion_matrix, on the
// CPU or on a device.
#include <algorithm>
#include <numeric>

#include "kernels/device.hpp"
#include "device/device_network.hpp"
#include "kernels/math.hpp"
#include "train/step.hpp"

namespace backprop {

int predicted_class(const float* outputs, int output_count) { return math::predicted_class(outputs, output_count); }

int predicted_class(const float* outputs, int output_count, std::optional<double> threshold) {
  if (!threshold) return predicted_class(outputs, output_count);
  return outputs[output_count - 1] >= *threshold ? 1 : 0;
}

void forward_batches(const Network<float>& network, const Dataset& data, const Scaling& scaling, int batch_size,
                     TaskRef<std::size_t, std::size_t, const Workspace<float>&> on_batch,
                     kernels::DeviceBackend* device) {
  // No larger than the rows: the validation pass of every epoch then zeroes a workspace for its rows, not for a
  // batch of kEvaluationBatchSize that a small table's validation rows never fill.
  batch_size = static_cast<int>(std::min<std::size_t>(batch_size, std::max<std::size_t>(data.rows, 1)));
  Workspace<float> workspace(network, batch_size);
  if (device != nullptr) {
    DeviceNetwork device_network(*device, network, batch_size);
    const DeviceDataset device_data(*device, data, scaling, network.output_size(), /*targets=*/false);
    float* outputs = workspace.a(network.layer_count() - 1);
    for (std::size_t start = 0; start < data.rows; start += batch_size) {
      const int count = static_cast<int>(std::min<std::size_t>(batch_size, data.rows - start));
      device_network.gather(device_data, device_data.in_order(), start, count);
      device_network.forward(count);
      device->download(outputs, device_network.output(),
                       sizeof(float) * static_cast<std::size_t>(count) * network.output_size());
      on_batch(start, static_cast<std::size_t>(count), workspace);
    }
    return;
  }
  std::vector<float> x(static_cast<std::size_t>(batch_size) * data.features);  // (B, IN)
  std::vector<std::size_t> indices(static_cast<std::size_t>(batch_size));
  for (std::size_t start = 0; start < data.rows; start += batch_size) {
    const std::size_t count = std::min<std::size_t>(batch_size, data.rows - start);
    std::iota(indices.begin(), indices.begin() + count, start);
    data.gather_rows(x.data(), indices.data(), count, scaling);
    network.forward(workspace, x.data(), static_cast<int>(count));
    on_batch(start, count, workspace);
  }
}

Metrics evaluate(const Network<float>& network, const Dataset& data, const Scaling& scaling, int batch_size,
                 kernels::DeviceBackend* device, EvaluatedLoss loss) {
  const int outputs = network.output_size();
  const bool classification = data.task == TaskKind::classification;
  const double label_smoothing = loss == EvaluatedLoss::training_objective ? network.label_smoothing() : 0.0;
  if (device != nullptr) {
    DeviceNetwork device_network(*device, network, batch_size);
    const DeviceDataset device_data(*device, data, scaling, outputs);
    return metrics_of(device_pass(device_network, device_data, label_smoothing), classification);
  }
  std::vector<float> y(static_cast<std::size_t>(batch_size) * outputs);  // (B, OUT)
  std::vector<std::size_t> indices(static_cast<std::size_t>(batch_size));
  MetricSums sums;
  forward_batches(network, data, scaling, batch_size,
                  [&](std::size_t start, std::size_t count, const Workspace<float>& workspace) {
                    std::iota(indices.begin(), indices.begin() + count, start);
                    data.gather_targets(y.data(), indices.data(), count, outputs);
                    const double batch_loss =
                        network.loss_value(workspace, y.data(), static_cast<int>(count), label_smoothing);
                    add_rows(sums, network.output(workspace), y.data(),
                             classification ? data.labels.data() + start : nullptr, count, outputs, batch_loss,
                             classification);
                  });
  return metrics_of(sums, classification);
}

std::vector<std::size_t> confusion_matrix(const Network<float>& network, const Dataset& data, const Scaling& scaling) {
  const int outputs = network.output_size();
  const std::size_t classes = data.class_names.size();
  std::vector<std::size_t> confusion(classes * classes, 0);
  forward_batches(network, data, scaling, kEvaluationBatchSize,
                  [&](std::size_t start, std::size_t count, const Workspace<float>& workspace) {
                    for (std::size_t r = 0; r < count; ++r) {
                      const auto predicted = static_cast<std::size_t>(
                          predicted_class(network.output(workspace) + r * outputs, outputs));
                      const auto actual = static_cast<std::size_t>(data.labels[start + r]);
                      if (predicted < classes && actual < classes) ++confusion[actual * classes + predicted];
                    }
                  });
  return confusion;
}

}  // namespace backprop
