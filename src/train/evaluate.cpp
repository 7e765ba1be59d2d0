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

namespace {

// forward_batches on the CPU, in buffers of at least batch_size rows.
void forward_batches_in(const Network<float>& network, const Dataset& data, const Scaling& scaling, int batch_size,
                        PassBuffers& buffers, TaskRef<std::size_t, std::size_t, const Workspace<float>&> on_batch) {
  for (std::size_t start = 0; start < data.rows; start += batch_size) {
    const std::size_t count = std::min<std::size_t>(batch_size, data.rows - start);
    std::iota(buffers.indices.begin(), buffers.indices.begin() + count, start);
    data.gather_rows(buffers.x.data(), buffers.indices.data(), count, scaling);
    network.forward(buffers.workspace, buffers.x.data(), static_cast<int>(count));
    on_batch(start, count, buffers.workspace);
  }
}

// evaluate on the CPU, in buffers of at least batch_size rows.
Metrics evaluate_in(const Network<float>& network, const Dataset& data, const Scaling& scaling, int batch_size,
                    PassBuffers& buffers, EvaluatedLoss loss) {
  const int outputs = network.output_size();
  const bool classification = data.task == TaskKind::classification;
  const double label_smoothing = loss == EvaluatedLoss::training_objective ? network.label_smoothing() : 0.0;
  MetricSums sums;
  forward_batches_in(network, data, scaling, batch_size, buffers,
                     [&](std::size_t start, std::size_t count, const Workspace<float>& workspace) {
                       data.gather_targets(buffers.y.data(), buffers.indices.data(), count, outputs);
                       const double batch_loss =
                           network.loss_value(workspace, buffers.y.data(), static_cast<int>(count), label_smoothing);
                       add_rows(sums, network.output(workspace), buffers.y.data(),
                                classification ? data.labels.data() + start : nullptr, count, outputs, batch_loss,
                                classification);
                     });
  return metrics_of(sums, classification);
}

// The batch of a pass: no larger than the rows, so that the validation pass of a small table works in a
// workspace of its rows, not of a batch of kEvaluationBatchSize its rows never fill.
int pass_batch(int batch_size, std::size_t rows) {
  return static_cast<int>(std::min<std::size_t>(batch_size, std::max<std::size_t>(rows, 1)));
}

}  // namespace

PassBuffers::PassBuffers(const Network<float>& network, const Dataset& data, int batch_size)
    : workspace(network, batch_size),
      x(static_cast<std::size_t>(batch_size) * data.features),
      y(static_cast<std::size_t>(batch_size) * network.output_size()),
      indices(static_cast<std::size_t>(batch_size)) {}

void forward_batches(const Network<float>& network, const Dataset& data, const Scaling& scaling, int batch_size,
                     TaskRef<std::size_t, std::size_t, const Workspace<float>&> on_batch,
                     kernels::DeviceBackend* device) {
  batch_size = pass_batch(batch_size, data.rows);
  if (device == nullptr) {
    PassBuffers buffers(network, data, batch_size);
    return forward_batches_in(network, data, scaling, batch_size, buffers, on_batch);
  }
  Workspace<float> workspace(network, batch_size);
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
}

Metrics evaluate(const Network<float>& network, const Dataset& data, const Scaling& scaling, int batch_size,
                 kernels::DeviceBackend* device, EvaluatedLoss loss) {
  if (device != nullptr) {
    DeviceNetwork device_network(*device, network, batch_size);
    const DeviceDataset device_data(*device, data, scaling, network.output_size());
    const double label_smoothing = loss == EvaluatedLoss::training_objective ? network.label_smoothing() : 0.0;
    return metrics_of(device_pass(device_network, device_data, label_smoothing),
                      data.task == TaskKind::classification);
  }
  batch_size = pass_batch(batch_size, data.rows);
  PassBuffers buffers(network, data, batch_size);
  return evaluate_in(network, data, scaling, batch_size, buffers, loss);
}

Metrics ValidationPass::evaluate(const Network<float>& network, const Dataset& data, const Scaling& scaling) {
  const int batch_size = pass_batch(kEvaluationBatchSize, data.rows);
  if (!buffers_ || buffers_->indices.size() < static_cast<std::size_t>(batch_size) ||
      buffers_->x.size() < static_cast<std::size_t>(batch_size) * data.features)
    buffers_.emplace(network, data, batch_size);
  return evaluate_in(network, data, scaling, batch_size, *buffers_, EvaluatedLoss::training_objective);
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
