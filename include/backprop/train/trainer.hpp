// The trainer: epochs of shuffled mini-batches over a Dataset, the optimizer and schedule over the
// parameter arena, per-epoch metrics for training and validation, early stopping with restore of the
// best parameters. Progress and logs are observers (progress.hpp), so the loop itself prints nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/base/metric_sums.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {

inline constexpr double kNotApplicable = std::numeric_limits<double>::quiet_NaN();

// Metrics of one pass over a data set. Classification: loss and accuracy; regression: loss, RMSE and MAE
// (over every output of every row). The others are kNotApplicable (NaN, written as null in JSON).
struct Metrics {
  double loss = kNotApplicable;
  double accuracy = kNotApplicable;
  double rmse = kNotApplicable;
  double mae = kNotApplicable;
  std::size_t rows = 0;
};

struct EpochMetrics {
  int epoch = 0;                 // from 1
  double learning_rate = 0.0;    // of the epoch's last step
  double seconds = 0.0;          // wall time of the epoch's training steps
  Metrics train;                 // over the epoch's batches, in training mode (dropout on), as it went
  bool has_validation = false;
  Metrics validation;            // a pass over the validation set after the epoch, dropout off
};

// Receives progress; every method has an empty default.
class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  virtual void on_start(int /*epochs*/, std::size_t /*batches_per_epoch*/, std::size_t /*rows*/) {}
  virtual void on_batch(int /*epoch*/, std::size_t /*batch*/, std::size_t /*batches*/, double /*running_loss*/) {}
  virtual void on_epoch(const EpochMetrics& /*metrics*/) {}
  virtual void on_finish(int /*best_epoch*/, bool /*stopped_early*/) {}
};

struct TrainingResult {
  std::vector<EpochMetrics> history;
  int best_epoch = 0;          // the epoch whose parameters the network holds at the end
  bool stopped_early = false;
};

// Everything the loop needs to continue exactly where it stood; a checkpoint (train/checkpoint.hpp) writes
// it beside the parameters. Taken after a step (batch >= 1: that many batches of `epoch` are done, in the
// order `order`) or between epochs (batch 0: `epoch` has not begun, and `order` is the previous epoch's
// order, which the epoch shuffles first).
struct TrainingState {
  int epoch = 1;                               // from 1
  std::size_t batch = 0;                       // batches of epoch done
  long step = 0;                               // optimizer steps done in all (the schedule's position)
  std::vector<std::size_t> order;              // (rows) the epoch's order of the training rows
  std::string order_random, dropout_random;    // Random::state() of the two streams
  double learning_rate = 0.0;                  // of the epoch's last step so far
  MetricSums sums;                             // the epoch's running metric sums so far (training mode)
  long optimizer_steps = 0;                    // Optimizer::step_count()
  std::vector<std::vector<float>> optimizer_state;  // Optimizer::state(), each (N) like the parameter arena
  // Early stopping.
  std::vector<float> best_parameters;          // (N), or empty before the first validation
  double best_validation_loss = std::numeric_limits<double>::infinity();
  int epochs_without_improvement = 0;
  std::vector<EpochMetrics> history;           // the epochs finished
};

// Checkpoint hooks of train().
struct TrainingCheckpoints {
  // Continue from this state (checked against the network: arena sizes, order length); the network must
  // already hold the state's parameters.
  const TrainingState* resume = nullptr;
  long every_steps = 0;       // call save after every this many optimizer steps (0: never)
  bool at_epoch_end = false;  // and between epochs (not after the last one)
  // Receives the state and the network holding its parameters. Never called for a step that diverged.
  std::function<void(const TrainingState&, const Network<float>&)> save;
};

namespace dist {
class Communicator;
}
namespace kernels {
class DeviceBackend;
}

// Data-parallel training (dist/, docs/distributed.md): every rank calls train() with the same network, data
// and options; each step's batch is split across the ranks and their gradients are summed, so the ranks
// keep identical parameters. deterministic: the model is bit-identical for any number of ranks, a single
// process included (fixed 8-row chunks summed exactly in fixed point; slower).
struct TrainingParallelism {
  dist::Communicator* communicator = nullptr;  // null: this process alone
  bool deterministic = false;
  // Train on this device (kernels/device.hpp, device/device_network.hpp, docs/gpu.md) instead of the CPU: one
  // process, not deterministic. The network receives the parameters at the end (and for checkpoints).
  kernels::DeviceBackend* device = nullptr;
  // At batch size 1 in one process on the CPU (not deterministic), the fused one-row step (train/row_step.hpp)
  // replaces the general forward, loss and backward; both give the same bits. false: always the general path
  // (for the tests that compare the two).
  bool row_step = true;
};

// Whether a training step of spec on `rows` rows (a batch of the spec's batch size, or of every row if fewer) shares
// a dense layer's product out among the pool's threads (kernels::product_shared_out). A training whose steps share
// none runs on the calling thread alone (kernels::OnCallingThread), its validation passes too.
bool step_shares_products(const NetworkSpec& spec, std::size_t rows);

// Trains network in place on train (and reports validation, which may be null). The network's spec
// carries the recipe: spec().training (epochs, batch size, schedule, clipping, early stopping), the
// optimizer, dropout per layer and the seed (shuffling and dropout are drawn from it). Early stopping
// needs a validation set. Throws Error(runtime) naming the epoch and batch when the loss or a gradient
// becomes NaN or infinite (the network then holds the parameters before that step).
TrainingResult train(Network<float>& network, const Dataset& train, const Dataset* validation, const Scaling& scaling,
                     TrainingObserver* observer = nullptr, const TrainingCheckpoints* checkpoints = nullptr,
                     const TrainingParallelism& parallelism = {});

// A forward pass (no dropout) over every row of a data set in batches of batch_size: for each batch,
// on_batch(first_row, rows, workspace) with the batch's outputs in network.output(workspace). The one loop
// behind evaluate, confusion_matrix and the predict command.
// With a device, the passes run there and only the outputs (network.output(workspace)) are filled.
void forward_batches(const Network<float>& network, const Dataset& data, const Scaling& scaling, int batch_size,
                     TaskRef<std::size_t, std::size_t, const Workspace<float>&> on_batch,
                     kernels::DeviceBackend* device = nullptr);

// The loss evaluate() reports. The two differ only for a network whose recipe has label smoothing
// (spec().training.label_smoothing > 0, softmax_ce): plain is the cross-entropy against the true labels, a
// model's evaluation (backprop eval, Model::evaluate), comparable with any other model's; training_objective
// is the smoothed loss that training minimises, train()'s validation loss (which early stopping follows),
// as torch reports it when the validation uses the training's criterion.
enum class EvaluatedLoss { plain, training_objective };

// The batch of an evaluation pass (no gradients: only its workspace's size and the products' shape depend on it).
constexpr int kEvaluationBatchSize = 256;

// One pass without dropout, in batches.
Metrics evaluate(const Network<float>& network, const Dataset& data, const Scaling& scaling,
                 int batch_size = kEvaluationBatchSize,
                 kernels::DeviceBackend* device = nullptr, EvaluatedLoss loss = EvaluatedLoss::plain);

// (K x K) counts: confusion[true_class * K + predicted_class]; classification only.
std::vector<std::size_t> confusion_matrix(const Network<float>& network, const Dataset& data, const Scaling& scaling);

// The class a row of outputs predicts: argmax for softmax, a > 0.5 for one sigmoid output.
int predicted_class(const float* outputs, int output_count);
// With a two-class model's kept threshold (io::ModelFile::threshold): the second class when its probability
// (the last output) is at least the threshold; without one, predicted_class above.
int predicted_class(const float* outputs, int output_count, std::optional<double> threshold);

}  // namespace backprop
