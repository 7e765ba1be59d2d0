// make_step, the one place that chooses a training step (step.hpp), and what the steps share: the metric
// sums of a batch and the cause of a divergence.
#include "train/step.hpp"

#include <algorithm>
#include <cmath>

#include "backprop/dist/communicator.hpp"
#include "backprop/base/error.hpp"
#include "train/row_step.hpp"
#include "dist/gradient_reducer.hpp"

namespace backprop {

std::unique_ptr<Step> make_step(Network<float>& network, Optimizer<float>& optimizer, const Dataset& data,
                                const Scaling& scaling, int batch_size, const TrainingParallelism& parallelism,
                                Random& dropout_random) {
  const bool distributed = parallelism.communicator != nullptr && parallelism.communicator->size() > 1;
  if (parallelism.device != nullptr) {
    if (distributed || parallelism.deterministic)
      throw OptionError("device", "a device trains in one process and has no deterministic mode; train on the "
                                  "cpu under mpirun or when deterministic");
    return make_device_step(*parallelism.device, network, optimizer, data, scaling, batch_size);
  }
  // One row per step in one process: the fused step, where it computes what the general one does.
  if (batch_size == 1 && parallelism.row_step && !distributed && !parallelism.deterministic &&
      RowStep::applies(network))
    return make_row_training_step(network, optimizer, data, scaling);
  return make_cpu_step(network, optimizer, data, scaling, batch_size,
                       dist::make_gradient_reducer(network, batch_size, parallelism.communicator,
                                                   parallelism.deterministic),
                       dropout_random);
}

Metrics metrics_of(const MetricSums& sums, bool classification) {
  Metrics m;
  m.rows = static_cast<std::size_t>(sums.rows);
  if (sums.rows == 0) return m;
  m.loss = sums.loss / sums.rows;
  if (classification) {
    m.accuracy = sums.correct / sums.rows;
  } else {
    m.rmse = std::sqrt(sums.squared_error / sums.values);
    m.mae = sums.absolute_error / sums.values;
  }
  return m;
}

std::string divergence_cause(const Network<float>& network, double loss) {
  if (!std::isfinite(loss)) return "the loss is " + std::to_string(loss);
  const auto gradients = network.gradients();
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    const DenseLayer& layer = network.layer(l);
    const auto first = gradients.begin() + static_cast<std::ptrdiff_t>(layer.weights_offset);
    const auto last = gradients.begin() + static_cast<std::ptrdiff_t>(layer.bias_offset + layer.out);
    if (!std::all_of(first, last, [](float g) { return std::isfinite(g); }))
      return "the gradient of layer " + std::to_string(l + 1) + " is not finite";
  }
  return "a value is not finite";
}

}  // namespace backprop
