#include "backprop/nn/spec.hpp"

#include <array>
#include <cfloat>
#include <cmath>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "backprop/base/error.hpp"
#include "backprop/nn/settings.hpp"
#include "base/kind_names.hpp"
#include "nn/layer_spec_part.hpp"

namespace backprop {

using detail::name_of;
using detail::names_of;
using detail::value_of;

// Below FLT_MAX plus half its ulp (2^103): what rounds to a finite float, as FLT_MAX printed with 9 digits
// (3.40282347e+38, a little above it) does.
bool fits_float(double v) { return std::isfinite(v) && std::fabs(v) < 0x1.ffffffp+127; }

namespace {

constexpr const char* kFloatRange = " within float32's range (magnitude at most 3.4028235e+38)";

}  // namespace

bool detail::all_finite(const std::vector<double>& values) {
  for (double v : values)
    if (!std::isfinite(v)) return false;
  return true;
}

std::string_view to_string(Activation activation) { return name_of(kActivationNames, activation); }
std::string_view to_string(LossKind loss) { return name_of(kLossNames, loss); }
std::string_view to_string(LayerKind kind) { return layer_kind_entry(kind).name; }
std::optional<LayerKind> parse_layer_kind(std::string_view name) {
  for (const LayerKindEntry& entry : kLayerKinds)
    if (entry.name == name) return entry.kind;
  return std::nullopt;
}
std::string_view layer_label(const LayerSpec& layer) {
  return layer.kind == LayerKind::dense ? to_string(layer.activation) : to_string(layer.kind);
}

std::vector<LayerField> layer_fields(const NetworkSpec& spec, std::size_t l) {
  return with_layer_kind(spec.layers[l].kind,
                         [&](auto k) { return detail::LayerSpecPart<decltype(k)::value>::fields(spec, l); });
}

std::vector<LayerArray> NetworkSpec::arrays(std::size_t layer) const {
  return layer_arrays(layers[layer], layer_input(layer));
}

std::vector<LayerArray> layer_arrays(const LayerSpec& layer, int in) {
  return with_layer_kind(layer.kind,
                         [&](auto k) { return detail::LayerSpecPart<decltype(k)::value>::arrays(layer, in); });
}

bool NetworkSpec::has(LayerKind kind) const {
  for (const LayerSpec& layer : layers)
    if (layer.kind == kind) return true;
  return false;
}
std::string_view to_string(InitializerKind kind) { return name_of(kInitializerNames, kind); }
std::optional<Activation> parse_activation(std::string_view name) { return value_of(kActivationNames, name); }
std::optional<LossKind> parse_loss(std::string_view name) { return value_of(kLossNames, name); }
std::optional<InitializerKind> parse_initializer(std::string_view name) { return value_of(kInitializerNames, name); }
std::string_view to_string(OptimizerKind kind) { return name_of(kOptimizerNames, kind); }
std::optional<OptimizerKind> parse_optimizer(std::string_view name) { return value_of(kOptimizerNames, name); }

std::string_view to_string(TaskKind task) { return name_of(kTaskNames, task); }
std::optional<TaskKind> parse_task(std::string_view name) { return value_of(kTaskNames, name); }
std::string task_names(std::string_view last) { return names_of(kTaskNames, last); }

std::string optimizer_names() { return names_of(kOptimizerNames); }
std::string activation_names() { return names_of(kActivationNames); }
std::string loss_names() { return names_of(kLossNames); }
std::string layer_kind_names() {
  std::string names;
  for (const LayerKindEntry& entry : kLayerKinds) names += (names.empty() ? "" : ", ") + std::string(entry.name);
  return names;
}

bool optimizer_uses(OptimizerKind kind, std::string_view key) {
  if (key == "learning_rate" || key == "weight_decay" || key == "type") return true;
  switch (kind) {
    case OptimizerKind::sgd:
      return false;
    case OptimizerKind::momentum:
    case OptimizerKind::nesterov:
      return key == "momentum";
    case OptimizerKind::adam:
    case OptimizerKind::adamw:
      return key == "beta1" || key == "beta2" || key == "epsilon";
    case OptimizerKind::rmsprop:
      return key == "momentum" || key == "alpha" || key == "epsilon" || key == "centered";
  }
  return false;
}

std::string optimizers_using(std::string_view key) {
  std::vector<std::string> names;
  for (const auto& [kind, name] : kOptimizerNames)
    if (optimizer_uses(kind, key)) names.emplace_back(name);
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i)
    text += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  return text;
}

std::string expected_unused(OptimizerKind kind, std::string_view key) {
  return "expected no " + std::string(key) + " with the optimizer " + std::string(to_string(kind)) +
         ", which does not use it (" + optimizers_using(key) + " do)";
}

bool decoupled_weight_decay(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::adamw: return true;
    case OptimizerKind::sgd:
    case OptimizerKind::momentum:
    case OptimizerKind::nesterov:
    case OptimizerKind::adam:
    case OptimizerKind::rmsprop: return false;
  }
  return false;
}

double OptimizerSpec::momentum_or_default() const {
  if (momentum) return *momentum;
  switch (type) {
    case OptimizerKind::momentum:
    case OptimizerKind::nesterov: return 0.9;
    case OptimizerKind::rmsprop:  // torch's RMSprop default
    case OptimizerKind::sgd:
    case OptimizerKind::adam:
    case OptimizerKind::adamw: return 0.0;
  }
  return 0.0;
}

double OptimizerSpec::weight_decay_or_default() const {
  if (weight_decay) return *weight_decay;
  return decoupled_weight_decay(type) ? 0.01 : 0.0;  // torch's AdamW default, else none
}

// Each coefficient against its range and words in the list of training settings (nn/setting_list.hpp), which
// the options are checked against too; nesterov's momentum above 0 besides.
void validate(const OptimizerSpec& optimizer) {
  NetworkSpec holder;
  holder.optimizer = optimizer;
  for (const SettingDeclaration& setting : declared_settings()) {
    if (setting.optimizer_key().empty() || setting.in_spec == nullptr) continue;
    const std::string path = "optimizer." + std::string(setting.optimizer_key());
    std::visit(
        [&](auto field) {
          using Field = std::remove_pointer_t<decltype(field)>;
          double value = 0;
          if constexpr (std::is_same_v<Field, double>)
            value = *field;
          else if constexpr (std::is_same_v<Field, std::optional<double>>)
            value = field->value_or(0.0);  // unset: the type's default, in range
          else
            return;  // a switch
          if (!setting.range.contains(value)) throw_bad_input(path + ": expected " + std::string(setting.expected));
          // The update runs in float32: a setting past its range is bad input, not an overflow while training.
          if (!fits_float(value))
            throw_bad_input(path + ": expected a number" + kFloatRange + ", got " + std::to_string(value));
        },
        setting.in_spec(holder));
  }
  if (optimizer.type == OptimizerKind::nesterov && !(optimizer.momentum_or_default() > 0.0))
    throw_bad_input("optimizer.momentum: expected a number in (0, 1) for nesterov");
}

void validate(const NetworkSpec& spec) {
  if (spec.input < 1) throw_bad_input("input: expected a number of inputs >= 1, got " + std::to_string(spec.input));
  if (spec.layers.empty()) throw_bad_input("layers: expected at least one layer");
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    const std::string where = "layers[" + std::to_string(l) + "]";
    if (spec.layers[l].units < 1)
      throw_bad_input(where + ".units: expected a number of units >= 1, got " + std::to_string(spec.layers[l].units));
    with_layer_kind(spec.layers[l].kind,
                    [&](auto k) { detail::LayerSpecPart<decltype(k)::value>::validate(spec, l, where); });
  }
  const Activation last = spec.layers.back().activation;
  if (spec.loss == LossKind::bce && last != Activation::sigmoid)
    throw_bad_input("loss: bce needs a sigmoid output layer, the last layer is " + std::string(to_string(last)));
  if (spec.loss == LossKind::softmax_ce && last != Activation::softmax)
    throw_bad_input("loss: softmax_ce needs a softmax output layer, the last layer is " +
                    std::string(to_string(last)));
  const double smoothing = spec.training.label_smoothing;
  if (!(smoothing >= 0.0 && smoothing < 1.0))
    throw_bad_input("training.label_smoothing: expected a number in [0, 1) (0: off)");
  if (smoothing != 0.0 && spec.loss != LossKind::softmax_ce)
    throw_bad_input("training.label_smoothing: expected 0 with the loss " + std::string(to_string(spec.loss)) +
                    " (label smoothing is for softmax_ce only)");
  validate(spec.optimizer);
  if (!(spec.initializer.scale > 0.0 && std::isfinite(spec.initializer.scale)))
    throw_bad_input("initializer.scale: expected a positive number");
}

TaskKind task_of(const NetworkSpec& spec) {
  if (spec.loss == LossKind::softmax_ce || (spec.loss == LossKind::bce && spec.output() == 1))
    return TaskKind::classification;
  return TaskKind::regression;
}

int class_count(const NetworkSpec& spec) { return spec.output() == 1 ? 2 : spec.output(); }

}  // namespace backprop
