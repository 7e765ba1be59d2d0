// The description of a network: what a network file holds, before any memory is allocated.
// Network<T> (network.hpp) is built from a NetworkSpec; io/network_file.hpp reads and writes one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace backprop {

enum class Activation { identity, sigmoid, tanh, relu, leaky_relu, softmax };
enum class LossKind { mse, bce, softmax_ce };

enum class InitializerKind {
  automatic,       // he_normal before relu and leaky_relu, xavier_uniform otherwise
  uniform,         // U(-scale, scale)
  xavier_uniform,  // U(-l, l), l = sqrt(6 / (IN + OUT))           (Glorot & Bengio 2010)
  xavier_normal,   // N(0, s^2), s = sqrt(2 / (IN + OUT))
  he_normal,       // N(0, s^2), s = sqrt(2 / IN)                   (He et al. 2015)
};

struct InitializerSpec {
  InitializerKind kind = InitializerKind::automatic;
  double scale = 0.05;  // uniform only
};

struct LayerSpec {
  int units = 0;
  Activation activation = Activation::sigmoid;
  double slope = 0.01;   // leaky_relu only
  double dropout = 0.0;  // probability of dropping each output in training (hidden layers)
  std::optional<InitializerSpec> initializer;  // overrides the network's
  std::vector<double> weights;  // (IN, OUT) row-major, or empty: filled by the initializer
  std::vector<double> bias;     // (OUT), or empty: zeros
};

struct OptimizerSpec {
  std::string type = "sgd";
  double learning_rate = 0.1;
};

struct NetworkSpec {
  int input = 0;
  std::vector<LayerSpec> layers;
  LossKind loss = LossKind::mse;
  OptimizerSpec optimizer;
  std::uint64_t seed = 1;
  InitializerSpec initializer;

  int output() const { return layers.empty() ? 0 : layers.back().units; }
  int layer_input(std::size_t layer) const { return layer == 0 ? input : layers[layer - 1].units; }
};

// Throws Error(bad_input) naming what is wrong ("layers[1].weights: ..."): units < 1, softmax anywhere
// but last, a loss that does not fit the output activation (bce needs sigmoid, softmax_ce needs softmax),
// weights or bias of the wrong shape, non-finite numbers, a dropout outside [0, 1).
void validate(const NetworkSpec& spec);

std::string_view to_string(Activation activation);
std::string_view to_string(LossKind loss);
std::string_view to_string(InitializerKind kind);
std::optional<Activation> parse_activation(std::string_view name);
std::optional<LossKind> parse_loss(std::string_view name);
std::optional<InitializerKind> parse_initializer(std::string_view name);

}  // namespace backprop
