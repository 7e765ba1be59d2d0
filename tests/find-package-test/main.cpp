// Trains the tutorial's seed network (examples/seed.json, built here through NetworkSpec) for 10 plain SGD
// steps through the C++ API, and checks that:
//  - the first step's loss is the trace's, 0.06937370282921486 (the PyTorch float64 reference in
//    tests/data/seed_reference.json), and backprop::trace computes the same figure;
//  - the loss falls at every step, and the output moves toward the target 1.
// Exit code 0 when every check holds, 1 otherwise.
#include <cmath>
#include <cstdio>
#include <vector>

#include "backprop/nn/network.hpp"
#include "backprop/nn/optimizer.hpp"
#include "backprop/nn/spec.hpp"
#include "backprop/nn/trace.hpp"

namespace {

backprop::LayerSpec sigmoid_layer(int units, std::vector<double> weights, std::vector<double> bias) {
  backprop::LayerSpec layer;
  layer.units = units;
  layer.activation = backprop::Activation::sigmoid;
  layer.weights = std::move(weights);  // (IN, OUT) row-major
  layer.bias = std::move(bias);
  return layer;
}

int failures = 0;
void check(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

}  // namespace

int main() {
  backprop::NetworkSpec spec;  // 4-2-3-1, sigmoid everywhere, MSE, SGD with learning rate 0.1
  spec.input = 4;
  spec.layers = {sigmoid_layer(2, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}, {0.1, 0.1}),
                 sigmoid_layer(3, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, {0.1, 0.1, 0.1}),
                 sigmoid_layer(1, {0.1, 0.2, 0.3}, {0.1})};
  spec.loss = backprop::LossKind::mse;
  const std::vector<double> x = {1, 2, 3, 4};  // (B = 1, IN = 4)
  const std::vector<double> y = {1};           // (B = 1, OUT = 1)

  backprop::Network<double> network(spec);
  backprop::Workspace<double> workspace(network, 1);
  backprop::Optimizer<double> sgd(spec.optimizer, network.parameters().size());
  std::vector<double> losses, outputs;
  for (int step = 0; step < 10; ++step) {
    network.forward(workspace, x.data(), 1);
    losses.push_back(network.loss_value(workspace, y.data(), 1));
    outputs.push_back(network.output(workspace)[0]);
    network.backward(workspace, x.data(), y.data(), 1);  // overwrites the gradient arena
    sgd.step(network.parameters(), network.gradients(), spec.optimizer.learning_rate);
    std::printf("step %2d  loss %.15f  output %.15f\n", step + 1, losses.back(), outputs.back());
  }

  backprop::TraceOptions options;
  options.input = x;
  options.target = y;
  const backprop::Trace trace = backprop::trace(spec, options);
  const double reference = 0.06937370282921486;  // PyTorch, float64
  check(std::abs(losses[0] - reference) < 1e-12, "first loss matches the PyTorch reference 0.0693737028292149");
  check(std::abs(trace.steps[0].loss - losses[0]) < 1e-15, "backprop::trace gives the same first loss");
  bool falls = true, approaches = true;
  for (std::size_t i = 1; i < losses.size(); ++i) {
    falls = falls && losses[i] < losses[i - 1];
    approaches = approaches && outputs[i] > outputs[i - 1] && outputs[i] < 1.0;
  }
  check(falls, "the loss falls at every step");
  check(approaches, "the output moves toward the target 1 at every step");
  return failures == 0 ? 0 : 1;
}
