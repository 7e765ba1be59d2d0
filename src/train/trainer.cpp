#include "backprop/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <string>

#include "../kernels/math.hpp"
#include "backprop/dist/communicator.hpp"
#include "backprop/dist/data_parallel.hpp"
#include "backprop/error.hpp"
#include "backprop/kernels/device.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/device_network.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/optimizer.hpp"
#include "backprop/nn/row_step.hpp"
#include "backprop/nn/schedule.hpp"

namespace backprop {
namespace {

bool is_classification(const Dataset& data) { return data.task == TaskKind::classification; }

// Sums of a pass, turned into Metrics at the end.
struct MetricSums {
  double loss_sum = 0;     // sum over batches of (batch loss x batch rows)
  std::size_t correct = 0;
  double squared_error = 0;
  double absolute_error = 0;
  std::size_t rows = 0;
  std::size_t values = 0;  // rows x outputs, for regression

  void add_batch(const float* outputs, const float* targets, const std::int32_t* labels, std::size_t count,
                 int output_count, double batch_loss, bool classification) {
    loss_sum += batch_loss * static_cast<double>(count);
    rows += count;
    if (classification) {
      for (std::size_t r = 0; r < count; ++r)
        if (predicted_class(outputs + r * output_count, output_count) == labels[r]) ++correct;
    } else {
      const std::size_t n = count * static_cast<std::size_t>(output_count);
      for (std::size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(outputs[i]) - targets[i];
        squared_error += d * d;
        absolute_error += std::abs(d);
      }
      values += n;
    }
  }

  Metrics metrics(bool classification) const {
    Metrics m;
    m.rows = rows;
    if (rows == 0) return m;
    m.loss = loss_sum / static_cast<double>(rows);
    if (classification) {
      m.accuracy = static_cast<double>(correct) / static_cast<double>(rows);
    } else {
      m.rmse = std::sqrt(squared_error / static_cast<double>(values));
      m.mae = absolute_error / static_cast<double>(values);
    }
    return m;
  }
};

// Fisher-Yates with the project's generator, so an order is the same on every platform.
void shuffle(std::vector<std::size_t>& order, Random& random) {
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);
}

std::string divergence_message(const Network<float>& network, double loss, int epoch, std::size_t batch) {
  std::string where = "training diverged at epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch) + ": ";
  if (!std::isfinite(loss)) {
    where += "the loss is " + std::to_string(loss);
  } else {
    for (std::size_t l = 0; l < network.layer_count(); ++l) {
      const DenseLayer& layer = network.layer(l);
      const auto gradients = network.gradients();
      const auto first = gradients.begin() + static_cast<std::ptrdiff_t>(layer.weights_offset);
      const auto last = gradients.begin() + static_cast<std::ptrdiff_t>(layer.bias_offset + layer.out);
      if (!std::all_of(first, last, [](float g) { return std::isfinite(g); })) {
        where += "the gradient of layer " + std::to_string(l + 1) + " is not finite";
        break;
      }
    }
  }
  return where + " (try a smaller learning rate, --clip-grad-norm, or --scale standard)";
}


// Training on a device (TrainingParallelism::device): the data set, the network and the optimizer state
// live there, each step is queued without waiting, and the host reads the sums and the step status only at
// the end of an epoch, for a checkpoint, or now and then for the progress line.
class DeviceRun {
 public:
  DeviceRun(kernels::DeviceBackend& backend, Network<float>& network, Optimizer<float>& optimizer,
            const Dataset& train_data, const Scaling& scaling, int batch_size)
      : data_(backend, train_data, scaling, network.output_size()),
        network_(backend, network, batch_size),
        optimizer_(backend, optimizer),
        order_(backend, train_data.rows),
        sums_(backend, 1),
        status_(backend, 1),
        host_order_(train_data.rows) {}

  void begin_epoch(const std::vector<std::size_t>& order, const MetricSums& sums) {
    std::copy(order.begin(), order.end(), host_order_.begin());
    order_.upload(host_order_.data(), host_order_.size());
    const kernels::DeviceSums start{sums.loss_sum, static_cast<double>(sums.correct), sums.squared_error,
                                    sums.absolute_error};
    sums_.upload(&start, 1);
  }

  void step(std::size_t first, std::size_t count, long step, std::uint64_t seed, double learning_rate, float clip) {
    const int rows = static_cast<int>(count);
    network_.gather(data_, order_.data(), first, rows);
    network_.forward(rows, seed);
    network_.loss_and_gradient(sums_.data(), status_.data(), rows, clip, step);
    optimizer_.step(network_, status_.data(), learning_rate);
  }

  kernels::DeviceSums sums() const {
    kernels::DeviceSums sums;
    sums_.download(&sums, 1);
    return sums;
  }

  // Throws the divergence error (the network then holds the parameters before the step that diverged;
  // the update skipped every step from it on) if a step since the start diverged; first_step is the
  // epoch's first step number.
  void check(Network<float>& network, int epoch, long first_step) {
    kernels::StepStatus status;
    status_.download(&status, 1);
    if (status.diverged == 0) return;
    network_.download_parameters(network);
    const std::string what = status.diverged == 1 ? "the loss is not finite" : "a gradient is not finite";
    throw_runtime_error("training diverged at epoch " + std::to_string(epoch) + ", batch " +
                        std::to_string(status.diverged_step - first_step + 1) + ": " + what +
                        " (try a smaller learning rate, --clip-grad-norm, or --scale standard)");
  }

  // The parameters and the optimizer state into the host objects (checkpoints, early stopping, the end).
  void download(Network<float>& network) {
    network_.download_parameters(network);
    optimizer_.download_state();
  }
  void upload(const Network<float>& network) { network_.upload_parameters(network); }

  DeviceNetwork& network() { return network_; }

 private:
  DeviceDataset data_;
  DeviceNetwork network_;
  DeviceOptimizer optimizer_;
  kernels::DeviceArray<std::uint32_t> order_;
  kernels::DeviceArray<kernels::DeviceSums> sums_;
  kernels::DeviceArray<kernels::StepStatus> status_;
  std::vector<std::uint32_t> host_order_;
};

// Steps between two reads of the running loss for the progress line (each read waits for the device).
constexpr std::size_t kDeviceProgressEvery = 50;

// The dropout seed of a step on a device: never 0 (0 means "no dropout" to DeviceNetwork::forward).
std::uint64_t device_dropout_seed(std::uint64_t seed, long step) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0xA24BAED4963EE407ull * static_cast<std::uint64_t>(step + 1);
  x = (x ^ (x >> 31)) * 0xBF58476D1CE4E5B9ull;
  return (x ^ (x >> 29)) | 1;
}

// The sums of a pass without dropout over every row of data on the device, in batches of the network's
// max_batch (what evaluate() sums on the CPU).
MetricSums device_pass(DeviceNetwork& network, const DeviceDataset& data, bool classification) {
  kernels::DeviceArray<kernels::DeviceSums> device_sums(network.backend(), 1);
  const auto batch = static_cast<std::size_t>(network.max_batch());
  for (std::size_t start = 0; start < data.row_count(); start += batch) {
    const int count = static_cast<int>(std::min(batch, data.row_count() - start));
    network.gather(data, data.in_order(), start, count);
    network.forward(count);
    network.loss(device_sums.data(), count);
  }
  kernels::DeviceSums sums;
  device_sums.download(&sums, 1);
  const std::size_t rows = data.row_count();
  return MetricSums{sums.loss, static_cast<std::size_t>(sums.correct), sums.squared_error, sums.absolute_error, rows,
                    classification ? 0 : rows * static_cast<std::size_t>(network.output_size())};
}

}  // namespace

int predicted_class(const float* outputs, int output_count) { return math::predicted_class(outputs, output_count); }

void forward_batches(const Network<float>& network, const Dataset& data, const Scaling& scaling, int batch_size,
                     kernels::TaskRef<std::size_t, std::size_t, const Workspace<float>&> on_batch,
                     kernels::DeviceBackend* device) {
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
                 kernels::DeviceBackend* device) {
  const int outputs = network.output_size();
  const bool classification = is_classification(data);
  if (device != nullptr) {
    DeviceNetwork device_network(*device, network, batch_size);
    const DeviceDataset device_data(*device, data, scaling, outputs);
    return device_pass(device_network, device_data, classification).metrics(classification);
  }
  std::vector<float> y(static_cast<std::size_t>(batch_size) * outputs);  // (B, OUT)
  std::vector<std::size_t> indices(static_cast<std::size_t>(batch_size));
  MetricSums sums;
  forward_batches(network, data, scaling, batch_size,
                  [&](std::size_t start, std::size_t count, const Workspace<float>& workspace) {
                    std::iota(indices.begin(), indices.begin() + count, start);
                    data.gather_targets(y.data(), indices.data(), count, outputs);
                    const double loss = network.loss_value(workspace, y.data(), static_cast<int>(count));
                    sums.add_batch(network.output(workspace), y.data(),
                                   classification ? data.labels.data() + start : nullptr, count, outputs, loss,
                                   classification);
                  });
  return sums.metrics(classification);
}

std::vector<std::size_t> confusion_matrix(const Network<float>& network, const Dataset& data, const Scaling& scaling) {
  const int outputs = network.output_size();
  const std::size_t classes = data.class_names.size();
  std::vector<std::size_t> confusion(classes * classes, 0);
  forward_batches(network, data, scaling, 256,
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

TrainingResult train(Network<float>& network, const Dataset& train_data, const Dataset* validation,
                     const Scaling& scaling, TrainingObserver* observer, const TrainingCheckpoints* checkpoints,
                     const TrainingParallelism& parallelism) {
  const NetworkSpec& spec = network.spec();
  const TrainingSpec& recipe = spec.training;
  if (train_data.rows == 0) throw_bad_input(train_data.source + ": no rows to train on");
  if (train_data.features != network.input_size())
    throw_bad_input(train_data.source + ": " + std::to_string(train_data.features) +
                    " features per row, but the network has " + std::to_string(network.input_size()) + " inputs");
  if (recipe.early_stopping > 0 && validation == nullptr)
    throw_bad_input("--early-stopping needs validation data (--validation or --validation-split)");

  const int outputs = network.output_size();
  const int batch_size = static_cast<int>(std::min<std::size_t>(recipe.batch_size, train_data.rows));
  const std::size_t batches = (train_data.rows + batch_size - 1) / batch_size;
  const long total_steps = static_cast<long>(batches) * recipe.epochs;
  const bool classification = is_classification(train_data);

  Optimizer<float> optimizer(spec.optimizer, network.parameters().size());
  // Forward, loss and backward of a batch (this rank's share of it, and the reduction, when distributed).
  dist::DataParallelStep data_parallel(network, train_data, scaling, batch_size, parallelism.communicator,
                                       parallelism.deterministic);
  MetricSums* current_sums = nullptr;  // the epoch's, receiving the rows this rank computed
  const auto add_rows_to_sums = [&](const float* out, const float* targets, const std::int32_t* row_labels,
                                   std::size_t rows, double loss) {
    current_sums->add_batch(out, targets, row_labels, rows, outputs, loss, classification);
  };
  const dist::RowsObserver add_rows = add_rows_to_sums;
  // One row per step in one process: the fused step, with the row, its target and its label gathered here.
  // Float rows without scaling, and regression targets, are read where they lie (gather_targets checks
  // the targets' shape once, here); the others are converted into row_x and row_y.
  std::optional<RowStep> row_step;
  std::vector<float> row_x, row_y;
  bool rows_in_place = false, targets_in_place = false;
  if (batch_size == 1 && parallelism.row_step && parallelism.device == nullptr && !data_parallel.distributed() &&
      !parallelism.deterministic && RowStep::applies(network)) {
    row_step.emplace(network, optimizer);
    row_x.resize(static_cast<std::size_t>(train_data.features));
    row_y.resize(static_cast<std::size_t>(outputs));
    const std::size_t first_row = 0;
    train_data.gather_targets(row_y.data(), &first_row, 1, outputs);
    rows_in_place = train_data.features_u8.empty() && scaling.empty();
    targets_in_place = !classification;
  }
  std::vector<std::size_t> order(train_data.rows);
  std::iota(order.begin(), order.end(), std::size_t{0});
  // Two streams from the one seed: the order of rows, and the dropout masks.
  Random order_random(spec.seed * 0x9E3779B97F4A7C15ull + 1);
  Random dropout_random(spec.seed * 0x9E3779B97F4A7C15ull + 2);

  TrainingResult result;
  AlignedVector<float> best_parameters;
  double best_validation_loss = std::numeric_limits<double>::infinity();
  int epochs_without_improvement = 0;
  long step = 0;

  // Checkpoints: the state after a step (batch >= 1) or before an epoch (batch 0), and back.
  auto capture = [&](int epoch, std::size_t batch, const MetricSums& sums, double learning_rate) {
    TrainingState state{epoch, batch, step, order, order_random.state(), dropout_random.state(), learning_rate,
                        sums.loss_sum, sums.squared_error, sums.absolute_error, sums.correct, sums.rows, sums.values,
                        optimizer.step_count(), {}, {best_parameters.begin(), best_parameters.end()},
                        best_validation_loss, epochs_without_improvement, result.history};
    for (const auto arena : optimizer.state()) state.optimizer_state.emplace_back(arena.begin(), arena.end());
    return state;
  };
  const TrainingState* resume = checkpoints ? checkpoints->resume : nullptr;
  MetricSums resumed_sums;
  if (resume != nullptr) {
    auto arenas = optimizer.state();
    bool fits = resume->order.size() == order.size() && resume->optimizer_state.size() == arenas.size() &&
                (resume->best_parameters.empty() || resume->best_parameters.size() == network.parameters().size()) &&
                resume->epoch >= 1 && resume->batch <= batches;
    for (std::size_t i = 0; fits && i < arenas.size(); ++i) fits = resume->optimizer_state[i].size() == arenas[i].size();
    if (!fits) throw_bad_input("the training state to resume does not fit this network and data");
    for (std::size_t i = 0; i < arenas.size(); ++i)
      std::copy(resume->optimizer_state[i].begin(), resume->optimizer_state[i].end(), arenas[i].begin());
    optimizer.set_step_count(resume->optimizer_steps);
    order = resume->order;
    order_random.set_state(resume->order_random);
    dropout_random.set_state(resume->dropout_random);
    step = resume->step;
    resumed_sums = MetricSums{resume->loss_sum, resume->correct, resume->squared_error, resume->absolute_error,
                              resume->rows, resume->values};
    best_parameters.assign(resume->best_parameters.begin(), resume->best_parameters.end());
    best_validation_loss = resume->best_validation_loss;
    epochs_without_improvement = resume->epochs_without_improvement;
    result.history = resume->history;
    if (!result.history.empty()) result.best_epoch = result.history.back().epoch;
  }
  const bool save_every = checkpoints && checkpoints->save && checkpoints->every_steps > 0;
  // On a device the state starts from the host's (resumed or new) and comes back for checkpoints, early
  // stopping and the end.
  std::optional<DeviceRun> device_run;
  std::optional<DeviceDataset> device_validation;
  if (parallelism.device != nullptr) {
    if (data_parallel.distributed() || parallelism.deterministic)
      throw_bad_input("--device cuda trains in one process and has no --deterministic mode; use --device cpu "
                      "under mpirun or with --deterministic");
    device_run.emplace(*parallelism.device, network, optimizer, train_data, scaling, batch_size);
    if (validation != nullptr) device_validation.emplace(*parallelism.device, *validation, scaling, outputs);
  }
  // The device's running sums into an epoch's MetricSums (rows and values are counted on the host).
  const auto absorb = [](MetricSums& sums, const kernels::DeviceSums& device_sums) {
    sums.loss_sum = device_sums.loss;
    sums.correct = static_cast<std::size_t>(device_sums.correct);
    sums.squared_error = device_sums.squared_error;
    sums.absolute_error = device_sums.absolute_error;
  };
  if (observer) observer->on_start(recipe.epochs, batches, train_data.rows);

  for (int epoch = resume ? resume->epoch : 1; epoch <= recipe.epochs; ++epoch) {
    const auto started = std::chrono::steady_clock::now();
    const bool continuing = resume != nullptr && epoch == resume->epoch && resume->batch > 0;
    if (!continuing) shuffle(order, order_random);
    MetricSums sums = continuing ? resumed_sums : MetricSums{};
    // Ranks > 0 leave the resumed sums (rank 0's, from the checkpoint) to rank 0, so they count once.
    if (continuing && parallelism.communicator && parallelism.communicator->rank() > 0) sums = MetricSums{};
    current_sums = &sums;
    double learning_rate = continuing ? resume->learning_rate : spec.optimizer.learning_rate;
    const long epoch_first_step = step - static_cast<long>(continuing ? resume->batch : 0);
    if (device_run) device_run->begin_epoch(order, sums);
    double device_running_loss = sums.rows > 0 ? sums.loss_sum / static_cast<double>(sums.rows) : 0.0;
    for (std::size_t batch = continuing ? resume->batch : 0; batch < batches; ++batch) {
      const std::size_t first = batch * batch_size;
      const std::size_t count = std::min<std::size_t>(batch_size, train_data.rows - first);
      const std::size_t* indices = order.data() + first;
      if (device_run) {
        learning_rate = learning_rate_at(recipe.schedule, spec.optimizer.learning_rate, step, total_steps);
        device_run->step(first, count, step, device_dropout_seed(spec.seed, step), learning_rate,
                         static_cast<float>(recipe.clip_grad_norm));
        ++step;
        sums.rows += count;
        if (!classification) sums.values += count * static_cast<std::size_t>(outputs);
        const bool save_now = save_every && step % checkpoints->every_steps == 0;
        // The host reads the device's sums only for a checkpoint and, now and then, for the progress line.
        if (save_now || (observer && ((batch + 1) % kDeviceProgressEvery == 0 || batch + 1 == batches))) {
          absorb(sums, device_run->sums());
          device_running_loss = sums.loss_sum / static_cast<double>(sums.rows);
        }
        if (save_now) {
          device_run->check(network, epoch, epoch_first_step);
          device_run->download(network);
          checkpoints->save(capture(epoch, batch + 1, sums, learning_rate), network);
        }
        if (observer) observer->on_batch(epoch, batch + 1, batches, device_running_loss);  // as of the last read
        continue;
      }
      // The gradient arena holds the gradient of the whole batch, the same on every rank; loss is this
      // rank's (a loss that is not finite on any rank makes the gradient not finite on all).
      learning_rate = learning_rate_at(recipe.schedule, spec.optimizer.learning_rate, step, total_steps);
      if (row_step) {
        const std::size_t r = indices[0];
        const float* x = train_data.features_f32.data() + r * static_cast<std::size_t>(train_data.features);
        if (!rows_in_place) {
          train_data.gather_rows(row_x.data(), indices, 1, scaling);
          x = row_x.data();
        }
        const float* y = train_data.targets.data() + r * static_cast<std::size_t>(outputs);
        if (!targets_in_place) {
          train_data.gather_targets(row_y.data(), indices, 1, outputs);
          y = row_y.data();
        }
        const RowStep::Result row = row_step->step(x, y, learning_rate);
        sums.add_batch(row_step->output(), y, classification ? &train_data.labels[r] : nullptr, 1, outputs, row.loss,
                       classification);
        if (!row.finite) throw_runtime_error(divergence_message(network, row.loss, epoch, batch + 1));
      } else {
        // The gradient arena holds the gradient of the whole batch, the same on every rank; loss is this
        // rank's (a loss that is not finite on any rank makes the gradient not finite on all).
        const double loss = data_parallel.compute(indices, count, step, dropout_random, add_rows);
        // One pass over the gradient arena gives the norm for clipping and catches divergence before the
        // update, so the network keeps the last finite parameters.
        const bool finite = recipe.clip_grad_norm > 0
                                ? std::isfinite(clip_gradient_norm(network.gradients(), recipe.clip_grad_norm))
                                : kernels::all_finite(network.gradients().data(), network.gradients().size());
        if (!std::isfinite(loss) || !finite)
          throw_runtime_error(divergence_message(network, loss, epoch, batch + 1));
        optimizer.step(network.parameters(), network.gradients(), learning_rate);
      }
      ++step;
      if (save_every && step % checkpoints->every_steps == 0)
        checkpoints->save(capture(epoch, batch + 1, sums, learning_rate), network);
      if (observer) observer->on_batch(epoch, batch + 1, batches, sums.loss_sum / static_cast<double>(sums.rows));
    }
    if (device_run) {
      device_run->check(network, epoch, epoch_first_step);
      absorb(sums, device_run->sums());
    }
    EpochMetrics metrics;
    metrics.epoch = epoch;
    metrics.learning_rate = learning_rate;
    metrics.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    metrics.train = sums.metrics(classification);
    if (data_parallel.distributed()) {  // every rank's rows of the epoch
      double totals[6] = {sums.loss_sum, static_cast<double>(sums.correct), sums.squared_error, sums.absolute_error,
                          static_cast<double>(sums.rows), static_cast<double>(sums.values)};
      parallelism.communicator->sum(totals);
      MetricSums all{totals[0], static_cast<std::size_t>(totals[1]), totals[2], totals[3],
                     static_cast<std::size_t>(totals[4]), static_cast<std::size_t>(totals[5])};
      metrics.train = all.metrics(classification);
    }
    if (validation != nullptr) {
      metrics.has_validation = true;
      metrics.validation = device_run ? device_pass(device_run->network(), *device_validation, classification)
                                            .metrics(classification)
                                      : evaluate(network, *validation, scaling);
    }
    result.history.push_back(metrics);
    if (observer) observer->on_epoch(metrics);

    result.best_epoch = epoch;
    if (recipe.early_stopping > 0) {
      if (metrics.validation.loss < best_validation_loss) {
        best_validation_loss = metrics.validation.loss;
        if (device_run) device_run->download(network);
        best_parameters.assign(network.parameters().begin(), network.parameters().end());
        epochs_without_improvement = 0;
      } else if (++epochs_without_improvement >= recipe.early_stopping) {
        result.stopped_early = epoch < recipe.epochs;
        break;
      }
    }
    if (checkpoints && checkpoints->save && checkpoints->at_epoch_end && epoch < recipe.epochs) {
      if (device_run) device_run->download(network);
      checkpoints->save(capture(epoch + 1, 0, MetricSums{}, spec.optimizer.learning_rate), network);
    }
  }
  if (device_run) device_run->download(network);
  if (recipe.early_stopping > 0 && !best_parameters.empty()) {
    std::copy(best_parameters.begin(), best_parameters.end(), network.parameters().begin());
    result.best_epoch = 0;
    for (const auto& m : result.history)
      if (m.validation.loss == best_validation_loss) {
        result.best_epoch = m.epoch;
        break;
      }
  }
  if (observer) observer->on_finish(result.best_epoch, result.stopped_early);
  return result;
}

}  // namespace backprop
