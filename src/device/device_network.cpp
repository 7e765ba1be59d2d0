// The network's forward pass, backward pass and optimizer step as device launches (device_network.hpp).
// It walks the layers with nn/layer_walk.hpp, as nn/network.cpp's Network::forward and Network::backward do; each
// kind's case is its DevicePart, in its own file (dense_device.cpp: dense.cpp's products; batch_norm_device.cpp:
// batch_norm.cpp's normalization; embedding_device.cpp: embedding.cpp's lookup), written against
// kernels::DeviceBackend instead of the CPU kernels.
#include "device/device_network.hpp"

#include <cmath>
#include <numeric>
#include <string>
#include <type_traits>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/nn/embedding.hpp"
#include "kernels/embedding_math.hpp"
#include "kernels/math.hpp"
#include "nn/layer_walk.hpp"
#include "nn/optimizer_step.hpp"

namespace backprop {

namespace {

// The walk's cases (nn/layer_walk.hpp's LayerCases), one per kind of kinds.hpp's list, each calling
// call(kind, l) with kind a std::integral_constant<LayerKind, K>: the walk reaches every kind's DevicePart and
// this file names none.
template <typename Call>
auto device_cases(const Call& call) {
#define BACKPROP_DEVICE_CASE(kind, model_format_version) \
  [&call](std::size_t l) { return call(std::integral_constant<LayerKind, LayerKind::kind>{}, l); },
  return LayerCases{BACKPROP_LAYER_KINDS(BACKPROP_DEVICE_CASE)};
#undef BACKPROP_DEVICE_CASE
}

}  // namespace

DeviceDataset::DeviceDataset(kernels::DeviceBackend& backend, const Dataset& data, const Scaling& scaling,
                             int outputs, bool targets)
    : host_(&data), scaling_(scaling), row_count_(data.rows) {
  const auto width = static_cast<std::size_t>(data.features);
  if (!scaling.empty() && (scaling.offset.size() != width || scaling.scale.size() != width))
    throw_bad_input(data.source + ": expected a scaling of " + std::to_string(width) + " features, got one of " +
                    std::to_string(scaling.offset.size()));
  if (data.rows > 0xFFFFFFFFull) throw_bad_input(data.source + ": more than 2^32 rows for a device");
  std::vector<std::uint32_t> in_order(data.rows);
  std::iota(in_order.begin(), in_order.end(), 0u);
  in_order_ = kernels::DeviceArray<std::uint32_t>(backend, in_order.size());
  in_order_.upload(in_order.data(), in_order.size());
  rows_.features = data.features;
  rows_.outputs = outputs;
  if (!data.features_u8.empty()) {
    features_u8_ = kernels::DeviceArray<std::uint8_t>(backend, data.features_u8.size());
    features_u8_.upload(data.features_u8.data(), data.features_u8.size());
    rows_.features_u8 = features_u8_.data();
  } else {
    features_f32_ = kernels::DeviceArray<float>(backend, data.features_f32.size());
    features_f32_.upload(data.features_f32.data(), data.features_f32.size());
    rows_.features_f32 = features_f32_.data();
  }
  if (!scaling.empty()) {
    offset_ = kernels::DeviceArray<double>(backend, width);
    scale_ = kernels::DeviceArray<double>(backend, width);
    offset_.upload(scaling.offset.data(), width);
    scale_.upload(scaling.scale.data(), width);
    rows_.offset = offset_.data();
    rows_.scale = scale_.data();
  }
  if (!targets) return;
  if (!data.weights.empty()) {
    weights_ = kernels::DeviceArray<float>(backend, data.weights.size());
    weights_.upload(data.weights.data(), data.weights.size());
    rows_.weights = weights_.data();
  }
  // The checks of Dataset::gather_targets, once for the whole set.
  if (data.task == TaskKind::regression) {
    if (data.targets.empty())
      throw_bad_input(data.source + ": expected target values, got none (no target column or labels)");
    if (outputs != data.target_count)
      throw_bad_input(data.source + ": expected " + std::to_string(outputs) +
                      " targets per row (the network's outputs), got " + std::to_string(data.target_count));
    targets_ = kernels::DeviceArray<float>(backend, data.targets.size());
    targets_.upload(data.targets.data(), data.targets.size());
    rows_.targets = targets_.data();
    return;
  }
  if (data.labels.empty())
    throw_bad_input(data.source + ": expected class labels, got none (no target column or labels)");
  const std::size_t classes = data.class_names.size();
  if (outputs == 1 && classes > 2)
    throw_bad_input(data.source + ": expected at most 2 classes for a network with one output, got " +
                    std::to_string(classes));
  if (outputs > 1 && static_cast<std::size_t>(outputs) != classes)
    throw_bad_input(data.source + ": expected " + std::to_string(outputs) + " classes (the network's outputs), got " +
                    std::to_string(classes));
  labels_ = kernels::DeviceArray<std::int32_t>(backend, data.labels.size());
  labels_.upload(data.labels.data(), data.labels.size());
  rows_.labels = labels_.data();
}

void DeviceDataset::check_codes(const std::vector<int>& columns, const std::vector<DenseLayer>& layers) const {
  if (codes_checked_ || columns.empty()) return;
  const Dataset& data = *host_;
  const auto width = static_cast<std::size_t>(data.features);
  for (std::size_t r = 0; r < data.rows; ++r)
    for (std::size_t l = 0; l < columns.size(); ++l) {
      const auto f = static_cast<std::size_t>(columns[l]);
      if (f >= width) continue;  // a data set of another width: refused where it is read
      const std::size_t i = r * width + f;
      float x = data.features_u8.empty() ? data.features_f32[i] : math::byte_feature(data.features_u8[i]);
      if (!scaling_.empty()) x = math::scaled_feature(x, scaling_.offset[f], scaling_.scale[f]);
      const LayerSettings<LayerKind::embedding>& embedding = layers[l].embedding;
      if (math::embedding_row(x, embedding.categories) < 0)
        throw_bad_input(data.source + ": row " + std::to_string(r + 1) + ": layers[" + std::to_string(l) +
                        "] (embedding of input " + std::to_string(embedding.column) + "): expected a category's code, "
                        "a whole number in [0, " + std::to_string(embedding.categories) + "), got " +
                        format_general(static_cast<double>(x), 9));
    }
  codes_checked_ = true;
}

DeviceNetwork::DeviceNetwork(kernels::DeviceBackend& backend, const Network<float>& network, int max_batch)
    : backend_(backend),
      max_batch_(max_batch),
      input_(network.input_size()),
      loss_(network.loss()),
      label_smoothing_(network.label_smoothing()) {
  std::size_t total = 0;
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    layers_.push_back(network.layer(l));
    dropout_.push_back(network.spec().layers[l].dropout);
    offsets_.push_back(total);
    sizes_.push_back(static_cast<std::size_t>(max_batch) * network.layer(l).out);
    total += kParts * sizes_.back();
  }
  parameters_ = kernels::DeviceArray<float>(backend, network.parameters().size());
  gradients_ = kernels::DeviceArray<float>(backend, network.parameters().size());
  statistics_ = kernels::DeviceArray<float>(backend, network.statistics().size());
  workspace_ = kernels::DeviceArray<float>(backend, total);
  x_ = kernels::DeviceArray<float>(backend, static_cast<std::size_t>(max_batch) * input_);
  y_ = kernels::DeviceArray<float>(backend, static_cast<std::size_t>(max_batch) * network.output_size());
  labels_ = kernels::DeviceArray<std::int32_t>(backend, static_cast<std::size_t>(max_batch));
  weights_ = kernels::DeviceArray<float>(backend, static_cast<std::size_t>(max_batch));
  code_columns_ = embedding_code_columns(network.spec());
  upload_parameters(network);
}

void DeviceNetwork::upload_parameters(const Network<float>& network) {
  parameters_.upload(network.parameters().data(), network.parameters().size());
  statistics_.upload(network.statistics().data(), network.statistics().size());
}

void DeviceNetwork::download_parameters(Network<float>& network) const {
  parameters_.download(network.parameters().data(), network.parameters().size());
  statistics_.download(network.statistics().data(), network.statistics().size());
}

void DeviceNetwork::gather(const DeviceDataset& data, const std::uint32_t* order, std::size_t first, int count) {
  if (count > max_batch_) throw_runtime_error("DeviceNetwork::gather: a batch larger than the workspace");
  data.check_codes(code_columns_, layers_);
  backend_.gather(x_.data(), y_.data(), labels_.data(), weights_.data(), data.rows(), order, first, count);
  labels_valid_ = data.has_labels();
  weights_valid_ = data.rows().weights != nullptr;
}

DeviceLayerPass DeviceNetwork::pass(std::size_t l, int batch, std::uint64_t dropout_seed) const {
  const DenseLayer& layer = layers_[l];
  float* parameters = parameters_.data();
  float* gradients = gradients_.data();
  return {backend_,
          layer,
          l,
          batch,
          training_,
          dropout_[l],
          dropout_seed,
          l == 0 ? x_.data() : layer_output(l - 1, training_),
          l == 0 ? nullptr : buffer(l - 1, kDelta),
          parameters + layer.weights_offset,
          parameters + layer.bias_offset,
          gradients + layer.weights_offset,
          gradients + layer.bias_offset,
          statistics_.data() + layer.statistics_offset,
          buffer(l, kZ),
          buffer(l, kA),
          buffer(l, kDelta),
          buffer(l, kMask),
          buffer(l, kDropped)};
}

// The walk of nn/layer_walk.hpp, with each kind's DevicePart as its case (Network::forward's, as launches).
void DeviceNetwork::forward(int batch, std::uint64_t dropout_seed) {
  training_ = dropout_seed != 0;
  forward_layers(layers_, device_cases([&](auto kind, std::size_t l) {
                   DevicePart<decltype(kind)::value>::forward(pass(l, batch, dropout_seed));
                 }));
}

void DeviceNetwork::loss(MetricSums* sums, int batch, double label_smoothing) const {
  const std::size_t last = layers_.size() - 1;
  const DenseLayer& output = layers_[last];
  backend_.loss(nullptr, sums, nullptr, buffer(last, kZ), buffer(last, kA), y_.data(),
                labels_valid_ ? labels_.data() : nullptr, nullptr, 0.0, batch, output.out, loss_, label_smoothing,
                output.activation, device_slope(output), batch);
}

void DeviceNetwork::loss_and_gradient(MetricSums* sums, kernels::StepStatus* status, int batch,
                                      float clip_norm, std::int64_t step, double weight_denominator) {
  const std::size_t last = layers_.size() - 1;
  const DenseLayer& output = layers_[last];
  backend_.loss(buffer(last, kDelta), sums, status, buffer(last, kZ), buffer(last, kA), y_.data(),
                labels_valid_ ? labels_.data() : nullptr, weights_valid_ ? weights_.data() : nullptr,
                weight_denominator, batch, output.out, loss_, label_smoothing_, output.activation, device_slope(output),
                batch);
  // The walk of nn/layer_walk.hpp from the last layer down, each kind's DevicePart as its case
  // (Network::backward's, as launches): the layer's gradients from its delta and, unless it is the first, the
  // delta of the layer below, which chain_below takes through that layer's dropout and activation.
  backward_layers(layers_, device_cases([&](auto kind, std::size_t l) {
                    DevicePart<decltype(kind)::value>::backward(pass(l, batch, 0));
                    chain_below(l, batch);
                    return true;  // the gradients' check is check_gradients', over the whole arena
                  }));
  backend_.check_gradients(status, gradients_.data(), gradients_.size(), clip_norm, step);
}

void DeviceNetwork::chain_below(std::size_t l, int batch) {
  if (l == 0) return;
  float* grad_input = buffer(l - 1, kDelta);
  const DenseLayer& below = layers_[l - 1];
  backend_.activation_backward(grad_input, grad_input, training_ && dropout_[l - 1] > 0 ? buffer(l - 1, kMask) : nullptr,
                               buffer(l - 1, kZ), buffer(l - 1, kA), batch, below.out, below.activation,
                               device_slope(below));
}

DeviceOptimizer::DeviceOptimizer(kernels::DeviceBackend& backend, Optimizer<float>& optimizer)
    : backend_(backend), optimizer_(optimizer) {
  for (const auto arena : optimizer.state()) state_.emplace_back(backend, arena.size());
  upload_state();
}

void DeviceOptimizer::upload_state() {
  const auto arenas = optimizer_.state();
  for (std::size_t i = 0; i < arenas.size(); ++i) state_[i].upload(arenas[i].data(), arenas[i].size());
}

void DeviceOptimizer::download_state() {
  auto arenas = optimizer_.state();
  for (std::size_t i = 0; i < arenas.size(); ++i) state_[i].download(arenas[i].data(), arenas[i].size());
}

void DeviceOptimizer::step(DeviceNetwork& network, const kernels::StepStatus* status, double learning_rate) {
  optimizer_.set_step_count(optimizer_.step_count() + 1);
  const kernels::UpdateRule rule = optimizer_step<float>(optimizer_.spec(), learning_rate, optimizer_.step_count());
  const OptimizerStates states = optimizer_.states();  // state_'s order
  kernels::OptimizerArenas arenas;
  for (int i = 0; i < states.count; ++i) arenas.arena[static_cast<int>(states.buffers[i])] = state_[i].data();
  backend_.update(network.parameters(), network.gradients(), arenas, network.parameter_count(), rule, status);
}

}  // namespace backprop
