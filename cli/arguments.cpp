#include <string>

#include "backprop/error.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/io/text.hpp"
#include "commands.hpp"

namespace backprop::cli {

std::string architecture(const NetworkSpec& spec) {
  std::string text = std::to_string(spec.input);
  for (const auto& layer : spec.layers) text += "-" + std::to_string(layer.units);
  return text;
}

std::optional<LossKind> loss_option(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return parse_loss(text);  // the option's CLI::IsMember check has already refused unknown names
}

void add_device_option(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device,
                  "Where the math runs: cpu or cuda (default: $BACKPROP_DEVICE, else cuda when a GPU is present and "
                  "this backprop has CUDA, else cpu)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
}

CLI::Validator finite_number(const std::string& expected, bool (*accept)(double)) {
  return CLI::Validator(
      [expected, accept](std::string& text) -> std::string {
        const auto value = io::parse_double(text);
        if (!value || !accept(*value)) return "expected " + expected + ", got '" + text + "'";
        return "";
      },
      "NUMBER");
}

NetworkSpec read_network_or_model(const std::string& path) {
  // A JSON file (a network file or a model export) is read with its numbers as written, in double; a
  // binary model holds float32 parameters.
  const std::string text = io::read_file(path);
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') return io::parse_network(text, path);
  return io::load_model(path).network;
}

TaskKind task_of(const NetworkSpec& spec) {
  if (spec.loss == LossKind::softmax_ce || (spec.loss == LossKind::bce && spec.output() == 1))
    return TaskKind::classification;
  return TaskKind::regression;
}

std::vector<std::string> classes_for(const NetworkSpec& spec, const std::string& data_path,
                                     const std::vector<std::string>& model_classes) {
  if (!model_classes.empty()) return model_classes;
  // IDX and NPY labels are class indices; anything else is read as CSV, whose labels are collected.
  const bool indexed_labels = data_path.find("idx") != std::string::npos ||
                              data_path.find(".npy") != std::string::npos;
  if (!indexed_labels || task_of(spec) != TaskKind::classification) return {};
  const int classes = spec.output() == 1 ? 2 : spec.output();
  std::vector<std::string> names;
  for (int c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return names;
}

Dataset load_for_network(const NetworkSpec& spec, const std::string& data, const std::string& labels,
                         const std::string& target, const std::vector<std::string>& model_classes,
                         bool target_optional) {
  LoadOptions options;
  options.task = task_of(spec);
  options.target = target;
  options.known_classes = classes_for(spec, data, model_classes);
  options.expected_features = spec.input;
  options.target_optional = target_optional;
  Dataset dataset =
      load_dataset(data, labels.empty() ? std::nullopt : std::optional<std::filesystem::path>(labels), options);
  if (options.task == TaskKind::classification && !dataset.class_names.empty()) {
    const std::size_t expected = spec.output() == 1 ? 2 : static_cast<std::size_t>(spec.output());
    if (dataset.class_names.size() != expected) {
      std::string names;
      for (std::size_t i = 0; i < dataset.class_names.size() && i < 12; ++i)
        names += (i ? ", " : "") + dataset.class_names[i];
      throw_bad_input(data + ": the data has " + std::to_string(dataset.class_names.size()) + " classes (" + names +
                      (dataset.class_names.size() > 12 ? ", ..." : "") + ") but the network's output layer has " +
                      std::to_string(spec.output()) + " unit(s), which makes " + std::to_string(expected) +
                      " classes");
    }
  }
  if (options.task == TaskKind::regression && dataset.target_count != 0 && dataset.target_count != spec.output())
    throw_bad_input(data + ": " + std::to_string(dataset.target_count) + " target column(s) but the network has " +
                    std::to_string(spec.output()) + " output(s)");
  return dataset;
}

}  // namespace backprop::cli
