// The network file (JSON, docs/contracts.md):
//   {"input": 4,
//    "layers": [{"units": 2, "activation": "sigmoid", "weights": [[...4 rows of 2...]], "bias": [0.1, 0.1]}, ...],
//    "loss": "mse", "optimizer": {"type": "sgd", "learning_rate": 0.1}, "seed": 1,
//    "initializer": "auto" | {"type": "uniform", "scale": 0.05}}
// Per layer also "slope" (leaky_relu), "dropout", "initializer". Defaults: loss softmax_ce after a softmax
// layer and mse otherwise; optimizer sgd with learning rate 0.1; seed 1; initializer auto.
// "optimizer" also takes "momentum", "beta1", "beta2", "epsilon", "weight_decay", "alpha", "centered" (the
// optimizer's settings of nn/setting_list.hpp, each a command flag and a Python keyword too) and the types sgd,
// momentum, nesterov, adam, adamw, rmsprop (OptimizerSpec in nn/spec.hpp: meanings, defaults).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "backprop/data/dataset.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop::io {

// The most parameters (weights and biases, all layers) a network file may declare: 2^24, 64 MiB of float32,
// far past what trains on a CPU in reasonable time. A larger one is refused as bad input naming the layer,
// rather than allocated (a model holds them in double while it is read).
inline constexpr std::uint64_t kMaxNetworkParameters = std::uint64_t{1} << 24;
// The most layers a network file may declare (docs/reliability.md).
inline constexpr std::size_t kMaxNetworkLayers = 1000;

// Throws Error(bad_input) "FILE:LINE:COLUMN: syntax error: ..." for malformed JSON and
// "FILE: layers[1].weights: expected ..." for a well-formed file that is not a valid network.
NetworkSpec read_network_file(const std::filesystem::path& path);
NetworkSpec parse_network(std::string_view text, const std::string& source);

// A network file for a table as it comes (docs/tables.md) may leave "input" out, and the last layer's
// "units": the data gives them. open: the file leaves "input" out; loss: the loss it names (mse when none),
// which says the task the table is read for.
struct NetworkTemplate {
  bool open = false;
  LossKind loss = LossKind::mse;
};
NetworkTemplate network_template(const std::filesystem::path& path);
// The file read with "input" the data's inputs and, where the last layer has no "units", as many as the data's
// classes (softmax_ce; bce: 1 for two classes) or targets (mse) make. Errors as read_network_file's.
NetworkSpec read_network_for_table(const std::filesystem::path& path, const Dataset& data);

// The spec as a network file that parse_network reads back to the same spec (numbers round-trip).
std::string network_to_json(const NetworkSpec& spec);

}  // namespace backprop::io
