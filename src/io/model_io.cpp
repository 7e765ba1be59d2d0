// Reading a network or a model for the front-ends; building a trained network's model.
#include "backprop/io/model_io.hpp"

#include "backprop/nn/spec.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/base/read_file.hpp"

namespace backprop::io {

LoadedModel read_model(const std::filesystem::path& path) {
  const std::string bytes = read_file(path, model_size_limit(path.string()));
  LoadedModel loaded;
  loaded.model = load_model_bytes(bytes, path.string());
  // A JSON file is read a second time for its numbers as written (a network file's parameters in double,
  // not rounded to float32; the weights it leaves out still empty), so that a trace of it matches the file.
  const auto first = bytes.find_first_not_of(" \t\r\n");
  const bool json = first != std::string::npos && bytes[first] == '{';
  loaded.exact_network = json ? parse_network(bytes, path.string()) : loaded.model.network;
  loaded.task = task_of(loaded.model.network);
  return loaded;
}

ModelFile build_model(const Network<float>& trained, const Scaling& scaling, const Dataset& train_data) {
  ModelFile model;
  model.network = trained.spec_with_parameters();
  model.scaling = scaling;
  model.classes = train_data.class_names;
  model.targets = train_data.target_names;
  model.features = train_data.feature_names;
  model.trained = true;
  model.byte_inputs = !train_data.features_u8.empty();
  model.table = train_data.table;
  return model;
}

}  // namespace backprop::io

namespace backprop {

std::string architecture(const NetworkSpec& spec) {
  std::string text = std::to_string(spec.input);
  for (const auto& layer : spec.layers) {
    text += '-';
    text += std::to_string(layer.units);
  }
  return text;
}

}  // namespace backprop
