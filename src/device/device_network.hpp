// A network on a device (kernels/device.hpp): the parameter, gradient and optimizer-state arenas, the
// workspace of a batch and the data set live in device memory, and a training step is a fixed sequence of
// launches (gather, per dense layer a product + fused bias and activation, per batch_norm one normalization, a
// fused loss, per dense layer two products and a bias-gradient sum, per batch_norm one backward launch, one
// gradient check, one fused optimizer update over the whole arena). A batch_norm's running statistics live
// there too, updated by each training forward pass, and come back to the host Network with the parameters. The host
// computes only the step's coefficients (learning rate, bias corrections), so it never waits inside an epoch
// except to read metrics.
//
// The math is the CPU path's (nn/network.hpp, nn/optimizer.hpp); results agree with it to rounding (the
// products and sums are ordered differently). Dropout masks come from a hash of (seed, step, layer) rather
// than the CPU's random stream, so with dropout the two paths train differently (each is reproducible).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/base/kinds.hpp"
#include "kernels/device.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/optimizer.hpp"

namespace backprop {

// A data set uploaded once: the features as stored (uint8 stays uint8), the scaling, labels or targets.
class DeviceDataset {
 public:
  // outputs: the network's outputs. Checks what gather_rows / gather_targets check (throws Error(bad_input)).
  // Without targets (predict) only the features are uploaded, and a gather fills no targets.
  DeviceDataset(kernels::DeviceBackend& backend, const Dataset& data, const Scaling& scaling, int outputs,
                bool targets = true);
  const kernels::DeviceRows& rows() const { return rows_; }
  // The row order 0, 1, ..., rows - 1 on the device: gather()'s order for a pass over the rows as stored.
  const std::uint32_t* in_order() const { return in_order_.data(); }
  std::size_t row_count() const { return row_count_; }
  bool has_labels() const { return rows_.labels != nullptr; }
  // Throws Error(bad_input), as the CPU's forward pass does, naming the data's row, where the value that
  // embedding entry l reads as its code (columns[l] of the network's input, as the network reads it: scaled)
  // is not a whole number in [0, layers[l].categories): a kernel cannot throw. Checks every row once.
  void check_codes(const std::vector<int>& columns, const std::vector<DenseLayer>& layers) const;

 private:
  const Dataset* host_;  // the rows as stored, for check_codes
  Scaling scaling_;
  mutable bool codes_checked_ = false;
  kernels::DeviceArray<std::uint8_t> features_u8_;
  kernels::DeviceArray<float> features_f32_;
  kernels::DeviceArray<double> offset_, scale_;
  kernels::DeviceArray<std::int32_t> labels_;
  kernels::DeviceArray<float> targets_;
  kernels::DeviceArray<float> weights_;  // the rows' weights, when the data has them
  kernels::DeviceArray<std::uint32_t> in_order_;
  kernels::DeviceRows rows_;
  std::size_t row_count_ = 0;
};

// What layer l's device part (DevicePart<K>) works on in one pass: DeviceNetwork's parts for that layer, as
// pointers into device memory. The shapes are the layer's (IN = layer.in, OUT = layer.out, B = batch).
struct DeviceLayerPass {
  kernels::DeviceBackend& backend;
  const DenseLayer& layer;
  std::size_t index;             // l
  int batch;                     // B
  bool training;                 // the forward pass of a training step (batch statistics, dropout)
  double dropout;                // the spec's dropout rate of the layer
  std::uint64_t dropout_seed;    // forward, training: the step's seed
  const float* input;            // (B, IN): the layer below's output (after its dropout), or the gathered x
  float* grad_input;             // backward: dL/d input (B, IN) to write, the layer below's delta; null for l = 0
  float* weights;                // the parameter arena at layer.weights_offset (dense W, batch_norm scale, table)
  float* bias;                   // the parameter arena at layer.bias_offset (dense b, batch_norm shift)
  float* grad_weights;           // the gradient arena at the same offsets
  float* grad_bias;
  float* statistics;             // Network::statistics() at layer.statistics_offset (batch_norm)
  float* z;                      // the layer's workspace parts, (B, OUT) each; what each kind keeps in them is
  float* a;                      // its own (a: always its output, delta: always dL/d output)
  float* delta;
  float* mask;
  float* dropped;
};

// A layer kind's device case of the walk (nn/layer_walk.hpp), declared here for every kind of kinds.hpp's list
// and defined in the kind's own file (src/device/batch_norm_device.cpp for batch_norm): forward writes the layer's output a (and
// what its backward needs) from input; backward writes its gradients and, unless grad_input is null, dL/d input
// from delta (the layer below's activation and dropout are DeviceNetwork's to chain after). A kind without its
// part is a link error.
template <LayerKind K>
struct DevicePart;
#define BACKPROP_DEVICE_PART(kind, model_format_version) \
  template <>                                            \
  struct DevicePart<LayerKind::kind> {                   \
    static void forward(const DeviceLayerPass& pass);    \
    static void backward(const DeviceLayerPass& pass);   \
  };
BACKPROP_LAYER_KINDS(BACKPROP_DEVICE_PART)
#undef BACKPROP_DEVICE_PART

// The slope the device kernels take (leaky_relu's; math.hpp's relu ignores it).
inline float device_slope(const DenseLayer& layer) { return static_cast<float>(layer.slope); }

class DeviceNetwork {
 public:
  // Device copies of the network's parameters (uploaded) and buffers for batches of up to max_batch rows.
  DeviceNetwork(kernels::DeviceBackend& backend, const Network<float>& network, int max_batch);

  // The parameters and the batch_norms' running statistics (Network::statistics()), host <-> device.
  void upload_parameters(const Network<float>& network);
  void download_parameters(Network<float>& network) const;

  // Rows order[first .. first + count) of data into the batch buffers (x, y, labels, row weights).
  void gather(const DeviceDataset& data, const std::uint32_t* order, std::size_t first, int count);
  // Forward pass of the gathered batch; with dropout_seed != 0 (training) hidden layers with dropout draw
  // their masks from (dropout_seed, layer) and batch_norms use the batch's statistics (and update their running
  // ones); with 0, evaluation: no dropout, running statistics.
  void forward(int batch, std::uint64_t dropout_seed = 0);
  // The loss of the last forward pass against the gathered targets, with this label smoothing (0: the plain
  // loss): adds to sums. loss_and_gradient: the training objective (the network's label smoothing), also the
  // gradient (backward pass into the gradient arena) and the step's finiteness check (step numbers it). When
  // the gathered rows have weights, the training objective is their weighted mean over weight_denominator
  // (math::weighted_loss_denominator of the batch; ignored without weights). loss() is unweighted, as the
  // CPU's evaluate.
  void loss(MetricSums* sums, int batch, double label_smoothing) const;
  void loss_and_gradient(MetricSums* sums, kernels::StepStatus* status, int batch, float clip_norm,
                         std::int64_t step, double weight_denominator = 0.0);
  // The output layer's activations of the last forward pass: (batch, OUT), device memory.
  const float* output() const { return buffer(layers_.size() - 1, kA); }

  float* parameters() { return parameters_.data(); }
  float* gradients() { return gradients_.data(); }
  std::size_t parameter_count() const { return parameters_.size(); }
  kernels::DeviceBackend& backend() const { return backend_; }
  int max_batch() const { return max_batch_; }
  int output_size() const { return layers_.back().out; }

 private:
  // Each layer's workspace parts (DeviceLayerPass: what a kind keeps in them is its part's).
  enum Part { kZ, kA, kDelta, kMask, kDropped, kParts };
  float* buffer(std::size_t layer, Part part) const {
    return workspace_.data() + offsets_[layer] + static_cast<std::size_t>(part) * sizes_[layer];
  }
  // Layer l's parts for its DevicePart in this pass.
  DeviceLayerPass pass(std::size_t l, int batch, std::uint64_t dropout_seed) const;
  // After layer l's case of the backward walk wrote dL/da of the layer below into its delta: through that layer's
  // dropout mask (when the forward pass used one) and f', in place, making it its dL/dz.
  void chain_below(std::size_t l, int batch);
  const float* layer_output(std::size_t layer, bool training) const {
    return training && dropout_[layer] > 0 ? buffer(layer, kDropped) : buffer(layer, kA);
  }

  kernels::DeviceBackend& backend_;
  int max_batch_;
  int input_;
  std::vector<DenseLayer> layers_;
  std::vector<double> dropout_;  // per layer
  LossKind loss_;
  double label_smoothing_;
  kernels::DeviceArray<float> parameters_, gradients_;
  kernels::DeviceArray<float> statistics_;  // Network::statistics()'s layout
  kernels::DeviceArray<float> workspace_;  // per layer z, a, delta, mask, dropped: (max_batch, OUT) each
  std::vector<std::size_t> offsets_, sizes_;
  kernels::DeviceArray<float> x_, y_;      // the gathered batch
  kernels::DeviceArray<std::int32_t> labels_;
  kernels::DeviceArray<float> weights_;    // the gathered batch's row weights
  bool labels_valid_ = false;              // the gathered batch has labels
  bool weights_valid_ = false;             // and row weights
  bool training_ = false;                  // the last forward pass used dropout
  std::vector<int> code_columns_;          // the network input column each embedding entry reads
};

// The optimizer's state arenas on the device and its update as one launch; the host Optimizer keeps the
// spec and the step count (and receives the state for checkpoints).
class DeviceOptimizer {
 public:
  DeviceOptimizer(kernels::DeviceBackend& backend, Optimizer<float>& optimizer);
  void upload_state();    // host optimizer's state -> device
  void download_state();  // device -> host optimizer's state (checkpoints)
  // One step at this learning rate (increments the host optimizer's step count, as Optimizer::step does).
  void step(DeviceNetwork& network, const kernels::StepStatus* status, double learning_rate);

 private:
  kernels::DeviceBackend& backend_;
  Optimizer<float>& optimizer_;
  std::vector<kernels::DeviceArray<float>> state_;
};

}  // namespace backprop
