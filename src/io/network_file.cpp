#include "backprop/data/scaling.hpp"
#include "backprop/io/network_file.hpp"

#include "backprop/io/model_file.hpp"

#include <algorithm>
#include <cmath>
#include <climits>
#include <limits>
#include <set>
#include <span>
#include <type_traits>
#include <variant>

#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/base/read_file.hpp"
#include "backprop/nn/settings.hpp"
#include "network_json.hpp"

namespace backprop::io {
namespace {

using Json = nlohmann::json;
using detail::Reader;

// "class_weight": "balanced" or {"LABEL": weight, ...} (weights finite and >= 0).
ClassWeightSpec read_class_weight(const Reader& reader, const Json& value) {
  ClassWeightSpec weights;
  if (value.is_string() && value.get<std::string>() == "balanced") {
    weights.balanced = true;
    return weights;
  }
  if (!value.is_object() || value.empty())
    reader.fail("training.class_weight", "expected \"balanced\" or an object of weights by class label like "
                                         "{\"yes\": 5, \"no\": 1}");
  for (const auto& item : value.items()) {
    const double w = reader.number(item.value(), "training.class_weight." + item.key());
    if (!(w >= 0) || !fits_float(w)) reader.fail("training.class_weight." + item.key(), "expected a weight >= 0");
    weights.labels.emplace_back(item.key(), w);
  }
  return weights;
}

// The "training" keys: the settings kept in TrainingSpec as they are (nn/setting_list.hpp), then the schedule,
// the scaling and the class weights.
std::vector<std::string_view> training_keys() {
  std::vector<std::string_view> keys;
  for (const SettingDeclaration& setting : declared_settings()) {
    if (!setting.file_key.starts_with("training.")) continue;
    std::string_view key = setting.file_key.substr(9);
    key = key.substr(0, key.find('.'));  // "schedule" of "training.schedule.warmup"
    if (std::ranges::find(keys, key) == keys.end()) keys.push_back(key);
  }
  return keys;
}

// A setting kept in TrainingSpec, read from "training": an int as a whole number in its range, a float as a
// number in its range or its default ("0: no clipping").
void read_training_setting(const Reader& reader, const Json& value, const SettingDeclaration& setting,
                           TrainingSpec& t) {
  const std::string path = "training." + std::string(setting.key);
  std::visit(
      [&](auto member) {
        using Member = decltype(member);
        if constexpr (!std::is_same_v<Member, std::monostate>) {
          using Value = std::remove_reference_t<decltype(t.*member)>;
          const Value initial = TrainingSpec{}.*member;
          const SettingRange& range = setting.range;
          if constexpr (std::is_integral_v<Value>) {
            const auto lowest = static_cast<long long>(range.minimum_open ? range.minimum + 1 : range.minimum);
            const long long v = reader.whole_number(value, path, std::min<long long>(lowest, initial));
            if (std::isfinite(range.maximum) && v > static_cast<long long>(range.maximum))
              reader.fail(path, "expected at most " + std::to_string(static_cast<long long>(range.maximum)));
            t.*member = static_cast<Value>(v);
          } else {
            const double v = reader.number(value, path);
            if (!(range.contains(v) || v == initial))
              reader.fail(path, "expected " + std::string(setting.file_expected.empty() ? setting.expected
                                                                                       : setting.file_expected));
            t.*member = v;
          }
        }
      },
      setting.member);
}

// The "optimizer" keys but "type": the optimizer's coefficients of the list (nn/setting_list.hpp), in its order.
std::span<const std::string_view> optimizer_keys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> out;
    for (const SettingDeclaration& setting : declared_settings())
      if (!setting.optimizer_key().empty()) out.push_back(setting.optimizer_key());
    return out;
  }();
  return keys;
}

// An optimizer's coefficient, read into its field of the spec (the setting's in_spec): a number, or true or
// false for a switch. Its range is validate(OptimizerSpec)'s, once the optimizer is read.
void read_optimizer_setting(const Reader& reader, const Json& value, const SettingDeclaration& setting,
                            NetworkSpec& spec) {
  const std::string path = "optimizer." + std::string(setting.optimizer_key());
  if (setting.in_spec == nullptr) throw_runtime_error(path + ": no field of the spec to read it into");
  std::visit(
      [&](auto field) {
        using Field = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<Field, bool>) {
          if (!value.is_boolean()) reader.fail(path, "expected true or false, got " + Reader::describe(value));
          *field = value.get<bool>();
        } else if constexpr (std::is_same_v<Field, double> || std::is_same_v<Field, std::optional<double>>) {
          *field = reader.number(value, path);
        } else {
          throw_runtime_error(path + ": an optimizer's coefficient is a number or a switch");
        }
      },
      setting.in_spec(spec));
}

// "training": {the settings of training_keys(), "schedule": "cosine" | {"type", "warmup", "step_size",
// "gamma", "min_learning_rate", "pct_start", "div_factor", "final_div_factor"}, "scale", "class_weight"}
TrainingSpec read_training(const Reader& reader, const Json& value) {
  TrainingSpec t;
  if (!value.is_object()) reader.fail("training", "expected an object like {\"epochs\": 10, \"batch_size\": 32}");
  const std::vector<std::string_view> keys = training_keys();
  reader.only_keys(value, "training", {}, keys);
  if (value.contains("class_weight")) t.class_weight = read_class_weight(reader, value["class_weight"]);
  for (const SettingDeclaration& setting : declared_settings())
    if (setting.member.index() != 0 && value.contains(std::string(setting.key)))
      read_training_setting(reader, value[std::string(setting.key)], setting, t);
  if (value.contains("scale")) {
    const std::string name = reader.string(value["scale"], "training.scale");
    const auto kind = parse_scaling(name);
    if (!kind) reader.fail("training.scale", "unknown scaling '" + name + "' (expected none, standard, minmax)");
    t.scale = *kind;
  }
  if (value.contains("schedule")) {
    const Json& schedule = value["schedule"];
    const Json* type = &schedule;
    std::string path = "training.schedule";
    if (schedule.is_object()) {
      reader.only_keys(schedule, path,
                       {"type", "warmup", "step_size", "gamma", "min_learning_rate", "pct_start", "div_factor",
                        "final_div_factor"});
      if (!schedule.contains("type")) reader.fail(path + ".type", "missing");
      type = &schedule["type"];
      path += ".type";
      if (schedule.contains("warmup"))
        t.schedule.warmup_steps = reader.whole_number(schedule["warmup"], "training.schedule.warmup", 0);
      if (schedule.contains("step_size"))
        t.schedule.step_size = reader.whole_number(schedule["step_size"], "training.schedule.step_size", 0);
      if (schedule.contains("gamma")) t.schedule.gamma = reader.number(schedule["gamma"], "training.schedule.gamma");
      if (schedule.contains("min_learning_rate"))
        t.schedule.min_learning_rate =
            reader.number(schedule["min_learning_rate"], "training.schedule.min_learning_rate");
      for (const auto& [key, field] : {std::pair{"pct_start", &ScheduleSpec::pct_start},
                                       std::pair{"div_factor", &ScheduleSpec::div_factor},
                                       std::pair{"final_div_factor", &ScheduleSpec::final_div_factor}})
        if (schedule.contains(key)) t.schedule.*field = reader.number(schedule[key], path + "." + key);
    }
    const std::string name = reader.string(*type, path);
    const auto kind = parse_schedule(name);
    if (!kind) reader.fail(path, "unknown schedule '" + name + "' (expected " + schedule_names() + ")");
    t.schedule.kind = *kind;
    try {
      validate(t.schedule);
    } catch (const Error& e) {
      reader.fail("training", e.what());
    }
  }
  return t;
}

Json training_json(const TrainingSpec& t) {
  Json schedule = {{"type", std::string(to_string(t.schedule.kind))}, {"warmup", t.schedule.warmup_steps}};
  if (t.schedule.kind == ScheduleKind::step) {
    schedule["step_size"] = t.schedule.step_size;
    schedule["gamma"] = t.schedule.gamma;
  }
  if (t.schedule.kind == ScheduleKind::cosine) schedule["min_learning_rate"] = t.schedule.min_learning_rate;
  if (t.schedule.kind == ScheduleKind::one_cycle) {
    schedule["pct_start"] = t.schedule.pct_start;
    schedule["div_factor"] = t.schedule.div_factor;
    schedule["final_div_factor"] = t.schedule.final_div_factor;
  }
  Json training = {{"schedule", schedule}, {"scale", std::string(to_string(t.scale))}};
  // The settings kept in TrainingSpec: a new one only when set, so that a model, a checkpoint's run and an MPI
  // rank's settings without it stay byte for byte what they were before the key existed.
  for (const SettingDeclaration& setting : declared_settings())
    std::visit(
        [&](auto member) {
          if constexpr (!std::is_same_v<decltype(member), std::monostate>)
            if (setting.always_written || t.*member != TrainingSpec{}.*member)
              training[std::string(setting.key)] = t.*member;
        },
        setting.member);
  if (t.class_weight.balanced) training["class_weight"] = "balanced";
  for (const auto& [label, weight] : t.class_weight.labels) training["class_weight"][label] = weight;
  return training;
}

}  // namespace

NetworkSpec read_network_file(const std::filesystem::path& path) {
  return parse_network(read_file(path, model_size_limit(path.string())), path.string());
}

NetworkSpec parse_network(std::string_view text, const std::string& source) {
  const Json root = detail::parse_json_document(text, source);
  const bool is_model_export = root.is_object() && root.contains("format");
  return detail::network_from_json(root, source,
                                   is_model_export ? std::span<const std::string_view>(detail::kModelJsonKeys)
                                                   : std::span<const std::string_view>());
}

namespace {

// The loss a network file's JSON names; mse (the spec's default) when it names none or none known.
LossKind named_loss(const Json& root) {
  if (root.is_object() && root.contains("loss") && root["loss"].is_string())
    if (const auto loss = parse_loss(root["loss"].get<std::string>())) return *loss;
  return LossKind::mse;
}

}  // namespace

NetworkTemplate network_template(const std::filesystem::path& path) {
  NetworkTemplate out;
  const std::string text = read_file(path, model_size_limit(path.string()));
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{') return out;  // a binary model: read_model's to read
  const Json root = detail::parse_json_document(text, path.string());
  out.open = root.is_object() && !root.contains("input") && !root.contains("format");
  out.loss = named_loss(root);
  return out;
}

NetworkSpec read_network_for_table(const std::filesystem::path& path, const Dataset& data) {
  Json root = detail::parse_json_document(read_file(path, model_size_limit(path.string())), path.string());
  root["input"] = data.features;
  if (root.contains("layers") && root["layers"].is_array() && !root["layers"].empty() &&
      root["layers"].back().is_object() && !root["layers"].back().contains("units")) {
    const auto classes = static_cast<int>(data.class_names.size());
    int units = data.target_count;
    if (data.task == TaskKind::classification) units = named_loss(root) == LossKind::bce && classes == 2 ? 1 : classes;
    root["layers"].back()["units"] = units;
  }
  return detail::network_from_json(root, path.string(), {});
}

std::optional<detail::DuplicateKey> detail::first_duplicate_key(std::string_view text) {
  // One set of keys per open object (null for an array); a string is a key when it follows '{' or, in an
  // object, ','. Keys are compared decoded, so "\u0061" and "a" are one key.
  std::vector<std::optional<std::set<std::string>>> open;
  bool expect_key = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\0') break;  // nlohmann's parser ends the document at a NUL byte (found by fuzz_model)
    if (c == '{' || c == '[') {
      open.emplace_back(c == '{' ? std::optional<std::set<std::string>>(std::in_place) : std::nullopt);
      expect_key = c == '{';
    } else if (c == '}' || c == ']') {
      if (!open.empty()) open.pop_back();
      expect_key = false;
    } else if (c == ',') {
      expect_key = !open.empty() && open.back().has_value();
    } else if (c == '"') {
      std::size_t end = i + 1;
      while (end < text.size() && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
      if (end >= text.size()) break;
      if (expect_key && !open.empty() && open.back()) {
        const auto key = Json::parse(text.substr(i, end + 1 - i)).get<std::string>();  // a string parse accepted
        if (!open.back()->insert(key).second) return DuplicateKey{key, i};
      }
      expect_key = false;
      i = end;
    }
  }
  return std::nullopt;
}

Json detail::parse_json_document(std::string_view text, const std::string& source) {
  try {
    Json document = Json::parse(text.begin(), text.end());
    if (const auto duplicate = first_duplicate_key(text)) {
      const auto where = position_of(text, duplicate->offset);
      throw_bad_input(source + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                      ": duplicate key '" + quoted_excerpt(duplicate->key) + "' (expected each key once in an object)");
    }
    return document;
  } catch (const Json::parse_error& e) {
    // e.byte is the 1-based count of bytes read when the error was found; 0 before any.
    const auto where = position_of(text, e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    if (const auto p = what.find("syntax error"); p != std::string::npos) what = what.substr(p);
    throw_bad_input(source + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " + what);
  } catch (const Json::exception& e) {
    // A number too large for a double ("1e999") is a well-formed token that nlohmann refuses as out_of_range.
    std::string what = e.what();
    if (const auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    throw_bad_input(source + ": " + what + " (expected finite numbers)");
  }
}


NetworkSpec detail::network_from_json(const Json& root, const std::string& source,
                                      std::span<const std::string_view> extra_keys) {
  Reader reader(source);
  if (!root.is_object()) reader.fail("(top level)", "expected a JSON object with \"input\" and \"layers\"");
  reader.only_keys(root, "", {"input", "layers", "loss", "optimizer", "seed", "initializer", "training"}, extra_keys);

  NetworkSpec spec;
  if (!root.contains("input")) reader.fail("input", "missing (the number of inputs)");
  spec.input = static_cast<int>(std::min<long long>(reader.whole_number(root["input"], "input", 1), INT_MAX));
  if (!root.contains("layers")) reader.fail("layers", "missing (an array of layers)");
  const Json& layers = root["layers"];
  if (!layers.is_array() || layers.empty()) reader.fail("layers", "expected a non-empty array of layers");
  // Each layer costs its bookkeeping however small (docs/reliability.md has the measurement): a cap far above
  // any network this trains well, as the parameter cap below is.
  if (layers.size() > kMaxNetworkLayers)
    reader.fail("layers", "expected at most " + std::to_string(kMaxNetworkLayers) + " layers, got " +
                              std::to_string(layers.size()));
  if (root.contains("initializer")) spec.initializer = reader.initializer(root["initializer"], "initializer");

  for (std::size_t l = 0; l < layers.size(); ++l) {
    const std::string path = "layers[" + std::to_string(l) + "]";
    const Json& layer = layers[l];
    if (!layer.is_object()) reader.fail(path, "expected an object with \"units\" and \"activation\"");
    const int in = l == 0 ? spec.input : spec.layers.back().units;
    LayerKind kind = LayerKind::dense;
    if (layer.contains("type")) {
      const std::string type = reader.string(layer["type"], path + ".type");
      const auto parsed = parse_layer_kind(type);
      if (!parsed) reader.fail(path + ".type", "unknown layer type '" + type + "' (expected " + layer_kind_names() + ")");
      kind = *parsed;
    }
    spec.layers.push_back(with_layer_kind(kind, [&](auto k) {
      return detail::LayerFileForm<decltype(k)::value>::read(reader, layer, path, in);
    }));
  }
  // A file of a few bytes must not make the program allocate without bound (found by tests/fuzz/fuzz_model:
  // {"input": 2147483647, "layers": [{"units": 16777216, ...}]} asked for 2^55 parameters): refused here,
  // before anything holds the parameters, with the first layer that passes the limit.
  std::uint64_t parameters = 0;
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    for (const LayerArray& array : spec.arrays(l)) parameters += array.size;  // each < 2^55: no overflow
    if (parameters > kMaxNetworkParameters)
      reader.fail("layers[" + std::to_string(l) + "].units",
                  "expected a network of at most " + std::to_string(kMaxNetworkParameters) +
                      " parameters, got " + std::to_string(parameters) + " up to this layer (input " +
                      std::to_string(spec.input) + ")");
  }

  spec.loss = spec.layers.back().activation == Activation::softmax ? LossKind::softmax_ce : LossKind::mse;
  if (root.contains("loss")) {
    const std::string loss = reader.string(root["loss"], "loss");
    const auto parsed = parse_loss(loss);
    if (!parsed) reader.fail("loss", "unknown loss '" + loss + "' (expected mse, bce, softmax_ce)");
    spec.loss = *parsed;
  }
  if (root.contains("optimizer")) {
    const Json& optimizer = root["optimizer"];
    if (!optimizer.is_object()) reader.fail("optimizer", "expected an object like {\"type\": \"sgd\", \"learning_rate\": 0.1}");
    reader.only_keys(optimizer, "optimizer", {"type"}, optimizer_keys());
    if (optimizer.contains("type")) {
      const std::string type = reader.string(optimizer["type"], "optimizer.type");
      const auto kind = parse_optimizer(type);
      if (!kind) reader.fail("optimizer.type", "unknown optimizer '" + type + "' (expected " + optimizer_names() + ")");
      spec.optimizer.type = *kind;
    }
    for (const SettingDeclaration& setting : declared_settings()) {
      const std::string key(setting.optimizer_key());
      if (!key.empty() && optimizer.contains(key)) read_optimizer_setting(reader, optimizer[key], setting, spec);
    }
    const OptimizerSpec& o = spec.optimizer;
    // A network file's setting that its optimizer would not read is refused, as the option is. A model's
    // header keeps what it was trained with (an --optimizer given over a file's type left that file's
    // settings beside it), so that every model saved so far still loads.
    if (extra_keys.empty()) {
      for (const auto& item : optimizer.items())
        if (!optimizer_uses(o.type, item.key()))
          reader.fail("optimizer." + item.key(), expected_unused(o.type, item.key()));
    }
  }
  if (root.contains("seed")) spec.seed = reader.seed(root["seed"], "seed");
  if (root.contains("training")) spec.training = read_training(reader, root["training"]);

  try {
    validate(spec);
  } catch (const Error& e) {
    throw_bad_input(source + ": " + e.what());
  }
  return spec;
}

// The settings the type uses, and any other that differs from its default, so that the file reads back to
// the same spec and shows what the optimizer ran with: a coefficient with a default of its own (beta1) when the
// type uses it or it differs, one whose default depends on the type (momentum) when set, a switch (centered)
// when on.
static Json optimizer_json(const OptimizerSpec& optimizer) {
  NetworkSpec spec, defaults;
  spec.optimizer = optimizer;
  Json j = {{"type", std::string(to_string(optimizer.type))}};
  for (const SettingDeclaration& setting : declared_settings()) {
    const std::string key(setting.optimizer_key());
    if (key.empty()) continue;
    std::visit(
        [&](auto field, auto initial) {
          using Field = std::remove_pointer_t<decltype(field)>;
          if constexpr (!std::is_same_v<Field, std::remove_pointer_t<decltype(initial)>>) {
            throw_runtime_error("optimizer." + key + ": the spec's field and its default's differ");
          } else if constexpr (std::is_same_v<Field, bool>) {
            if (*field) j[key] = true;
          } else if constexpr (std::is_same_v<Field, std::optional<double>>) {
            if (*field) j[key] = **field;
          } else {
            if (optimizer_uses(optimizer.type, key) || *field != *initial) j[key] = *field;
          }
        },
        setting.in_spec(spec), setting.in_spec(defaults));
  }
  return j;
}

Json detail::matrix_json(const std::vector<double>& values, std::size_t columns) {
  Json rows = Json::array();
  for (std::size_t r = 0; r * columns < values.size(); ++r)
    rows.push_back(std::vector<double>(values.begin() + r * columns, values.begin() + (r + 1) * columns));
  return rows;
}

Json detail::initializer_json(const InitializerSpec& initializer) {
  Json j = {{"type", std::string(to_string(initializer.kind))}};
  if (initializer.kind == InitializerKind::uniform) j["scale"] = initializer.scale;
  return j;
}

std::string network_to_json(const NetworkSpec& spec) {
  Json root;
  root["input"] = spec.input;
  Json layers = Json::array();
  for (std::size_t l = 0; l < spec.layers.size(); ++l)
    layers.push_back(with_layer_kind(spec.layers[l].kind, [&](auto k) {
      return detail::LayerFileForm<decltype(k)::value>::write(spec, l);
    }));
  root["layers"] = std::move(layers);
  root["loss"] = std::string(to_string(spec.loss));
  root["optimizer"] = optimizer_json(spec.optimizer);
  root["seed"] = spec.seed;
  root["initializer"] = detail::initializer_json(spec.initializer);
  root["training"] = training_json(spec.training);
  return root.dump(1) + "\n";
}

}  // namespace backprop::io
