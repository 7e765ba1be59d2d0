// The training step interface: one call per batch covers the forward pass, the loss, the backward pass, the
// optimizer's update and the batch's metric sums. train() (trainer.cpp) drives a Step and never asks which one
// runs; make_step() chooses it in one place:
//   CpuStep          (cpu_step.cpp)    the general step on the CPU, with an optional GradientReducer from dist/
//                                      (MPI ranks, or the exact fixed-point sum of --deterministic)
//   RowTrainingStep  (row_step.cpp)    the fused one-row step at batch size 1 (train/row_step.hpp)
//   DeviceStep       (device_step.cpp) the step on a device (kernels/device.hpp, docs/gpu.md)
// Internal to the library.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/optimizer.hpp"
#include "backprop/train/trainer.hpp"
#include "dist/gradient_reducer.hpp"
#include "kernels/math.hpp"
#include "backprop/base/metric_sums.hpp"

namespace backprop {

// A step that diverged: which step, and what was not finite, naming the layer (divergence_cause).
struct Divergence {
  long step = 0;
  std::string what;
};

class Step {
 public:
  virtual ~Step() = default;

  // An epoch over the training rows in `order` (which must outlive the epoch) begins, its metric sums so far
  // `sums` (a resumed epoch's, else zero).
  virtual void begin_epoch(std::span<const std::size_t> order, const MetricSums& sums) = 0;

  // One optimizer step on the rows order[first, first + count): forward, loss, backward, update at this
  // learning rate; step numbers it (dropout masks, divergence). A step whose loss or gradient is not finite
  // changes no parameter; a step whose update makes a parameter not finite (a learning rate that throws the
  // weights past float's range) leaves it so: either is a divergence, and train() saves nothing after it.
  // Returns false when it is known at once that the step diverged (divergence() then says how); a device,
  // which does not wait for its steps, returns true and reports it later.
  virtual bool run(std::size_t first, std::size_t count, long step, double learning_rate) = 0;

  // The epoch's metric sums so far, of this process's rows (a device reads them back: a wait).
  virtual MetricSums sums() = 0;
  // The same sums where the step keeps them on the host, up to date after every run(), for a progress line
  // that reads them every step without a call; null where they live elsewhere (a device).
  const MetricSums* host_sums() const { return host_sums_; }
  // The epoch's metric sums over every process (distributed training adds the ranks' sums).
  virtual MetricSums totals() { return sums(); }
  // How many steps between two reads of sums() for a progress line (1 where reading is free).
  virtual std::size_t progress_every() const { return 1; }

  // The first step since begin_epoch whose loss or gradient was not finite, if any.
  virtual std::optional<Divergence> divergence() = 0;
  // The parameters and the optimizer's state into the host Network and Optimizer (a device's are its own
  // until then); the host objects are current after this.
  virtual void synchronize() {}

  // A pass without dropout over data (validation), with the current parameters; its loss is the training
  // objective (EvaluatedLoss::training_objective).
  virtual Metrics evaluate(const Dataset& data) = 0;

 protected:
  const MetricSums* host_sums_ = nullptr;  // set by a step that keeps its sums on the host
};

// The step train() runs for this network, data and parallelism (TrainingParallelism in trainer.hpp).
// dropout_random is the trainer's stream of dropout masks (a checkpoint saves it). Throws Error(bad_input)
// for a combination that has no step (a device under mpirun or with --deterministic).
std::unique_ptr<Step> make_step(Network<float>& network, Optimizer<float>& optimizer, const Dataset& data,
                                const Scaling& scaling, int batch_size, const TrainingParallelism& parallelism,
                                Random& dropout_random);

// The outputs of layer l (0-based) of a step's last forward pass, all rows; empty where they are not at hand.
using LayerOutputs = std::function<std::span<const float>(std::size_t layer)>;
// What was not finite after a step, naming the layer: the first layer whose parameters the update made not
// finite, else the loss (and the first layer whose outputs are not finite, else the output layer), else the
// first layer whose gradient is not finite. Every step's message comes from here.
std::string divergence_cause(const Network<float>& network, double loss, const LayerOutputs& outputs = {});
// After a step's update: every parameter finite (the check that catches an update's overflow).
bool parameters_finite(const Network<float>& network);

// Adds a batch's rows to sums: their outputs (count, OUT), targets (count, OUT), labels (count; classification
// only, else null) and the batch's loss averaged over its rows. Inline: the one-row step calls it every step.
inline void add_rows(MetricSums& sums, const float* outputs, const float* targets, const std::int32_t* labels,
                     std::size_t count, int output_count, double batch_loss, bool classification) {
  sums.loss += batch_loss * static_cast<double>(count);
  for (std::size_t r = 0; r < count; ++r) {
    const std::size_t o = r * static_cast<std::size_t>(output_count);
    math::add_row_metrics(sums, outputs + o, targets + o, classification ? labels[r] : -1, output_count);
  }
}
// The metrics of the sums: loss and accuracy (classification), or loss, RMSE and MAE.
Metrics metrics_of(const MetricSums& sums, bool classification);

// The buffers of a pass on the CPU (evaluate.cpp): the workspace, and the batch's rows, targets and row numbers.
struct PassBuffers {
  PassBuffers(const Network<float>& network, const Dataset& data, int batch_size);
  Workspace<float> workspace;
  std::vector<float> x, y;
  std::vector<std::size_t> indices;
};

// A CPU step's validation pass (evaluate() with the training objective's loss, in batches of kEvaluationBatchSize
// or of every row if fewer), in buffers kept from epoch to epoch: a new workspace each epoch was new pages each
// epoch, whose zeroing and faults cost a small table's run more than its passes' products (docs/performance.md,
// "A table's passes and the pool"). The same figures as evaluate(); a pass after the first allocates nothing.
class ValidationPass {
 public:
  Metrics evaluate(const Network<float>& network, const Dataset& data, const Scaling& scaling);

 private:
  std::optional<PassBuffers> buffers_;
};

class DeviceNetwork;
class DeviceDataset;
// The sums of a pass without dropout over every row of data on the device, in batches of the network's
// max_batch (what evaluate() sums on the CPU), the loss with this label smoothing. device_step.cpp.
MetricSums device_pass(DeviceNetwork& network, const DeviceDataset& data, double label_smoothing);

// Standardized inputs whose raw values have zeros keep them for the products that skip them
// (kernels/cpu/zero_skip.hpp): the general CPU step gathers the rows as x / s and folds the offset m / s into
// the first layer (Workspace::set_input_shift, fold_input_shift in nn/dense.hpp), the same function as gathering
// (x - m) / s. Only where the first layer is dense and its product at batch_size has a shape that may skip
// (kernels::zero_skip_shape), a tenth or more of the raw values of 256 rows spread over the data are zero, and
// every |m / s| is at most 4, so that the folded sums lose no more than a few bits to cancellation against the
// standardized ones. The decision depends on the data and shapes alone (not the CPU level, threads or ranks).
struct FoldedScaling {
  Scaling gather;            // offset 0, the scaling's scale
  std::vector<float> shift;  // (features) m / s
};
std::optional<FoldedScaling> folded_scaling(const Network<float>& network, const Dataset& data,
                                            const Scaling& scaling, int batch_size);

// The steps (each in its own file).
std::unique_ptr<Step> make_cpu_step(Network<float>& network, Optimizer<float>& optimizer, const Dataset& data,
                                    const Scaling& scaling, int batch_size, std::unique_ptr<GradientReducer> reducer,
                                    Random& dropout_random);
std::unique_ptr<Step> make_row_training_step(Network<float>& network, Optimizer<float>& optimizer,
                                             const Dataset& data, const Scaling& scaling);
std::unique_ptr<Step> make_device_step(kernels::DeviceBackend& backend, Network<float>& network,
                                       Optimizer<float>& optimizer, const Dataset& data, const Scaling& scaling,
                                       int batch_size);

}  // namespace backprop
