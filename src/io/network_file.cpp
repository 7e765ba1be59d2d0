#include "backprop/io/network_file.hpp"

#include <cmath>
#include <climits>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "backprop/error.hpp"
#include "backprop/io/text.hpp"

namespace backprop::io {
namespace {

using Json = nlohmann::json;

// Reads one parsed document; every error names the JSON path of the offending value.
class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& path, const std::string& expected) const {
    throw_bad_input(source_ + ": " + path + ": " + expected);
  }

  void only_keys(const Json& object, const std::string& path, std::initializer_list<std::string_view> keys) const {
    const std::set<std::string_view> known(keys);
    for (const auto& item : object.items()) {
      if (!known.contains(item.key())) {
        std::string list;
        for (auto k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
        fail(path.empty() ? item.key() : path + "." + item.key(), "unknown key (expected one of: " + list + ")");
      }
    }
  }

  double number(const Json& value, const std::string& path) const {
    if (!value.is_number()) fail(path, "expected a number, got " + describe(value));
    const double v = value.get<double>();
    if (!std::isfinite(v)) fail(path, "expected a finite number");
    return v;
  }

  long long whole_number(const Json& value, const std::string& path, long long minimum) const {
    if (value.is_number_integer()) {
      const long long v = value.is_number_unsigned() && value.get<unsigned long long>() >
                                                            static_cast<unsigned long long>(LLONG_MAX)
                              ? LLONG_MAX
                              : value.get<long long>();
      if (v < minimum) fail(path, "expected a whole number >= " + std::to_string(minimum) + ", got " + value.dump());
      return v;
    }
    if (value.is_number_float()) {
      const double v = value.get<double>();
      if (std::isfinite(v) && v == std::floor(v) && v >= static_cast<double>(minimum) && v < 9.0e15)
        return static_cast<long long>(v);
    }
    fail(path, "expected a whole number >= " + std::to_string(minimum) + ", got " + describe(value));
  }

  std::string string(const Json& value, const std::string& path) const {
    if (!value.is_string()) fail(path, "expected a string, got " + describe(value));
    return value.get<std::string>();
  }

  std::vector<double> vector(const Json& value, const std::string& path, std::size_t size) const {
    if (!value.is_array() || value.size() != size)
      fail(path, "expected an array of " + std::to_string(size) + " numbers, got " + describe(value));
    std::vector<double> out;
    out.reserve(size);
    for (std::size_t i = 0; i < size; ++i) out.push_back(number(value[i], path + "[" + std::to_string(i) + "]"));
    return out;
  }

  // (rows, cols) row-major from an array of rows.
  std::vector<double> matrix(const Json& value, const std::string& path, std::size_t rows, std::size_t cols) const {
    const std::string shape = std::to_string(rows) + " rows of " + std::to_string(cols) + " numbers (IN x OUT)";
    if (!value.is_array() || value.size() != rows) fail(path, "expected " + shape + ", got " + describe(value));
    std::vector<double> out;
    out.reserve(rows * cols);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::string row_path = path + "[" + std::to_string(r) + "]";
      if (!value[r].is_array() || value[r].size() != cols)
        fail(row_path, "expected " + shape + ", got a row " + describe(value[r]));
      for (std::size_t c = 0; c < cols; ++c)
        out.push_back(number(value[r][c], row_path + "[" + std::to_string(c) + "]"));
    }
    return out;
  }

  InitializerSpec initializer(const Json& value, const std::string& path) const {
    InitializerSpec spec;
    const Json* type = &value;
    if (value.is_object()) {
      only_keys(value, path, {"type", "scale"});
      if (!value.contains("type")) fail(path + ".type", "missing");
      type = &value["type"];
      if (value.contains("scale")) spec.scale = number(value["scale"], path + ".scale");
    }
    const std::string name = string(*type, value.is_object() ? path + ".type" : path);
    const auto kind = parse_initializer(name);
    if (!kind)
      fail(path, "unknown initializer '" + name + "' (expected auto, uniform, xavier_uniform, xavier_normal, he_normal)");
    spec.kind = *kind;
    return spec;
  }

  static std::string describe(const Json& value) {
    if (value.is_array()) return "an array of " + std::to_string(value.size());
    if (value.is_object()) return "an object";
    if (value.is_string()) return "the string " + value.dump();
    if (value.is_null()) return "null";
    if (value.is_boolean()) return value.dump();
    return value.dump();
  }

 private:
  const std::string& source_;
};

}  // namespace

NetworkSpec read_network_file(const std::filesystem::path& path) {
  return parse_network(read_file(path), path.string());
}

NetworkSpec parse_network(std::string_view text, const std::string& source) {
  Json root;
  try {
    root = Json::parse(text.begin(), text.end());
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

  Reader reader(source);
  if (!root.is_object()) reader.fail("(top level)", "expected a JSON object with \"input\" and \"layers\"");
  reader.only_keys(root, "", {"input", "layers", "loss", "optimizer", "seed", "initializer"});

  NetworkSpec spec;
  if (!root.contains("input")) reader.fail("input", "missing (the number of inputs)");
  spec.input = static_cast<int>(std::min<long long>(reader.whole_number(root["input"], "input", 1), INT_MAX));
  if (!root.contains("layers")) reader.fail("layers", "missing (an array of layers)");
  const Json& layers = root["layers"];
  if (!layers.is_array() || layers.empty()) reader.fail("layers", "expected a non-empty array of layers");
  if (root.contains("initializer")) spec.initializer = reader.initializer(root["initializer"], "initializer");

  for (std::size_t l = 0; l < layers.size(); ++l) {
    const std::string path = "layers[" + std::to_string(l) + "]";
    const Json& layer = layers[l];
    if (!layer.is_object()) reader.fail(path, "expected an object with \"units\" and \"activation\"");
    reader.only_keys(layer, path, {"units", "activation", "slope", "dropout", "initializer", "weights", "bias"});
    LayerSpec layer_spec;
    if (!layer.contains("units")) reader.fail(path + ".units", "missing");
    layer_spec.units =
        static_cast<int>(std::min<long long>(reader.whole_number(layer["units"], path + ".units", 1), 1 << 24));
    if (!layer.contains("activation")) reader.fail(path + ".activation", "missing");
    const std::string activation = reader.string(layer["activation"], path + ".activation");
    const auto parsed = parse_activation(activation);
    if (!parsed)
      reader.fail(path + ".activation",
                  "unknown activation '" + activation + "' (expected identity, sigmoid, tanh, relu, leaky_relu, softmax)");
    layer_spec.activation = *parsed;
    if (layer.contains("slope")) layer_spec.slope = reader.number(layer["slope"], path + ".slope");
    if (layer.contains("dropout")) layer_spec.dropout = reader.number(layer["dropout"], path + ".dropout");
    if (layer.contains("initializer"))
      layer_spec.initializer = reader.initializer(layer["initializer"], path + ".initializer");
    const std::size_t in = l == 0 ? static_cast<std::size_t>(spec.input) : spec.layers.back().units;
    const std::size_t out = static_cast<std::size_t>(layer_spec.units);
    if (layer.contains("weights")) layer_spec.weights = reader.matrix(layer["weights"], path + ".weights", in, out);
    if (layer.contains("bias")) layer_spec.bias = reader.vector(layer["bias"], path + ".bias", out);
    spec.layers.push_back(std::move(layer_spec));
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
    reader.only_keys(optimizer, "optimizer", {"type", "learning_rate"});
    if (optimizer.contains("type")) {
      spec.optimizer.type = reader.string(optimizer["type"], "optimizer.type");
      if (spec.optimizer.type != "sgd") reader.fail("optimizer.type", "unknown optimizer '" + spec.optimizer.type + "' (expected sgd)");
    }
    if (optimizer.contains("learning_rate"))
      spec.optimizer.learning_rate = reader.number(optimizer["learning_rate"], "optimizer.learning_rate");
  }
  if (root.contains("seed")) spec.seed = static_cast<std::uint64_t>(reader.whole_number(root["seed"], "seed", 0));

  try {
    validate(spec);
  } catch (const Error& e) {
    throw_bad_input(source + ": " + e.what());
  }
  return spec;
}

std::string network_to_json(const NetworkSpec& spec) {
  auto initializer_json = [](const InitializerSpec& init) {
    Json j = {{"type", std::string(to_string(init.kind))}};
    if (init.kind == InitializerKind::uniform) j["scale"] = init.scale;
    return j;
  };
  Json root;
  root["input"] = spec.input;
  Json layers = Json::array();
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    const LayerSpec& layer = spec.layers[l];
    Json j;
    j["units"] = layer.units;
    j["activation"] = std::string(to_string(layer.activation));
    if (layer.activation == Activation::leaky_relu) j["slope"] = layer.slope;
    if (layer.dropout > 0) j["dropout"] = layer.dropout;
    if (layer.initializer) j["initializer"] = initializer_json(*layer.initializer);
    if (!layer.weights.empty()) {
      const std::size_t out = static_cast<std::size_t>(layer.units);
      Json rows = Json::array();
      for (std::size_t r = 0; r * out < layer.weights.size(); ++r)
        rows.push_back(std::vector<double>(layer.weights.begin() + r * out, layer.weights.begin() + (r + 1) * out));
      j["weights"] = std::move(rows);
    }
    if (!layer.bias.empty()) j["bias"] = layer.bias;
    layers.push_back(std::move(j));
  }
  root["layers"] = std::move(layers);
  root["loss"] = std::string(to_string(spec.loss));
  root["optimizer"] = {{"type", spec.optimizer.type}, {"learning_rate", spec.optimizer.learning_rate}};
  root["seed"] = spec.seed;
  root["initializer"] = initializer_json(spec.initializer);
  return root.dump(1) + "\n";
}

}  // namespace backprop::io
