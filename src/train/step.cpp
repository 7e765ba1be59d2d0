// make_step, the one place that chooses a training step (step.hpp), and what the steps share: the metric
// sums of a batch and the cause of a divergence.
#include "train/step.hpp"

#include <algorithm>
#include <cmath>

#include "backprop/dist/communicator.hpp"
#include "backprop/base/error.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/batch_rows.hpp"
#include "train/row_step.hpp"
#include "dist/gradient_reducer.hpp"

namespace backprop {

namespace {

// The fewest rows of a training batch (nn/batch_rows.hpp): every batch, the last one included, must have them.
// A kind that asks for more than one row has training statistics that span the batch, computed over the whole
// batch wherever it trains (docs/distributed.md): one process, a device and --deterministic compute the whole
// batch (with --deterministic every rank does); the plain way under mpirun adds the ranks' sums (the sync that the
// plain reducer sets on the network), so every rank needs a row of every batch.
void check_batch_rows(const FewestBatchRows& fewest, const Dataset& data, int batch_size,
                      const TrainingParallelism& parallelism, bool distributed) {
  const std::size_t last = data.rows % static_cast<std::size_t>(batch_size);
  const auto leaves = [&](std::size_t rows) {
    return std::to_string(data.rows) + " training rows in batches of " + std::to_string(batch_size) +
           " leave a batch of " + std::to_string(rows) + (rows == 1 ? " row" : " rows");
  };
  const auto fewest_rows = static_cast<std::size_t>(fewest.rows), size = static_cast<std::size_t>(batch_size);
  if (size < fewest_rows || (last > 0 && last < fewest_rows))
    throw_bad_input(fewest.expected(" in every batch") + ", but " + leaves(size < fewest_rows ? size : last) +
                    "; change the batch size");
  const int ranks = distributed ? parallelism.communicator->size() : 1;
  if (fewest.spans_batch() && distributed && !parallelism.deterministic &&
      (batch_size < ranks || (last > 0 && last < static_cast<std::size_t>(ranks))))
    throw_bad_input(std::string(layer_kind_entry(fewest.kind).name) +
                    " under mpirun: expected at least one row per rank in every batch (" + std::to_string(ranks) +
                    " ranks), but " + leaves(batch_size < ranks ? batch_size : last) +
                    "; change the batch size or the number of ranks");
}

}  // namespace

std::unique_ptr<Step> make_step(Network<float>& network, Optimizer<float>& optimizer, const Dataset& data,
                                const Scaling& scaling, int batch_size, const TrainingParallelism& parallelism,
                                Random& dropout_random) {
  const bool distributed = parallelism.communicator != nullptr && parallelism.communicator->size() > 1;
  check_batch_rows(fewest_batch_rows(network.spec()), data, batch_size, parallelism, distributed);
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

namespace {

bool finite(std::span<const float> values) {
  return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
}

// The first layer (1-based) whose weights and bias in arena (the parameter or the gradient arena) are not all
// finite; 0 when every one is.
std::size_t first_layer_not_finite(const Network<float>& network, std::span<const float> arena) {
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    const DenseLayer& layer = network.layer(l);
    if (!finite(arena.subspan(layer.weights_offset, layer.bias_offset + layer.out - layer.weights_offset)))
      return l + 1;
  }
  return 0;
}

}  // namespace

std::string divergence_cause(const Network<float>& network, double loss, const LayerOutputs& outputs) {
  const std::size_t layers = network.layer_count();
  // A step whose loss or gradient is not finite skips its update, so parameters that are not finite were made
  // so by the step's own update (each earlier one was checked).
  if (const std::size_t l = first_layer_not_finite(network, network.parameters()))
    return "the update made the parameters of layer " + std::to_string(l) + " not finite";
  if (!std::isfinite(loss)) {
    std::string what = "the loss is " + std::to_string(loss) + " at layer ";
    for (std::size_t l = 0; outputs && l < layers; ++l)
      if (const auto values = outputs(l); !values.empty() && !finite(values))
        return what + std::to_string(l + 1) + ": its outputs are not finite";
    return what + std::to_string(layers) + ", the output layer";
  }
  if (const std::size_t l = first_layer_not_finite(network, network.gradients()))
    return "the gradient of layer " + std::to_string(l) + " is not finite";
  return "a value is not finite";
}

bool parameters_finite(const Network<float>& network) {
  const auto parameters = network.parameters();
  return kernels::all_finite(parameters.data(), parameters.size());
}

}  // namespace backprop
