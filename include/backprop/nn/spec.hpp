// The description of a network: what a network file holds, before any memory is allocated.
// Network<T> (network.hpp) is built from a NetworkSpec; io/network_file.hpp reads and writes one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "backprop/base/kinds.hpp"
#include "backprop/nn/layer_kinds.hpp"
#include "backprop/nn/schedule.hpp"
#include "backprop/nn/setting_list.hpp"

namespace backprop {

// X(kind, name) for each, in the enum's order: the enum and its names (kInitializerNames) are made from it.
//   automatic ("auto"): he_normal before relu and leaky_relu, xavier_uniform otherwise
//   uniform:            U(-scale, scale)
//   xavier_uniform:     U(-l, l), l = sqrt(6 / (IN + OUT))           (Glorot & Bengio 2010)
//   xavier_normal:      N(0, s^2), s = sqrt(2 / (IN + OUT))
//   he_normal:          N(0, s^2), s = sqrt(2 / IN)                   (He et al. 2015)
#define BACKPROP_INITIALIZER_KINDS(X) \
  X(automatic, "auto")                \
  X(uniform, "uniform")               \
  X(xavier_uniform, "xavier_uniform") \
  X(xavier_normal, "xavier_normal")   \
  X(he_normal, "he_normal")
#define BACKPROP_INITIALIZER_ENUMERATOR(kind, name) kind,
enum class InitializerKind { BACKPROP_INITIALIZER_KINDS(BACKPROP_INITIALIZER_ENUMERATOR) };
#undef BACKPROP_INITIALIZER_ENUMERATOR
#define BACKPROP_INITIALIZER_NAME(kind, name) {InitializerKind::kind, name},
inline constexpr KindName<InitializerKind> kInitializerNames[] = {BACKPROP_INITIALIZER_KINDS(BACKPROP_INITIALIZER_NAME)};
#undef BACKPROP_INITIALIZER_NAME

struct InitializerSpec {
  InitializerKind kind = InitializerKind::automatic;
  double scale = 0.05;  // uniform only
};

// One entry of "layers". A dense layer (no "type") has units, activation, dropout, weights (IN, OUT) and bias
// (OUT). A batch_norm entry normalizes the output of the entry before it (or the input, first), as that entry
// leaves it: units = its input's, activation identity; weights and bias hold the learnable scale and shift
// (OUT each; empty: 1 and 0). Each kind's own settings and arrays are its LayerSettings<K> (layer_kind_types.hpp),
// the member named as the kind: batch_norm's momentum in layer.batch_norm.momentum, its running statistics in
// layer.batch_norm.running_mean and running_var, embedding's column in layer.embedding.column.
struct LayerSpec {
  LayerKind kind = LayerKind::dense;
  int units = 0;
  Activation activation = Activation::sigmoid;
  double slope = 0.01;   // leaky_relu only
  double dropout = 0.0;  // probability of dropping each output in training (hidden layers)
  std::optional<InitializerSpec> initializer;  // overrides the network's
  std::vector<double> weights;  // (IN, OUT) row-major, or empty: filled by the initializer
  std::vector<double> bias;     // (OUT), or empty: zeros
#define BACKPROP_LAYER_SETTINGS_MEMBER(kind, model_format_version) \
  [[no_unique_address]] LayerSettings<LayerKind::kind> kind;
  BACKPROP_LAYER_KINDS(BACKPROP_LAYER_SETTINGS_MEMBER)
#undef BACKPROP_LAYER_SETTINGS_MEMBER
};

// The float arrays an entry holds, in file order, with their sizes and JSON keys: weights (IN x OUT) and bias
// (OUT) of a dense layer; scale, shift, running_mean, running_var (OUT each) of a batch_norm. values(layer) is the
// array in an entry: a member of LayerSpec (weights, bias) or of its kind's settings (layer.batch_norm.running_mean).
struct LayerArray {
  std::vector<double>& (*access)(LayerSpec& layer);  // the array in `layer` (values)
  std::size_t size;
  std::string_view key;
  // A parameter (in the arena the optimizer updates: weights, then bias), else a running statistic (not trained):
  // an entry's running statistics are Network::statistics(l), in this order.
  bool trained;
  std::size_t columns = 0;  // a 2-D array's columns (its rows: size / columns); 0: a 1-D array

  std::vector<double>& values(LayerSpec& layer) const { return access(layer); }
  const std::vector<double>& values(const LayerSpec& layer) const { return access(const_cast<LayerSpec&>(layer)); }
};
// Those of an entry with `in` inputs.
std::vector<LayerArray> layer_arrays(const LayerSpec& layer, int in);

// The update rules are torch.optim's (optimizer.hpp states each; OptimizerKind is in kinds.hpp), and so are
// the defaults, so that the same settings give the same numbers. A setting the type does not use is ignored,
// though still checked for range (so that --optimizer can switch the type of a network file that carries
// another type's settings). Weight decay, as in torch, applies to every parameter, biases included.
struct OptimizerSpec {
  OptimizerKind type = OptimizerKind::sgd;  // in a file, its name (to_string, parse_optimizer)
  double learning_rate = 0.1;
  // momentum, nesterov, rmsprop. Unset: 0.9 for momentum and nesterov, 0 for rmsprop (torch's RMSprop
  // default); one field with two defaults rather than two fields that mean the same coefficient.
  std::optional<double> momentum;
  double beta1 = 0.9;    // adam, adamw: decay of the first moment
  double beta2 = 0.999;  // adam, adamw: decay of the second moment
  double epsilon = 1e-8;  // adam, adamw, rmsprop: added to the root of the second moment
  // Unset: 0.01 for adamw (decoupled: p *= 1 - lr * wd, torch's AdamW default), 0 otherwise (L2: g += wd * p).
  std::optional<double> weight_decay;
  double alpha = 0.99;    // rmsprop: decay of the mean square
  bool centered = false;  // rmsprop: divide by the root of the variance instead of the mean square

  double momentum_or_default() const;
  double weight_decay_or_default() const;
};

// The training recipe a network file may carry ("training": {...}); command-line options override it.
// Class weights (training.class_weight; --class-weight; Python's class_weight): each row's loss multiplied
// by its class's weight (nn/loss.hpp, as torch.nn.CrossEntropyLoss(weight=) and BCELoss(weight=)).
// balanced: n / (K x the class's rows) over the training rows, scikit-learn's compute_class_weight("balanced");
// else the weight of each class named by its label as the data writes it (a class not named: 1). Empty: none
// (and not written to a file).
struct ClassWeightSpec {
  bool balanced = false;
  std::vector<std::pair<std::string, double>> labels;
  bool empty() const { return !balanced && labels.empty(); }
  bool operator==(const ClassWeightSpec&) const = default;
};

// The settings kept here as they are (epochs, batch_size, clip_grad_norm, early_stopping, validation_split,
// label_smoothing: `int epochs = 10;` ...) are declared by their entries in nn/setting_list.hpp, with their ranges
// and meaning; the others by hand.
// label_smoothing, softmax_ce only, in [0, 1): train against (1 - eps) y + eps / K instead of the one-hot y (K
// classes), torch.nn.CrossEntropyLoss(label_smoothing=eps); 0: off.
struct TrainingSpec {
#define BACKPROP_TRAINING_SPEC_FIELD(name, Type, initial, ...) Type name = initial;
#define BACKPROP_KEPT_ELSEWHERE(...)
  BACKPROP_TRAINING_SETTINGS(BACKPROP_TRAINING_SPEC_FIELD, BACKPROP_KEPT_ELSEWHERE)
#undef BACKPROP_TRAINING_SPEC_FIELD
#undef BACKPROP_KEPT_ELSEWHERE
  ScheduleSpec schedule;               // learning rate per step (schedule.hpp)
  ScalingKind scale = ScalingKind::none;  // feature scaling fitted on the training data
  ClassWeightSpec class_weight;        // classification only
};

struct NetworkSpec {
  int input = 0;
  std::vector<LayerSpec> layers;
  LossKind loss = LossKind::mse;
  OptimizerSpec optimizer;
  std::uint64_t seed = 1;
  InitializerSpec initializer;
  TrainingSpec training;

  int output() const { return layers.empty() ? 0 : layers.back().units; }
  int layer_input(std::size_t layer) const { return layer == 0 ? input : layers[layer - 1].units; }
  std::vector<LayerArray> arrays(std::size_t layer) const;
  bool has(LayerKind kind) const;
};

// A number that float32 holds as a finite value (|v| <= 3.4028235e38): training runs in float32, so a
// learning rate, a weight or any setting beyond it is bad input (a weight of 1e39 would be inf).
bool fits_float(double v);

// Throws Error(bad_input) naming what is wrong ("layers[1].weights: ..."): units < 1, softmax anywhere
// but last, a loss that does not fit the output activation (bce needs sigmoid, softmax_ce needs softmax),
// weights or bias of the wrong shape, numbers beyond float32's range, a dropout outside [0, 1), a
// training.label_smoothing outside [0, 1) or not 0 with a loss other than softmax_ce.
void validate(const NetworkSpec& spec);
// Throws Error(bad_input) "optimizer.momentum: expected ..." for an unknown type or a setting out of range:
// learning_rate > 0; momentum, beta1, beta2, alpha in [0, 1) (nesterov: momentum > 0, as torch demands);
// epsilon > 0 (0 would divide 0 by 0 where a gradient stays 0); weight_decay >= 0; all within float32's range.
void validate(const OptimizerSpec& optimizer);

std::string_view to_string(Activation activation);
std::string_view to_string(LayerKind kind);
std::optional<LayerKind> parse_layer_kind(std::string_view name);
// How a summary names an entry (the command's info and gradcheck): a dense layer by its activation, another
// kind by its name.
std::string_view layer_label(const LayerSpec& layer);
// Entry `layer`'s settings as Python's Network.layers describes it: ("type", its kind's name) first for a kind
// other than dense, then its fields (dense: units, activation, slope for leaky_relu, dropout).
using LayerField = std::pair<std::string_view, std::variant<int, double, std::string_view>>;
std::vector<LayerField> layer_fields(const NetworkSpec& spec, std::size_t layer);
std::string_view to_string(LossKind loss);
std::string_view to_string(InitializerKind kind);
std::optional<Activation> parse_activation(std::string_view name);
std::optional<LossKind> parse_loss(std::string_view name);
std::optional<InitializerKind> parse_initializer(std::string_view name);
std::string_view to_string(OptimizerKind kind);
std::optional<OptimizerKind> parse_optimizer(std::string_view name);
// "sgd, momentum, nesterov, adam, adamw, rmsprop", "identity, sigmoid, ...": for messages that list the choices.
std::string optimizer_names();
std::string activation_names();
std::string loss_names();
std::string layer_kind_names();
// Whether the optimizer's rule reads the setting `key` of "optimizer" (torch.optim's: momentum for
// momentum, nesterov and rmsprop; beta1, beta2 for adam and adamw; epsilon for those and rmsprop; alpha and
// centered for rmsprop; learning_rate and weight_decay for all). A setting the rule does not read is refused
// where it is given (a network file's key, an option: --momentum, --beta1, ...), not silently without effect.
// Also the rules that use `key`, for messages and help ("momentum, nesterov and rmsprop"), and the words of the
// refusal, the file's and the option's: "expected no beta1 with the optimizer sgd, which does not use it (adam
// and adamw do)".
bool optimizer_uses(OptimizerKind kind, std::string_view key);
// Whether the rule's weight decay is decoupled from the gradient (adamw: p <- p (1 - lr wd) first) rather than
// an L2 term added to it (g <- g + wd p).
bool decoupled_weight_decay(OptimizerKind kind);
std::string optimizers_using(std::string_view key);
std::string expected_unused(OptimizerKind kind, std::string_view key);

// Classification when the loss is softmax_ce, or bce with one output (two classes); regression otherwise.
TaskKind task_of(const NetworkSpec& spec);
std::string_view to_string(TaskKind task);
std::optional<TaskKind> parse_task(std::string_view name);
// "classification, regression", or with `last` before the last name.
std::string task_names(std::string_view last = ", ");
// The classes of a classifying network: its outputs, 2 for one sigmoid output.
int class_count(const NetworkSpec& spec);

}  // namespace backprop
