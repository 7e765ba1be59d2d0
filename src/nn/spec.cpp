#include "backprop/nn/spec.hpp"

#include <array>
#include <cfloat>
#include <cmath>
#include <utility>

#include "backprop/base/error.hpp"
#include "backprop/nn/embedding.hpp"

namespace backprop {

// Below FLT_MAX plus half its ulp (2^103): what rounds to a finite float, as FLT_MAX printed with 9 digits
// (3.40282347e+38, a little above it) does.
bool fits_float(double v) { return std::isfinite(v) && std::fabs(v) < 0x1.ffffffp+127; }

namespace {

constexpr const char* kFloatRange = " within float32's range (magnitude at most 3.4028235e+38)";

constexpr std::array<std::pair<LossKind, std::string_view>, 3> kLosses{{
    {LossKind::mse, "mse"},
    {LossKind::bce, "bce"},
    {LossKind::softmax_ce, "softmax_ce"},
}};
constexpr std::array<std::pair<InitializerKind, std::string_view>, 5> kInitializers{{
    {InitializerKind::automatic, "auto"},
    {InitializerKind::uniform, "uniform"},
    {InitializerKind::xavier_uniform, "xavier_uniform"},
    {InitializerKind::xavier_normal, "xavier_normal"},
    {InitializerKind::he_normal, "he_normal"},
}};
constexpr std::array<std::pair<OptimizerKind, std::string_view>, 6> kOptimizers{{
    {OptimizerKind::sgd, "sgd"},
    {OptimizerKind::momentum, "momentum"},
    {OptimizerKind::nesterov, "nesterov"},
    {OptimizerKind::adam, "adam"},
    {OptimizerKind::adamw, "adamw"},
    {OptimizerKind::rmsprop, "rmsprop"},
}};

template <typename Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& table, Enum value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "?";
}

template <typename Enum, std::size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& table, std::string_view name) {
  for (const auto& [v, n] : table)
    if (n == name) return v;
  return std::nullopt;
}

bool all_finite(const std::vector<double>& values) {
  for (double v : values)
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace

std::string_view to_string(Activation activation) { return kActivationNames[static_cast<int>(activation)].name; }
std::string_view to_string(LossKind loss) { return name_of(kLosses, loss); }
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
  const LayerSpec& layer = spec.layers[l];
  switch (layer.kind) {
    case LayerKind::dense: {
      std::vector<LayerField> fields{{"units", layer.units}, {"activation", to_string(layer.activation)}};
      if (layer.activation == Activation::leaky_relu) fields.push_back({"slope", layer.slope});
      fields.push_back({"dropout", layer.dropout});
      return fields;
    }
    case LayerKind::batch_norm:
      return {{"type", to_string(layer.kind)}, {"units", layer.units}, {"momentum", layer.momentum}, {"eps", layer.eps}};
    case LayerKind::embedding:
      return {{"type", to_string(layer.kind)},
              {"units", layer.units},
              {"input", layer.column},
              {"categories", layer.categories},
              {"dim", layer.units - spec.layer_input(l) + 1}};
  }
  return {};
}

std::vector<LayerArray> NetworkSpec::arrays(std::size_t layer) const {
  return layer_arrays(layers[layer], layer_input(layer));
}

std::vector<LayerArray> layer_arrays(const LayerSpec& layer, int in) {
  const auto out = static_cast<std::size_t>(layer.units);
  switch (layer.kind) {
    case LayerKind::dense:
      return {{&LayerSpec::weights, static_cast<std::size_t>(in) * out, "weights", true, out},
              {&LayerSpec::bias, out, "bias", true}};
    case LayerKind::batch_norm:
      return {{&LayerSpec::weights, out, "scale", true},
              {&LayerSpec::bias, out, "shift", true},
              {&LayerSpec::running_mean, out, "running_mean", false},
              {&LayerSpec::running_var, out, "running_var", false}};
    case LayerKind::embedding: {
      const std::size_t dim = out - static_cast<std::size_t>(in) + 1;
      return {{&LayerSpec::weights, static_cast<std::size_t>(layer.categories) * dim, "weights", true, dim}};
    }
  }
  return {};
}

bool NetworkSpec::has(LayerKind kind) const {
  for (const LayerSpec& layer : layers)
    if (layer.kind == kind) return true;
  return false;
}
std::string_view to_string(InitializerKind kind) { return name_of(kInitializers, kind); }
std::optional<Activation> parse_activation(std::string_view name) {
  for (const ActivationName& entry : kActivationNames)
    if (entry.name == name) return entry.kind;
  return std::nullopt;
}
std::optional<LossKind> parse_loss(std::string_view name) { return value_of(kLosses, name); }
std::optional<InitializerKind> parse_initializer(std::string_view name) { return value_of(kInitializers, name); }
std::string_view to_string(OptimizerKind kind) { return name_of(kOptimizers, kind); }
std::optional<OptimizerKind> parse_optimizer(std::string_view name) { return value_of(kOptimizers, name); }

namespace {
template <typename Table>
std::string names_of(const Table& table) {
  std::string names;
  for (const auto& [kind, name] : table) names += (names.empty() ? "" : ", ") + std::string(name);
  return names;
}
}  // namespace

std::string optimizer_names() { return names_of(kOptimizers); }
std::string activation_names() {
  std::string names;
  for (const ActivationName& entry : kActivationNames) names += (names.empty() ? "" : ", ") + std::string(entry.name);
  return names;
}
std::string loss_names() { return names_of(kLosses); }
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
  for (const auto& [kind, name] : kOptimizers)
    if (optimizer_uses(kind, key)) names.emplace_back(name);
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i)
    text += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  return text;
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

void validate(const OptimizerSpec& optimizer) {
  const OptimizerKind kind = optimizer.type;
  auto in_unit_interval = [](double v) { return v >= 0.0 && v < 1.0; };  // false for NaN
  if (!(optimizer.learning_rate > 0.0 && std::isfinite(optimizer.learning_rate)))
    throw_bad_input("optimizer.learning_rate: expected a positive number");
  // The update runs in float32: a setting past its range is bad input, not an overflow while training.
  for (const auto& [name, value] : {std::pair{"learning_rate", optimizer.learning_rate},
                                    std::pair{"epsilon", optimizer.epsilon},
                                    std::pair{"weight_decay", optimizer.weight_decay_or_default()}})
    if (std::isfinite(value) && !fits_float(value))
      throw_bad_input(std::string("optimizer.") + name + ": expected a number" + kFloatRange + ", got " +
                      std::to_string(value));
  if (!in_unit_interval(optimizer.momentum_or_default()))
    throw_bad_input("optimizer.momentum: expected a number in [0, 1)");
  if (kind == OptimizerKind::nesterov && !(optimizer.momentum_or_default() > 0.0))
    throw_bad_input("optimizer.momentum: expected a number in (0, 1) for nesterov");
  if (!in_unit_interval(optimizer.beta1)) throw_bad_input("optimizer.beta1: expected a number in [0, 1)");
  if (!in_unit_interval(optimizer.beta2)) throw_bad_input("optimizer.beta2: expected a number in [0, 1)");
  if (!(optimizer.epsilon > 0.0 && std::isfinite(optimizer.epsilon)))
    throw_bad_input("optimizer.epsilon: expected a positive number");
  if (!(optimizer.weight_decay_or_default() >= 0.0 && std::isfinite(optimizer.weight_decay_or_default())))
    throw_bad_input("optimizer.weight_decay: expected a number >= 0");
  if (!in_unit_interval(optimizer.alpha)) throw_bad_input("optimizer.alpha: expected a number in [0, 1)");
}

namespace {

// A batch_norm entry (LayerSpec): what it normalizes fixes its units, and it has no weights of its own shape.
void validate_batch_norm(const NetworkSpec& spec, std::size_t l, const std::string& where) {
  const LayerSpec& layer = spec.layers[l];
  if (l + 1 == spec.layers.size())
    throw_bad_input(where + ": batch_norm cannot be the last entry (the output layer is dense: the loss reads "
                            "its activation)");
  if (layer.units != spec.layer_input(l))
    throw_bad_input(where + ".units: expected " + std::to_string(spec.layer_input(l)) +
                    " (batch_norm keeps the width of what it normalizes), got " + std::to_string(layer.units));
  if (layer.activation != Activation::identity || layer.dropout != 0.0 || layer.initializer)
    throw_bad_input(where + ": batch_norm takes no activation, dropout or initializer");
  if (!(layer.momentum >= 0.0 && layer.momentum <= 1.0))
    throw_bad_input(where + ".momentum: expected a number in [0, 1]");
  if (!(layer.eps > 0.0 && fits_float(layer.eps))) throw_bad_input(where + ".eps: expected a positive number");
  for (const LayerArray& array : spec.arrays(l)) {
    const std::vector<double>& values = layer.*array.member;
    if (!values.empty() && values.size() != array.size)
      throw_bad_input(where + "." + std::string(array.key) + ": expected " + std::to_string(array.size) +
                      " numbers, got " + std::to_string(values.size()));
    if (!all_finite(values)) throw_bad_input(where + "." + std::string(array.key) + ": expected finite numbers");
  }
  for (double v : layer.running_var)
    if (v < 0.0) throw_bad_input(where + ".running_var: expected numbers >= 0");
}

void validate_layer(const NetworkSpec& spec, std::size_t l) {
  const LayerSpec& layer = spec.layers[l];
  const std::string where = "layers[" + std::to_string(l) + "]";
  if (layer.units < 1)
    throw_bad_input(where + ".units: expected a number of units >= 1, got " + std::to_string(layer.units));
  switch (layer.kind) {
    case LayerKind::batch_norm:
      return validate_batch_norm(spec, l, where);
    case LayerKind::embedding:
      return validate_embedding(spec, l, where);
    case LayerKind::dense:
      break;
  }
  if (layer.activation == Activation::softmax && l + 1 != spec.layers.size())
    throw_bad_input(where + ".activation: softmax is allowed only in the last layer");
  // One unit's softmax is exp(z) / exp(z) = 1 whatever z: its gradient is 0 and no loss can learn from it.
  if (layer.activation == Activation::softmax && layer.units == 1)
    throw_bad_input(where + ".units: expected at least 2 units for softmax (one unit's softmax is always 1, so "
                            "nothing can be learnt; for two classes use one sigmoid unit with bce), got 1");
  if (!std::isfinite(layer.slope)) throw_bad_input(where + ".slope: expected a finite number");
  if (!(layer.dropout >= 0.0 && layer.dropout < 1.0))
    throw_bad_input(where + ".dropout: expected a probability in [0, 1)");
  if (layer.initializer && !(layer.initializer->scale > 0.0 && std::isfinite(layer.initializer->scale)))
    throw_bad_input(where + ".initializer.scale: expected a positive number");
  const std::size_t in = static_cast<std::size_t>(spec.layer_input(l));
  const std::size_t out = static_cast<std::size_t>(layer.units);
  if (!layer.weights.empty() && layer.weights.size() != in * out)
    throw_bad_input(where + ".weights: expected " + std::to_string(in) + " rows of " + std::to_string(out) +
                    " numbers (IN x OUT)");
  if (!layer.bias.empty() && layer.bias.size() != out)
    throw_bad_input(where + ".bias: expected " + std::to_string(out) + " numbers, got " +
                    std::to_string(layer.bias.size()));
  if (!all_finite(layer.weights)) throw_bad_input(where + ".weights: expected finite numbers");
  if (!all_finite(layer.bias)) throw_bad_input(where + ".bias: expected finite numbers");
}

}  // namespace

void validate(const NetworkSpec& spec) {
  if (spec.input < 1) throw_bad_input("input: expected a number of inputs >= 1, got " + std::to_string(spec.input));
  if (spec.layers.empty()) throw_bad_input("layers: expected at least one layer");
  for (std::size_t l = 0; l < spec.layers.size(); ++l) validate_layer(spec, l);
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
