// The kinds of activation, loss, optimizer, feature scaling and task: one enum per concept, for the network's
// description (spec.hpp), the CPU path, the data's scaling (data/scaling.hpp) and the device backends alike
// (kernels/device.hpp). Plain enums, their tables and the layer kinds' list and nothing else, so that nvcc (C++17)
// compiles this header too.
#pragma once

namespace backprop {

// Each kind below is one list, X(kind) for each in the enum's order, from which both the enum and its table of
// names (the kind's name in the network file, the command and Python) are made, so that a kind without a name
// cannot be written; to_string indexes the table by the enum's value.
template <typename Kind>
struct KindName {
  Kind kind;
  const char* name;
};
#define BACKPROP_KIND_ENUMERATOR(kind) kind,

// An activation is its formula (kernels/math.hpp), its entry here and its written forms
// (src/io/activation_forms.cpp: the trace's working, ONNX nodes, C statement); every other place takes these.
#define BACKPROP_ACTIVATIONS(X) X(identity) X(sigmoid) X(tanh) X(relu) X(leaky_relu) X(softmax) X(silu)
enum class Activation { BACKPROP_ACTIVATIONS(BACKPROP_KIND_ENUMERATOR) };
using ActivationName = KindName<Activation>;
#define BACKPROP_ACTIVATION_NAME(kind) {Activation::kind, #kind},
inline constexpr ActivationName kActivationNames[] = {BACKPROP_ACTIVATIONS(BACKPROP_ACTIVATION_NAME)};
#undef BACKPROP_ACTIVATION_NAME

#define BACKPROP_LOSS_KINDS(X) X(mse) X(bce) X(softmax_ce)
enum class LossKind { BACKPROP_LOSS_KINDS(BACKPROP_KIND_ENUMERATOR) };
#define BACKPROP_LOSS_NAME(kind) {LossKind::kind, #kind},
inline constexpr KindName<LossKind> kLossNames[] = {BACKPROP_LOSS_KINDS(BACKPROP_LOSS_NAME)};
#undef BACKPROP_LOSS_NAME

// The kinds of entry in a network's "layers" (nn/spec.hpp): a dense layer with its activation and dropout, or
// batch normalization of the entry before it (nn/batch_norm.hpp), or an embedding of a categorical input column
// (nn/embedding.hpp). The one list of them: X(kind, model_format_version) for each, in the enum's order; the enum,
// kLayerKinds and the declarations of each kind's parts (base/layer_kind_parts.hpp) are built from it. The format
// version is the oldest model file format version that holds the kind (io/model_file.hpp: a model is written as
// the oldest version that holds what it has, so that a model without a newer kind is byte for byte what an older
// program wrote).
#define BACKPROP_LAYER_KINDS(X) \
  X(dense, 1)                   \
  X(batch_norm, 3)              \
  X(embedding, 6)

#define BACKPROP_LAYER_KIND_ENUMERATOR(kind, model_format_version) kind,
enum class LayerKind { BACKPROP_LAYER_KINDS(BACKPROP_LAYER_KIND_ENUMERATOR) };
#undef BACKPROP_LAYER_KIND_ENUMERATOR

// Each layer kind's name in the network file, the command and Python, and its model format version.
struct LayerKindEntry {
  LayerKind kind;
  const char* name;
  unsigned model_format_version;
};
#define BACKPROP_LAYER_KIND_ENTRY(kind, model_format_version) {LayerKind::kind, #kind, model_format_version},
inline constexpr LayerKindEntry kLayerKinds[] = {BACKPROP_LAYER_KINDS(BACKPROP_LAYER_KIND_ENTRY)};
#undef BACKPROP_LAYER_KIND_ENTRY
inline constexpr int kLayerKindCount = sizeof kLayerKinds / sizeof kLayerKinds[0];
constexpr const LayerKindEntry& layer_kind_entry(LayerKind kind) { return kLayerKinds[static_cast<int>(kind)]; }

// The update rules are torch.optim's (optimizer.hpp states each).
#define BACKPROP_OPTIMIZER_KINDS(X) X(sgd) X(momentum) X(nesterov) X(adam) X(adamw) X(rmsprop)
enum class OptimizerKind { BACKPROP_OPTIMIZER_KINDS(BACKPROP_KIND_ENUMERATOR) };
#define BACKPROP_OPTIMIZER_NAME(kind) {OptimizerKind::kind, #kind},
inline constexpr KindName<OptimizerKind> kOptimizerNames[] = {BACKPROP_OPTIMIZER_KINDS(BACKPROP_OPTIMIZER_NAME)};
#undef BACKPROP_OPTIMIZER_NAME

// An optimizer's state buffers, each an arena of the parameters' size, named as torch.optim names them.
enum class OptimizerState { momentum_buffer, exp_avg, exp_avg_sq, square_avg, grad_avg };
inline constexpr int kOptimizerStateCount = 5;
inline constexpr const char* kOptimizerStateNames[kOptimizerStateCount] = {"momentum_buffer", "exp_avg", "exp_avg_sq",
                                                                          "square_avg", "grad_avg"};

// The one table of the buffers each rule keeps, in the order checkpoints store them: the CPU optimizer
// (nn/optimizer.cpp), the device's arenas (kernels/device.hpp) and checkpoints all take it. rmsprop's depend
// on its settings: grad_avg when centered, momentum_buffer when its momentum is above 0.
struct OptimizerStates {
  OptimizerState buffers[3];
  int count;
};
constexpr OptimizerStates optimizer_states(OptimizerKind kind, bool centered, bool with_momentum) {
  switch (kind) {
    case OptimizerKind::sgd: return {{}, 0};
    case OptimizerKind::momentum:
    case OptimizerKind::nesterov: return {{OptimizerState::momentum_buffer}, 1};
    case OptimizerKind::adam:
    case OptimizerKind::adamw: return {{OptimizerState::exp_avg, OptimizerState::exp_avg_sq}, 2};
    case OptimizerKind::rmsprop: {
      OptimizerStates states{{OptimizerState::square_avg}, 1};
      if (centered) states.buffers[states.count++] = OptimizerState::grad_avg;
      if (with_momentum) states.buffers[states.count++] = OptimizerState::momentum_buffer;
      return states;
    }
  }
  return {{}, 0};
}

// Feature scaling (data/scaling.hpp), named in the training recipe.
#define BACKPROP_SCALING_KINDS(X) X(none) X(standard) X(minmax)
enum class ScalingKind { BACKPROP_SCALING_KINDS(BACKPROP_KIND_ENUMERATOR) };
#define BACKPROP_SCALING_NAME(kind) {ScalingKind::kind, #kind},
inline constexpr KindName<ScalingKind> kScalingNames[] = {BACKPROP_SCALING_KINDS(BACKPROP_SCALING_NAME)};
#undef BACKPROP_SCALING_NAME

// What a network's loss makes of the data's targets (task_of, nn/spec.hpp).
// classification: one class label per row (softmax_ce; bce with one output = two classes); regression: one or
// more numeric targets per row (mse; bce with several outputs: targets in [0, 1]). Named by the command's --task and
// Python's task.
#define BACKPROP_TASK_KINDS(X) X(classification) X(regression)
enum class TaskKind { BACKPROP_TASK_KINDS(BACKPROP_KIND_ENUMERATOR) };
#define BACKPROP_TASK_NAME(kind) {TaskKind::kind, #kind},
inline constexpr KindName<TaskKind> kTaskNames[] = {BACKPROP_TASK_KINDS(BACKPROP_TASK_NAME)};
#undef BACKPROP_TASK_NAME

}  // namespace backprop
